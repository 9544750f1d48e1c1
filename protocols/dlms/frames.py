"""Decode whatever a DLMS meter put on the wire, layer by layer, for the inspector and push receivers.

The transport is recognised from the first bytes: ``7E`` HDLC, ``68`` wired M-Bus segments,
``00 01`` the IP wrapper, ``E6 E7 00`` (or ``E6 E6 00``) the LLC header HDLC adds in front of the
APDU on HAN ports, anything else a bare APDU. Ciphered APDUs are decrypted when keys are given
(a notification's system title is in its general-glo-ciphering header; service-specific ciphered
APDUs need ``system_title``). Values come out as exact decimal strings with units and OBIS codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import FrameError, ProtocolError
from ..results import Reading, ReadResult
from . import apdu as apdus
from . import axdr, hdlc, mbus, security, wrapper
from .lists import ListValue, decode_list

LLC_HEADERS = (b"\xe6\xe7\x00", b"\xe6\xe6\x00")


@dataclass
class DecodedApdu:
    """One application message after security: what it is, and its values if it carries a list."""

    description: dict[str, Any]
    plain_apdu: bytes
    ciphered: security.CipheredApdu | None = None
    notification: apdus.DataNotification | None = None
    values: list[ListValue] = field(default_factory=list)
    unlabelled: list[Any] = field(default_factory=list)
    error: str | None = None

    def to_read_result(self) -> ReadResult:
        """Readings for the numeric values, stamped with the notification's date-time."""
        stamp = (
            self.notification.date_time.to_datetime()
            if self.notification and self.notification.date_time
            else None
        )
        result = ReadResult(error=self.error)
        for value in self.values:
            reading = value.to_reading()
            if reading is not None:
                result.readings.append(
                    Reading(
                        reading.series, reading.value, reading.unit, stamp if stamp and stamp.tzinfo else None
                    )
                )
        if self.ciphered is not None:
            result.info["invocation_counter"] = self.ciphered.invocation_counter
            if self.ciphered.system_title:
                result.info["system_title"] = self.ciphered.system_title.hex()
        return result


def decode_apdu(raw: bytes, keys: security.SecurityKeys | None = None) -> DecodedApdu:
    """Decrypt (if needed and possible) and decode one APDU."""
    description: dict[str, Any] = {}
    ciphered = None
    plain = bytes(raw)
    if security.is_ciphered(plain):
        ciphered = security.parse_ciphered(plain)
        description["security"] = ciphered.describe()
        if keys is None or keys.encryption_key is None:
            description["apdu"] = ciphered.name
            return DecodedApdu(description, b"", ciphered, error="ciphered APDU: no key given, not decrypted")
        _, plain = security.decrypt_apdu(plain, keys)
        description["plain_apdu_hex"] = plain.hex()
    decoded = DecodedApdu(description, plain, ciphered)
    if not plain:
        raise FrameError("empty APDU")
    tag = plain[0]
    if tag == apdus.DATA_NOTIFICATION:
        notification = apdus.decode_data_notification(plain)
        decoded.notification = notification
        description.update(notification.describe())
        listing = decode_list(notification.body)
        decoded.values, decoded.unlabelled = listing.values, listing.unlabelled
        if listing.values:
            description["list_vendor"] = listing.vendor
            description["values"] = [v.to_jsonable() for v in listing.values]
            description["unlabelled_items"] = listing.unlabelled
        else:
            description["body"] = _describe_data(notification.body)
        return decoded
    if tag in (apdus.ARRAY_OR_INITIATE, apdus.STRUCTURE_TAG) or tag not in apdus.APDU_NAMES:
        try:
            value = axdr.decode_all(plain)
        except FrameError:
            if tag not in apdus.APDU_NAMES:
                raise FrameError(f"neither a known APDU nor A-XDR data (first byte 0x{tag:02x})") from None
        else:
            description["apdu"] = "a-xdr data (no APDU header)"
            description["data"] = _describe_data(value)
            return decoded
    description["apdu"] = apdus.APDU_NAMES[tag]
    if tag in (apdus.GET_RESPONSE, apdus.ACTION_RESPONSE) and len(plain) > 4:
        description["invoke_id_and_priority"] = plain[2]
        if plain[1] == 1 and plain[3] == 0 and tag == apdus.GET_RESPONSE:
            description["data"] = _describe_data(axdr.decode_all(plain[4:]))
        elif plain[1] == 1 and tag == apdus.GET_RESPONSE:
            description["data_access_result"] = plain[4]
    elif tag in (apdus.GET_REQUEST, apdus.SET_REQUEST, apdus.ACTION_REQUEST):
        request = apdus.decode_request(plain)
        description["request"] = request.kind
        description["invoke_id_and_priority"] = request.invoke_id
        if request.refs:
            from .obis import obis_iec

            ref = request.refs[0]
            description["class_id"] = ref.class_id
            description["obis"] = obis_iec(ref.instance)
            description["attribute_or_method"] = ref.attribute
    return decoded


def _describe_data(value: axdr.Data) -> dict[str, Any]:
    out: dict[str, Any] = {"type": value.type_name}
    if value.tag == axdr.OCTET_STRING:
        out["length"] = len(value.value)
        out["hex"] = value.value.hex()
    else:
        out["value"] = axdr.to_python(value)
    return out


@dataclass
class DecodedFrame:
    layers: list[dict[str, Any]]
    apdus: list[DecodedApdu]
    errors: list[str] = field(default_factory=list)

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "layers": self.layers,
            "apdus": [dict(a.description, **({"error": a.error} if a.error else {})) for a in self.apdus],
            "errors": self.errors,
        }


def _strip_llc(payload: bytes, layers: list[dict[str, Any]]) -> bytes:
    if payload[:3] in LLC_HEADERS:
        layers.append({"layer": "llc", "header_hex": payload[:3].hex()})
        return payload[3:]
    return payload


def decode_frame(raw: bytes, keys: security.SecurityKeys | None = None) -> DecodedFrame:
    """Decode one captured frame or stream; raises :class:`FrameError` for a rejected frame."""
    if not raw:
        raise FrameError("no bytes to decode")
    layers: list[dict[str, Any]] = []
    if raw[0] == hdlc.FLAG:
        frame = hdlc.parse_frame(raw)
        layers.append(frame.describe())
        payload = _strip_llc(frame.info, layers)
        decoded = DecodedFrame(layers, [])
        if payload:
            try:
                decoded.apdus.append(decode_apdu(payload, keys))
            except ProtocolError as exc:
                decoded.errors.append(f"information field is not a complete APDU: {exc.reason}")
        return decoded
    if raw[0] == mbus.START:
        frames = mbus.parse_frames(raw)
        decoded = DecodedFrame(layers, [])
        for push in mbus.reassemble(frames):
            layers.append(
                {
                    "layer": "mbus-wired",
                    "frames": [f.describe() for f in push.frames],
                    "complete": push.complete,
                }
            )
            if not push.complete:
                decoded.errors.append(
                    f"segment(s) without the start of their APDU (first byte {push.apdu[:1].hex()})"
                )
                continue
            try:
                decoded.apdus.append(decode_apdu(push.apdu, keys))
            except ProtocolError as exc:
                decoded.errors.append(exc.reason)
        return decoded
    if raw[:2] == b"\x00\x01" and len(raw) >= 8 and int.from_bytes(raw[6:8], "big") == len(raw) - 8:
        frame = wrapper.parse(raw)
        layers.append(frame.describe())
        return DecodedFrame(layers, [decode_apdu(frame.apdu, keys)])
    payload = _strip_llc(bytes(raw), layers)
    return DecodedFrame(layers, [decode_apdu(payload, keys)])
