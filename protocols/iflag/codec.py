"""Corus (I-FLAG) data types with exact values, and frame decoding for the inspector.

The ``iflag`` library turns every integer type (Word, EWord, ULong, EULong) and the 32-bit Float
into a Decimal by way of ``Decimal.from_float(...).quantize(Decimal("0.000001")).normalize()``.
For integers that is exact but yields exponent forms (100 -> ``1E+2``); for Float it is wrong both
ways: a small value loses digits to the 6-decimal quantum (1.5e-7 -> 0) and a large one keeps the
binary expansion of the float32 (123456.7f -> 123456.703125). The pulse weight every database
volume is multiplied by is such a Float. So we subclass the library's types and decode the bytes
ourselves: integers as ``Decimal(int)``, Float as the shortest decimal that packs back to the same
32 bits (the same rule as the Modbus driver). Float1/2/3 and Index/Index9 are already exact in the
library and are only re-exported under our names.

Frames (all checked with the library's CRC: CRC-16 polynomial 0x8005, initial 0, sent low byte
first, computed over SOH..ETX):

* read request   ``01 BF len ids.. 03 crc``  (an id >= 239 takes two bytes, top nibble 0xF)
* write request  ``01 FF len (id data).. 03 crc``
* database read  ``01 BE 0D db options(4) start(4) stop(4) 03 crc``
* response       ``01 len data.. 03 crc``; a database answer is a series of them whose data starts
  with a little-endian frame number (bit 15 = last frame), the first one also with the record size
* break          ``01 'B' '0' 03 crc``
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

from iflag import data as iflag_data
from iflag import utils as iflag_utils

from ..errors import FrameError


def float32_text(raw_le: bytes) -> str:
    """Shortest decimal text that packs back into exactly these 4 little-endian bytes."""
    value = struct.unpack("<f", raw_le)[0]
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack("<f", float(text)) == raw_le:
            return text
    return repr(value)  # pragma: no cover


class ExactWord(iflag_data.Word):
    """16-bit unsigned, as an exact Decimal."""

    @classmethod
    def to_python(cls, in_bytes: bytes) -> Decimal:
        return Decimal(int.from_bytes(in_bytes, "little"))


class ExactEWord(iflag_data.EWord):
    """24-bit unsigned."""

    @classmethod
    def to_python(cls, in_bytes: bytes) -> Decimal:
        return Decimal(int.from_bytes(in_bytes, "little"))


class ExactULong(iflag_data.ULong):
    """32-bit unsigned."""

    @classmethod
    def to_python(cls, in_bytes: bytes) -> Decimal:
        return Decimal(int.from_bytes(in_bytes, "little"))


class ExactEULong(iflag_data.EULong):
    """40-bit unsigned."""

    @classmethod
    def to_python(cls, in_bytes: bytes) -> Decimal:
        return Decimal(int.from_bytes(in_bytes, "little"))


class ExactFloat(iflag_data.Float):
    """32-bit IEEE float, as the shortest decimal that identifies it; NaN/Inf mean "no value"."""

    @classmethod
    def to_python(cls, in_bytes: bytes) -> Decimal | None:
        value = struct.unpack("<f", in_bytes)[0]
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(float32_text(in_bytes))


#: data type names used in JSON configuration -> data class
DATA_TYPES: dict[str, type[iflag_data.CorusDataABC]] = {
    "byte": iflag_data.Byte,
    "word": ExactWord,
    "eword": ExactEWord,
    "ulong": ExactULong,
    "eulong": ExactEULong,
    "float": ExactFloat,
    "float1": iflag_data.Float1,
    "float2": iflag_data.Float2,
    "float3": iflag_data.Float3,
    "index": iflag_data.Index,
    "index9": iflag_data.Index9,
    "date": iflag_data.Date,
    "string": iflag_data.CorusString,
    "null2": iflag_data.Null2,
    "null4": iflag_data.Null4,
}


def data_class(name: str) -> type[iflag_data.CorusDataABC]:
    try:
        return DATA_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown Corus data type {name!r} (one of {', '.join(DATA_TYPES)})") from None


# --------------------------------------------------------------------------- frames

SOH, ETX, ACK, NAK = 0x01, 0x03, 0x06, 0x15
DATABASES = {0: "interval", 1: "hourly", 2: "daily", 3: "monthly", 4: "event", 5: "parameter"}


def crc_ok(frame: bytes) -> tuple[bool, str, str]:
    body, crc = frame[:-2], frame[-2:]
    computed = iflag_utils.crc16(body)
    return crc == computed, crc.hex(), computed.hex()


def _parameter_ids(data: bytes) -> list[int]:
    ids, i = [], 0
    while i < len(data):
        if data[i] >= 0xF0 and i + 1 < len(data):
            ids.append(int.from_bytes(data[i : i + 2], "big") & 0x0FFF)
            i += 2
        else:
            ids.append(data[i])
            i += 1
    return ids


def _date(raw: bytes) -> str | None:
    if raw == b"\x00\x00\x00\x00":
        return None
    try:
        return iflag_utils.byte_to_date(raw).isoformat()  # type: ignore[union-attr]
    except ValueError as exc:
        raise FrameError(f"invalid Corus date {raw.hex()}: {exc}") from exc


def decode_frame(frame: bytes) -> dict[str, Any]:
    """Classify and decode one Corus frame; raise :class:`FrameError` with the reason if it is bad."""
    if not frame:
        raise FrameError("empty input")
    if frame in (bytes([ACK]), bytes([NAK])):
        return {"kind": "ack" if frame[0] == ACK else "nak"}
    if frame.startswith(b"/"):
        kind = "sign-on request" if frame.startswith(b"/?") else "identification"
        return {"kind": kind, "text": frame.decode("latin-1").strip()}
    if set(frame) == {0}:
        return {"kind": "wake-up", "null_bytes": len(frame)}
    if frame[0] != SOH:
        raise FrameError(f"frame starts with 0x{frame[0]:02x}, not SOH (0x01)")
    if len(frame) < 5:
        raise FrameError(f"frame of {len(frame)} bytes is too short for SOH, length/command, ETX and CRC")
    if frame[-3] != ETX:
        raise FrameError(f"byte before the CRC is 0x{frame[-3]:02x}, not ETX (0x03)")
    valid, received, computed = crc_ok(frame)
    if not valid:
        raise FrameError(f"CRC mismatch: frame carries {received}, computed {computed}")
    command = frame[1]
    if frame[1:3] == b"B0" and len(frame) == 6:
        return {"kind": "break"}
    if command in (0xBF, 0xFF, 0xBE) and frame[2] == len(frame) - 6:
        # A response of 0xBF/0xFF/0xBE data bytes looks alike; its length byte then disagrees.
        data = frame[3:-3]
        if command == 0xBF:
            return {"kind": "read request", "parameter_ids": _parameter_ids(data)}
        if command == 0xFF:
            return {"kind": "write request", "data": data.hex()}
        if len(data) != 13:
            raise FrameError(f"database request carries {len(data)} bytes, expected 13")
        db = data[0] & 0x0F
        return {
            "kind": "database request",
            "database": DATABASES.get(db, f"unknown ({db})"),
            "options": data[1:5].hex(),
            "start": _date(data[5:9]),
            "stop": _date(data[9:13]),
        }
    length = frame[1]
    data = frame[2:-3]
    if length != len(data):
        raise FrameError(f"length byte says {length} data bytes, frame has {len(data)}")
    decoded: dict[str, Any] = {"kind": "response", "length": length, "data": data.hex()}
    if len(data) >= 2:
        number = int.from_bytes(data[:2], "little")
        decoded["if_database_frame"] = {"frame_number": number & 0x7FFF, "last": bool(number & 0x8000)}
    return decoded


def split_frames(data: bytes) -> list[bytes]:
    """Cut a captured byte stream into frames: SOH-framed by their length bytes, ACK/NAK singly."""
    frames: list[bytes] = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte in (ACK, NAK):
            frames.append(data[i : i + 1])
            i += 1
        elif byte == 0:
            j = i
            while j < len(data) and data[j] == 0:
                j += 1
            frames.append(data[i:j])
            i = j
        elif byte == ord("/"):
            end = data.find(b"\n", i)
            end = len(data) if end < 0 else end + 1
            frames.append(data[i:end])
            i = end
        elif byte == SOH:
            if data[i + 1 : i + 3] == b"B0":
                size = 6
            elif i + 2 < len(data) and data[i + 1] in (0xBF, 0xFF, 0xBE):
                size = 3 + data[i + 2] + 3
            elif i + 1 < len(data):
                size = 2 + data[i + 1] + 3
            else:
                raise FrameError("truncated frame at the end of the input")
            if i + size > len(data):
                raise FrameError(f"frame at offset {i} needs {size} bytes, only {len(data) - i} remain")
            frames.append(data[i : i + size])
            i += size
        else:
            raise FrameError(f"unexpected byte 0x{byte:02x} at offset {i}")
    return frames
