"""xDLMS APDUs with logical-name referencing: what the simulator serves and the inspector shows.

Only the services we use are here: association (AARQ/AARE with the xDLMS InitiateRequest/Response
inside, RLRQ/RLRE), GET (normal, next block, with-list), SET and ACTION (normal), the exception
response and DataNotification. The ACSE part is BER (tag, length, value); the xDLMS part is A-XDR.
Encoders and decoders come in pairs so that tests can round-trip every message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import FrameError
from . import axdr
from .axdr import CosemDateTime, Data, decode_length, encode_length

# APDU tags
INITIATE_REQUEST = 0x01
INITIATE_RESPONSE = 0x08
CONFIRMED_SERVICE_ERROR = 0x0E
DATA_NOTIFICATION = 0x0F
AARQ = 0x60
AARE = 0x61
RLRQ = 0x62
RLRE = 0x63
GET_REQUEST = 0xC0
SET_REQUEST = 0xC1
EVENT_NOTIFICATION = 0xC2
ACTION_REQUEST = 0xC3
GET_RESPONSE = 0xC4
SET_RESPONSE = 0xC5
ACTION_RESPONSE = 0xC7
EXCEPTION_RESPONSE = 0xD8

APDU_NAMES = {
    INITIATE_REQUEST: "initiate-request",
    INITIATE_RESPONSE: "initiate-response",
    CONFIRMED_SERVICE_ERROR: "confirmed-service-error",
    DATA_NOTIFICATION: "data-notification",
    AARQ: "aarq",
    AARE: "aare",
    RLRQ: "rlrq",
    RLRE: "rlre",
    GET_REQUEST: "get-request",
    SET_REQUEST: "set-request",
    EVENT_NOTIFICATION: "event-notification-request",
    ACTION_REQUEST: "action-request",
    GET_RESPONSE: "get-response",
    SET_RESPONSE: "set-response",
    ACTION_RESPONSE: "action-response",
    EXCEPTION_RESPONSE: "exception-response",
}

# data-access-result / action-result codes we use
SUCCESS = 0
HARDWARE_FAULT = 1
TEMPORARY_FAILURE = 2
READ_WRITE_DENIED = 3
OBJECT_UNDEFINED = 4
OBJECT_UNAVAILABLE = 11
TYPE_UNMATCHED = 12
SCOPE_OF_ACCESS_VIOLATED = 13
NO_LONG_GET_OR_READ_IN_PROGRESS = 15
OTHER_REASON = 250

# application context names (1 = LN, 3 = LN with ciphering) and mechanism names (0..7)
_CONTEXT_PREFIX = bytes.fromhex("608574050801")
_MECHANISM_PREFIX = bytes.fromhex("608574050802")
MECHANISM_NONE, MECHANISM_LOW, MECHANISM_HLS_GMAC = 0, 1, 5


# --- BER helpers (ACSE) -------------------------------------------------------------------------


def ber_items(buf: bytes) -> list[tuple[int, bytes]]:
    """Split a BER-encoded sequence into (tag, value) pairs (one level)."""
    items = []
    pos = 0
    while pos < len(buf):
        tag = buf[pos]
        length, pos = decode_length(buf, pos + 1)
        if pos + length > len(buf):
            raise FrameError(f"BER element 0x{tag:02x} runs past the end of the APDU")
        items.append((tag, bytes(buf[pos : pos + length])))
        pos += length
    return items


def ber(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


# --- xDLMS Initiate -----------------------------------------------------------------------------


@dataclass
class InitiateRequest:
    conformance: int = 0
    max_receive_pdu: int = 0xFFFF
    dlms_version: int = 6
    dedicated_key: bytes | None = None

    def encode(self) -> bytes:
        out = bytearray([INITIATE_REQUEST])
        out += (
            b"\x00"
            if self.dedicated_key is None
            else b"\x01" + encode_length(len(self.dedicated_key)) + self.dedicated_key
        )
        out += b"\x00\x00"  # response-allowed default, no quality of service
        out += bytes([self.dlms_version]) + b"\x5f\x1f\x04\x00" + self.conformance.to_bytes(3, "big")
        out += self.max_receive_pdu.to_bytes(2, "big")
        return bytes(out)

    @classmethod
    def decode(cls, buf: bytes) -> InitiateRequest:
        if not buf or buf[0] != INITIATE_REQUEST:
            raise FrameError("not an xDLMS InitiateRequest")
        pos = 1
        key = None
        if buf[pos]:
            size, pos = decode_length(buf, pos + 1)
            key = bytes(buf[pos : pos + size])
            pos += size
        else:
            pos += 1
        if buf[pos]:  # response-allowed present
            pos += 1
        pos += 1
        if buf[pos]:  # quality of service present
            pos += 1
        pos += 1
        version = buf[pos]
        pos += 1
        if buf[pos : pos + 4] != b"\x5f\x1f\x04\x00":
            raise FrameError("InitiateRequest without conformance block")
        conformance = int.from_bytes(buf[pos + 4 : pos + 7], "big")
        max_pdu = int.from_bytes(buf[pos + 7 : pos + 9], "big")
        return cls(conformance, max_pdu, version, key)


def initiate_response(conformance: int, max_receive_pdu: int, dlms_version: int = 6) -> bytes:
    body = (
        bytes([INITIATE_RESPONSE, 0x00, dlms_version]) + b"\x5f\x1f\x04\x00" + conformance.to_bytes(3, "big")
    )
    return body + max_receive_pdu.to_bytes(2, "big") + b"\x00\x07"  # vaa-name 0x0007 for LN


# --- association --------------------------------------------------------------------------------


@dataclass
class Aarq:
    ciphered_context: bool = False
    mechanism: int = MECHANISM_NONE
    calling_ap_title: bytes | None = None
    authentication_value: bytes | None = None
    user_information: bytes = b""  # InitiateRequest, plain or glo-ciphered

    @classmethod
    def decode(cls, apdu: bytes) -> Aarq:
        if not apdu or apdu[0] != AARQ:
            raise FrameError("not an AARQ")
        length, pos = decode_length(apdu, 1)
        aarq = cls()
        for tag, value in ber_items(apdu[pos : pos + length]):
            if tag == 0xA1:
                name = ber_items(value)[0][1]
                if name[:6] != _CONTEXT_PREFIX:
                    raise FrameError("unknown application context")
                aarq.ciphered_context = name[6] in (3, 4)
            elif tag == 0xA6:
                aarq.calling_ap_title = ber_items(value)[0][1]
            elif tag == 0x8B:
                aarq.mechanism = value[-1]
            elif tag == 0xAC:
                aarq.authentication_value = ber_items(value)[0][1]
            elif tag == 0xBE:
                aarq.user_information = ber_items(value)[0][1]
        return aarq


def encode_aare(
    *,
    result: int,
    diagnostic: int,
    ciphered_context: bool,
    mechanism: int,
    responding_ap_title: bytes | None,
    authentication_value: bytes | None,
    user_information: bytes,
) -> bytes:
    """AARE. ``result`` 0 accepted / 1 rejected; ``diagnostic`` per acse-service-user."""
    body = ber(0xA1, ber(0x06, _CONTEXT_PREFIX + bytes([3 if ciphered_context else 1])))
    body += ber(0xA2, ber(0x02, bytes([result])))
    body += ber(0xA3, ber(0xA1, ber(0x02, bytes([diagnostic]))))
    if responding_ap_title is not None:
        body += ber(0xA4, ber(0x04, responding_ap_title))
    if mechanism != MECHANISM_NONE:
        body += ber(0x88, b"\x07\x80") + ber(0x89, _MECHANISM_PREFIX + bytes([mechanism]))
    if authentication_value is not None:
        body += ber(0xAA, ber(0x80, authentication_value))
    if user_information:
        body += ber(0xBE, ber(0x04, user_information))
    return ber(AARE, body)


# acse-service-user diagnostics
DIAG_NULL = 0
DIAG_NO_REASON = 1
DIAG_MECHANISM_NOT_RECOGNISED = 11
DIAG_AUTHENTICATION_REQUIRED = 14
DIAG_AUTHENTICATION_FAILURE = 13


def rlre() -> bytes:
    return ber(RLRE, ber(0x80, b"\x00"))


# --- GET / SET / ACTION -------------------------------------------------------------------------


@dataclass
class AttributeRef:
    class_id: int
    instance: bytes
    attribute: int
    selector: int | None = None
    parameters: Data | None = None


def _decode_descriptor(buf: bytes, pos: int, with_access: bool = True) -> tuple[AttributeRef, int]:
    if pos + 9 > len(buf):
        raise FrameError("truncated COSEM attribute descriptor")
    ref = AttributeRef(int.from_bytes(buf[pos : pos + 2], "big"), bytes(buf[pos + 2 : pos + 8]), buf[pos + 8])
    pos += 9
    if with_access:
        if pos >= len(buf):
            raise FrameError("truncated access selection")
        if buf[pos]:
            ref.selector = buf[pos + 1]
            ref.parameters, pos = axdr.decode(buf, pos + 2)
        else:
            pos += 1
    return ref, pos


def _encode_descriptor(ref: AttributeRef, with_access: bool = True) -> bytes:
    out = ref.class_id.to_bytes(2, "big") + ref.instance + bytes([ref.attribute & 0xFF])
    if with_access:
        if ref.selector is None:
            out += b"\x00"
        else:
            out += bytes([1, ref.selector]) + axdr.encode(ref.parameters or Data(axdr.NULL))
    return out


@dataclass
class Request:
    """A decoded GET/SET/ACTION request (``kind``: get, get-next, get-list, set, action)."""

    kind: str
    invoke_id: int
    refs: list[AttributeRef] = field(default_factory=list)
    block_number: int = 0
    value: Data | None = None


def decode_request(apdu: bytes) -> Request:
    if len(apdu) < 3:
        raise FrameError("truncated request APDU")
    tag, choice, invoke = apdu[0], apdu[1], apdu[2]
    if tag == GET_REQUEST:
        if choice == 1:
            return Request("get", invoke, [_decode_descriptor(apdu, 3)[0]])
        if choice == 2:
            return Request("get-next", invoke, block_number=int.from_bytes(apdu[3:7], "big"))
        if choice == 3:
            count, pos = decode_length(apdu, 3)
            refs = []
            for _ in range(count):
                ref, pos = _decode_descriptor(apdu, pos)
                refs.append(ref)
            return Request("get-list", invoke, refs)
    elif tag == SET_REQUEST and choice == 1:
        ref, pos = _decode_descriptor(apdu, 3)
        value, _ = axdr.decode(apdu, pos)
        return Request("set", invoke, [ref], value=value)
    elif tag == ACTION_REQUEST and choice == 1:
        ref, pos = _decode_descriptor(apdu, 3, with_access=False)
        value = axdr.decode(apdu, pos + 1)[0] if pos < len(apdu) and apdu[pos] else None
        return Request("action", invoke, [ref], value=value)
    raise FrameError(f"unsupported request 0x{tag:02x} choice {choice}")


def get_request(invoke_id: int, ref: AttributeRef) -> bytes:
    return bytes([GET_REQUEST, 1, invoke_id]) + _encode_descriptor(ref)


def get_next_request(invoke_id: int, block_number: int) -> bytes:
    return bytes([GET_REQUEST, 2, invoke_id]) + block_number.to_bytes(4, "big")


def set_request(invoke_id: int, ref: AttributeRef, value: Data) -> bytes:
    return bytes([SET_REQUEST, 1, invoke_id]) + _encode_descriptor(ref) + axdr.encode(value)


def action_request(invoke_id: int, ref: AttributeRef, value: Data | None) -> bytes:
    params = b"\x00" if value is None else b"\x01" + axdr.encode(value)
    return bytes([ACTION_REQUEST, 1, invoke_id]) + _encode_descriptor(ref, with_access=False) + params


def get_response_normal(invoke_id: int, value: Data | None, result: int = SUCCESS) -> bytes:
    body = b"\x00" + axdr.encode(value) if result == SUCCESS and value is not None else bytes([1, result])
    return bytes([GET_RESPONSE, 1, invoke_id]) + body


def get_response_block(invoke_id: int, block_number: int, last: bool, raw: bytes) -> bytes:
    head = bytes([GET_RESPONSE, 2, invoke_id, 1 if last else 0]) + block_number.to_bytes(4, "big")
    return head + b"\x00" + encode_length(len(raw)) + raw


def get_response_block_error(invoke_id: int, block_number: int, result: int) -> bytes:
    return bytes([GET_RESPONSE, 2, invoke_id, 1]) + block_number.to_bytes(4, "big") + bytes([1, result])


def get_response_list(invoke_id: int, results: list[tuple[int, Data | None]]) -> bytes:
    out = bytearray([GET_RESPONSE, 3, invoke_id]) + encode_length(len(results))
    for result, value in results:
        out += b"\x00" + axdr.encode(value) if result == SUCCESS and value is not None else bytes([1, result])
    return bytes(out)


def set_response(invoke_id: int, result: int) -> bytes:
    return bytes([SET_RESPONSE, 1, invoke_id, result])


def action_response(invoke_id: int, result: int, value: Data | None = None) -> bytes:
    tail = b"\x00" if value is None else b"\x01\x00" + axdr.encode(value)
    return bytes([ACTION_RESPONSE, 1, invoke_id, result]) + tail


def exception_response(state_error: int = 1, service_error: int = 2) -> bytes:
    return bytes([EXCEPTION_RESPONSE, state_error, service_error])


# --- DataNotification ---------------------------------------------------------------------------


@dataclass
class DataNotification:
    long_invoke_id_and_priority: int
    date_time: CosemDateTime | None
    body: Data
    date_time_quirk: str | None = None

    def describe(self) -> dict[str, object]:
        moment = self.date_time.to_datetime() if self.date_time else None
        return {
            "apdu": "data-notification",
            "long_invoke_id_and_priority": self.long_invoke_id_and_priority,
            "apdu_date_time": moment.isoformat() if moment else None,
            "apdu_date_time_quirk": self.date_time_quirk,
        }


def decode_data_notification(apdu: bytes) -> DataNotification:
    """DataNotification; tolerates Kaifa's extra octet-string tag (09) before the date-time."""
    if len(apdu) < 6 or apdu[0] != DATA_NOTIFICATION:
        raise FrameError("not a data-notification APDU")
    invoke = int.from_bytes(apdu[1:5], "big")
    pos = 5
    stamp = None
    quirk = None
    if apdu[pos] == 0x09 and pos + 1 < len(apdu) and apdu[pos + 1] == 0x0C:
        quirk = "date-time encoded with data tag 09 (octet-string) before length"
        pos += 1
    if apdu[pos] == 0x0C:
        if pos + 13 > len(apdu):
            raise FrameError("data-notification date-time truncated")
        stamp = CosemDateTime.from_bytes(bytes(apdu[pos + 1 : pos + 13]))
        pos += 13
    elif apdu[pos] == 0x00:
        pos += 1
    else:
        raise FrameError(f"data-notification date-time: unexpected length byte 0x{apdu[pos]:02x}")
    body, end = axdr.decode(apdu, pos)
    if end != len(apdu):
        raise FrameError(f"{len(apdu) - end} unexpected bytes after the notification body")
    return DataNotification(invoke, stamp, body, quirk)


def encode_data_notification(invoke: int, stamp: CosemDateTime | None, body: Data) -> bytes:
    head = bytes([DATA_NOTIFICATION]) + invoke.to_bytes(4, "big")
    head += b"\x00" if stamp is None else b"\x0c" + stamp.to_bytes()
    return head + axdr.encode(body)


# A-XDR data tags that collide with APDU tags (0x01 is also the InitiateRequest tag)
ARRAY_OR_INITIATE = axdr.ARRAY
STRUCTURE_TAG = axdr.STRUCTURE
