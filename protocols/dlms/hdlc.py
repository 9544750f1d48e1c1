"""HDLC framing as DLMS uses it (IEC 62056-46): frame format type 3, CRC-16/X.25 checksums.

A frame is ``7E | format(2) | dest | src | control | HCS(2) | info | FCS(2) | 7E``. The format field
holds the frame type (0xA), the segmentation bit (more segments of the same APDU follow) and an
11-bit length counting everything between the flags. DLMS does not byte-stuff: the length field
delimits the frame, which is what lets us read the Aidon and Kaifa HAN ports that put raw 0x7D
and 0x7E inside the information field. Some captures are byte-stuffed nonetheless (async HDLC as
in RFC 1662); the parser takes the raw bytes when their length matches the length field, and
only otherwise tries un-stuffing.

Addresses are variable length (1, 2 or 4 bytes); the last byte has its low bit set. Server
addresses pack an upper (logical device) and a lower (physical) part; client addresses are one byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FrameError

FLAG = 0x7E
FORMAT_TYPE_3 = 0xA0
SEGMENTED = 0x08

# control fields (P/F bit 0x10 set where DLMS always sets it)
SNRM = 0x93
UA = 0x73
DISC = 0x53
DM = 0x1F
FRMR = 0x97
UI = 0x13


def _make_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc16(data: bytes) -> int:
    """CRC-16/X.25 (reflected poly 0x1021, init and xor-out 0xFFFF), as HCS and FCS use it."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def _crc_bytes(data: bytes) -> bytes:
    return crc16(data).to_bytes(2, "little")  # sent least significant byte first


# --- addresses ----------------------------------------------------------------------------------


def encode_client_address(address: int) -> bytes:
    if not 0 <= address <= 0x7F:
        raise ValueError("an HDLC client address is 7 bits")
    return bytes([(address << 1) | 1])


def encode_server_address(logical: int, physical: int | None = None, size: int | None = None) -> bytes:
    """1 byte (logical only), 2 bytes (7+7 bits) or 4 bytes (14+14 bits), smallest that fits."""
    if size is None:
        if physical is None:
            size = 1
        elif logical <= 0x7F and physical <= 0x7F:
            size = 2
        else:
            size = 4
    if size == 1:
        return bytes([(logical << 1) | 1])
    if size == 2:
        return bytes([(logical << 1) & 0xFE, ((physical or 0) << 1) | 1])
    upper, lower = logical, physical or 0
    return bytes([(upper >> 6) & 0xFE, (upper << 1) & 0xFE, (lower >> 6) & 0xFE, ((lower << 1) & 0xFE) | 1])


def decode_address(raw: bytes) -> tuple[int, int | None]:
    """(upper, lower) of an address field; lower is None for 1-byte addresses."""
    if len(raw) == 1:
        return raw[0] >> 1, None
    if len(raw) == 2:
        return raw[0] >> 1, raw[1] >> 1
    if len(raw) == 4:
        return ((raw[0] >> 1) << 7) | (raw[1] >> 1), ((raw[2] >> 1) << 7) | (raw[3] >> 1)
    raise FrameError(f"HDLC address of {len(raw)} bytes")


def _split_address(body: bytes, pos: int) -> tuple[bytes, int]:
    start = pos
    while pos < len(body):
        if body[pos] & 1:
            size = pos + 1 - start
            if size not in (1, 2, 4):
                raise FrameError(f"HDLC address of {size} bytes")
            return bytes(body[start : pos + 1]), pos + 1
        pos += 1
    raise FrameError("HDLC address without end bit")


# --- control field ------------------------------------------------------------------------------


def i_control(send_seq: int, recv_seq: int, final: bool = True) -> int:
    return ((recv_seq & 7) << 5) | (0x10 if final else 0) | ((send_seq & 7) << 1)


def rr_control(recv_seq: int) -> int:
    return ((recv_seq & 7) << 5) | 0x11


def is_i_frame(control: int) -> bool:
    return control & 1 == 0


def is_rr(control: int) -> bool:
    return control & 0x0F == 0x01


def control_name(control: int) -> str:
    if is_i_frame(control):
        return f"I(send={(control >> 1) & 7}, recv={control >> 5})"
    if is_rr(control):
        return f"RR(recv={control >> 5})"
    if control & 0x0F == 0x05:
        return f"RNR(recv={control >> 5})"
    names = {SNRM: "SNRM", UA: "UA", DISC: "DISC", DM: "DM", FRMR: "FRMR", UI: "UI", 0x03: "UI"}
    return names.get(control, f"0x{control:02x}")


# --- frames -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HdlcFrame:
    dest: bytes
    src: bytes
    control: int
    info: bytes = b""
    segmented: bool = False
    length_field: int = 0
    hcs_ok: bool | None = None  # None when the frame has no information field (no HCS)
    byte_stuffed: bool = False

    def describe(self) -> dict[str, object]:
        return {
            "layer": "hdlc",
            "frame_format": "type 3",
            "length_field": self.length_field,
            "segmented": self.segmented,
            "dest_address_hex": self.dest.hex(),
            "src_address_hex": self.src.hex(),
            "control": self.control,
            "control_name": control_name(self.control),
            "hcs_ok": self.hcs_ok,
            "fcs_ok": True,
            "byte_stuffed": self.byte_stuffed,
            "info_hex": self.info.hex(),
        }


def build_frame(dest: bytes, src: bytes, control: int, info: bytes = b"", segmented: bool = False) -> bytes:
    """One complete frame with both flags."""
    header_len = 2 + len(dest) + len(src) + 1
    length = header_len + (2 + len(info) if info else 0) + 2
    if length > 0x7FF:
        raise ValueError("HDLC frame too long for the 11-bit length field")
    fmt = bytes([FORMAT_TYPE_3 | (SEGMENTED if segmented else 0) | (length >> 8), length & 0xFF])
    header = fmt + dest + src + bytes([control])
    body = header + (_crc_bytes(header) + info if info else b"")
    return bytes([FLAG]) + body + _crc_bytes(body) + bytes([FLAG])


def _unstuff(data: bytes) -> bytes:
    out = bytearray()
    escape = False
    for byte in data:
        if escape:
            out.append(byte ^ 0x20)
            escape = False
        elif byte == 0x7D:
            escape = True
        else:
            out.append(byte)
    return bytes(out)


def parse_frame(raw: bytes) -> HdlcFrame:
    """Check and split one frame (flags optional). Raises :class:`FrameError` with the reason."""
    body = bytes(raw)
    if body[:1] == bytes([FLAG]):
        body = body[1:]
    if len(body) < 2:
        raise FrameError("HDLC frame too short")
    length = ((body[0] & 0x07) << 8) | body[1]
    if body[0] & 0xF0 != FORMAT_TYPE_3:
        raise FrameError(f"not an HDLC type 3 frame (format byte 0x{body[0]:02x})")
    stuffed = False
    if len(body) >= length + 1 and body[length] == FLAG:
        body = body[:length]
    elif len(body) == length:
        pass
    else:
        candidate = _unstuff(body.rstrip(bytes([FLAG])))
        if len(candidate) != length:
            raise FrameError(f"HDLC length field says {length} bytes, the frame has {len(body.rstrip(b'~'))}")
        body, stuffed = candidate, True
    if length < 7:
        raise FrameError(f"HDLC frame of {length} bytes is too short")
    fcs_calc, fcs_sent = crc16(body[:-2]), int.from_bytes(body[-2:], "little")
    if fcs_calc != fcs_sent:
        raise FrameError(f"HDLC FCS mismatch: frame says 0x{fcs_sent:04x}, computed 0x{fcs_calc:04x}")
    dest, pos = _split_address(body, 2)
    src, pos = _split_address(body, pos)
    control = body[pos]
    pos += 1
    hcs_ok: bool | None = None
    info = b""
    if pos < len(body) - 2:
        if pos + 2 > len(body) - 2:
            raise FrameError("HDLC frame truncated in the header check sequence")
        hcs_calc, hcs_sent = crc16(body[:pos]), int.from_bytes(body[pos : pos + 2], "little")
        if hcs_calc != hcs_sent:
            raise FrameError(f"HDLC HCS mismatch: frame says 0x{hcs_sent:04x}, computed 0x{hcs_calc:04x}")
        hcs_ok = True
        info = body[pos + 2 : -2]
    return HdlcFrame(dest, src, control, info, bool(body[0] & SEGMENTED), length, hcs_ok, stuffed)


def read_frame(transport, timeout: float | None = None) -> bytes:
    """Read one whole frame (flags included) from a transport, by its length field.

    Bytes before the opening flag are line noise and dropped; repeated flags (idle fill, or the
    shared flag between two frames) are skipped.
    """
    while True:
        byte = transport.read(1, timeout)
        if byte[0] == FLAG:
            break
    first = transport.read(1, timeout)
    while first[0] == FLAG:
        first = transport.read(1, timeout)
    if first[0] & 0xF0 != FORMAT_TYPE_3:
        raise FrameError(f"not an HDLC type 3 frame (format byte 0x{first[0]:02x})")
    second = transport.read(1, timeout)
    length = ((first[0] & 0x07) << 8) | second[0]
    if length < 7:
        raise FrameError(f"HDLC frame of {length} bytes is too short")
    rest = transport.read(length - 2 + 1, timeout)
    if rest[-1] != FLAG:
        raise FrameError("HDLC frame does not end with a flag where its length field says")
    return bytes([FLAG]) + first + second + rest
