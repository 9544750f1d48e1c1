"""DLMS/COSEM symmetric security (security suite 0: AES-128-GCM; the same for suite 1's APDUs).

A protected APDU carries a security header ``SC | IC(4)`` in front of its payload:

* SC, the security control byte: bit 0x10 authenticated, 0x20 encrypted, 0x40 broadcast key,
  0x80 compressed; the low nibble is the security suite.
* IC, the invocation counter of the sender: together with the sender's 8-byte system title it is
  the GCM initialisation vector (``IV = system_title | IC``), so it must never repeat under a key.
  Receivers reject a counter that is not greater than the last one seen (replay).

Authentication uses GCM's tag, cut to 12 bytes, over ``SC | AK`` (plus the plaintext when the APDU
is authenticated but not encrypted). Encryption without authentication is GCM without its tag:
AES in counter mode starting at the IV's second block, which is how the Austrian customer
interfaces (security control 0x20 / 0x21) send their pushes.

Two carriers exist: the *general* ciphering APDUs (``general-glo-ciphering`` 0xDB,
``general-ded-ciphering`` 0xDC) which name the sender's system title, and the service-specific
ones (``glo-get-request`` 0xC8 ... ``ded-action-response`` 0xD7) that rely on the system title
exchanged in the association.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import FrameError
from .axdr import decode_length, encode_length

AUTHENTICATED = 0x10
ENCRYPTED = 0x20
BROADCAST = 0x40
COMPRESSED = 0x80
TAG_LENGTH = 12

GENERAL_GLO_CIPHERING = 0xDB
GENERAL_DED_CIPHERING = 0xDC

# service-specific ciphered APDUs: ciphered tag -> (name, plain tag, dedicated key)
SERVICE_CIPHERED: dict[int, tuple[str, int, bool]] = {
    0x21: ("glo-initiate-request", 0x01, False),
    0x28: ("glo-initiate-response", 0x08, False),
    0xC8: ("glo-get-request", 0xC0, False),
    0xC9: ("glo-set-request", 0xC1, False),
    0xCA: ("glo-event-notification-request", 0xC2, False),
    0xCB: ("glo-action-request", 0xC3, False),
    0xCC: ("glo-get-response", 0xC4, False),
    0xCD: ("glo-set-response", 0xC5, False),
    0xCF: ("glo-action-response", 0xC7, False),
    0xD0: ("ded-get-request", 0xC0, True),
    0xD1: ("ded-set-request", 0xC1, True),
    0xD2: ("ded-event-notification-request", 0xC2, True),
    0xD3: ("ded-action-request", 0xC3, True),
    0xD4: ("ded-get-response", 0xC4, True),
    0xD5: ("ded-set-response", 0xC5, True),
    0xD7: ("ded-action-response", 0xC7, True),
}
GLO_TAG_FOR_PLAIN = {plain: tag for tag, (_, plain, ded) in SERVICE_CIPHERED.items() if not ded}
DED_TAG_FOR_PLAIN = {plain: tag for tag, (_, plain, ded) in SERVICE_CIPHERED.items() if ded}


@dataclass(frozen=True)
class SecurityKeys:
    """What a receiver needs: the sender's system title and the keys (bytes)."""

    encryption_key: bytes | None = None
    authentication_key: bytes = b""
    system_title: bytes | None = None


def describe_security_control(sc: int) -> dict[str, object]:
    return {
        "security_control": f"{sc:02x}",
        "authenticated": bool(sc & AUTHENTICATED),
        "encrypted": bool(sc & ENCRYPTED),
        "broadcast_key": bool(sc & BROADCAST),
        "compressed": bool(sc & COMPRESSED),
        "security_suite": sc & 0x0F,
    }


def _iv(system_title: bytes, invocation_counter: int) -> bytes:
    if len(system_title) != 8:
        raise FrameError(f"a system title is 8 bytes, got {len(system_title)}")
    return system_title + invocation_counter.to_bytes(4, "big")


def _gcm_tag(key: bytes, iv: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext, encryptor.tag[:TAG_LENGTH]


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """GCM's keystream without GCM's tag: counter mode from block J0 + 1."""
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv + b"\x00\x00\x00\x02")).encryptor()
    return cipher.update(data) + cipher.finalize()


def protect(
    security_control: int,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
    plaintext: bytes,
) -> bytes:
    """``SC | IC | payload`` for a plaintext APDU (payload = ciphertext and/or tag)."""
    if not 0 <= invocation_counter <= 0xFFFFFFFF:
        raise ValueError("the invocation counter is 32 bits")
    iv = _iv(system_title, invocation_counter)
    sc = bytes([security_control])
    header = sc + invocation_counter.to_bytes(4, "big")
    mode = security_control & (AUTHENTICATED | ENCRYPTED)
    if mode == AUTHENTICATED | ENCRYPTED:
        ciphertext, tag = _gcm_tag(encryption_key, iv, sc + authentication_key, plaintext)
        return header + ciphertext + tag
    if mode == AUTHENTICATED:
        _, tag = _gcm_tag(encryption_key, iv, sc + authentication_key + plaintext, b"")
        return header + plaintext + tag
    if mode == ENCRYPTED:
        return header + _ctr(encryption_key, iv, plaintext)
    return header + plaintext


def unprotect(
    security_control: int,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
    payload: bytes,
) -> bytes:
    """The plaintext of a payload; :class:`FrameError` when the tag does not verify."""
    iv = _iv(system_title, invocation_counter)
    sc = bytes([security_control])
    mode = security_control & (AUTHENTICATED | ENCRYPTED)
    if mode & AUTHENTICATED and len(payload) < TAG_LENGTH:
        raise FrameError("ciphered APDU shorter than its authentication tag")
    if mode == AUTHENTICATED | ENCRYPTED:
        ciphertext, tag = payload[:-TAG_LENGTH], payload[-TAG_LENGTH:]
        decryptor = Cipher(
            algorithms.AES(encryption_key), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)
        ).decryptor()
        decryptor.authenticate_additional_data(sc + authentication_key)
        try:
            return decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag:
            raise FrameError(
                "authentication tag mismatch (wrong key, system title or corrupted APDU)"
            ) from None
    if mode == AUTHENTICATED:
        plaintext, tag = payload[:-TAG_LENGTH], payload[-TAG_LENGTH:]
        _, expected = _gcm_tag(encryption_key, iv, sc + authentication_key + plaintext, b"")
        if expected != tag:
            raise FrameError("authentication tag mismatch (wrong key, system title or corrupted APDU)")
        return plaintext
    if mode == ENCRYPTED:
        return _ctr(encryption_key, iv, payload)
    return payload


def gmac(
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
    challenge: bytes,
    security_control: int = AUTHENTICATED,
) -> bytes:
    """HLS-GMAC (mechanism 5) answer to a challenge: ``SC | IC | tag(12)``."""
    iv = _iv(system_title, invocation_counter)
    sc = bytes([security_control])
    _, tag = _gcm_tag(encryption_key, iv, sc + authentication_key + challenge, b"")
    return sc + invocation_counter.to_bytes(4, "big") + tag


# --- ciphered APDU carriers -----------------------------------------------------------------------


@dataclass(frozen=True)
class CipheredApdu:
    tag: int
    name: str
    security_control: int
    invocation_counter: int
    payload: bytes
    system_title: bytes | None = None  # only the general-ciphering carriers name it
    length_field: int = 0

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {"apdu": self.name, "tag": f"{self.tag:02x}"}
        if self.system_title is not None:
            info["system_title"] = self.system_title.hex()
        info.update(describe_security_control(self.security_control))
        info["invocation_counter"] = self.invocation_counter
        info["ciphered_len_field"] = self.length_field
        return info


def is_ciphered(apdu: bytes) -> bool:
    return bool(apdu) and (
        apdu[0] in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING) or apdu[0] in SERVICE_CIPHERED
    )


def parse_ciphered(apdu: bytes) -> CipheredApdu:
    """Split a ciphered APDU into its header fields and payload (nothing decrypted yet)."""
    if not apdu:
        raise FrameError("empty APDU")
    tag = apdu[0]
    pos = 1
    system_title = None
    if tag in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING):
        name = "general-glo-ciphering" if tag == GENERAL_GLO_CIPHERING else "general-ded-ciphering"
        size, pos = decode_length(apdu, pos)
        system_title = bytes(apdu[pos : pos + size])
        pos += size
    elif tag in SERVICE_CIPHERED:
        name = SERVICE_CIPHERED[tag][0]
    else:
        raise FrameError(f"APDU tag 0x{tag:02x} is not a ciphered APDU")
    length, pos = decode_length(apdu, pos)
    if len(apdu) - pos != length:
        raise FrameError(f"ciphered APDU length field says {length} bytes, {len(apdu) - pos} present")
    if length < 5:
        raise FrameError("ciphered APDU too short for its security header")
    sc = apdu[pos]
    counter = int.from_bytes(apdu[pos + 1 : pos + 5], "big")
    return CipheredApdu(tag, name, sc, counter, bytes(apdu[pos + 5 :]), system_title, length)


def build_ciphered(tag: int, protected: bytes, system_title: bytes | None = None) -> bytes:
    """Wrap ``SC | IC | payload`` (from :func:`protect`) in a carrier APDU."""
    head = bytes([tag])
    if tag in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING):
        if system_title is None:
            raise ValueError("general ciphering names the system title")
        head += encode_length(len(system_title)) + system_title
    return head + encode_length(len(protected)) + protected


def decrypt_apdu(apdu: bytes, keys: SecurityKeys) -> tuple[CipheredApdu, bytes]:
    """Parse and decrypt a ciphered APDU with the sender's keys; returns (header, plaintext)."""
    header = parse_ciphered(apdu)
    title = header.system_title or keys.system_title
    if title is None:
        raise FrameError(f"{header.name} names no system title: pass the sender's system title")
    if header.security_control & (AUTHENTICATED | ENCRYPTED) and keys.encryption_key is None:
        raise FrameError(f"{header.name} is protected: an encryption key is needed")
    plaintext = unprotect(
        header.security_control,
        title,
        header.invocation_counter,
        keys.encryption_key or b"",
        keys.authentication_key,
        header.payload,
    )
    return header, plaintext
