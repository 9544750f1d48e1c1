"""A-XDR encoding of COSEM ``Data`` values, and the COSEM date-time.

Every DLMS value on the wire is a one-byte type tag followed by the value; arrays, structures and
strings carry a variable-length count (one byte below 0x80, else ``0x8N`` and N bytes). Values are
decoded into :class:`Data` (tag + Python value) rather than bare Python objects, because the tag
matters later: an octet-string of 12 bytes may be a date-time, an octet-string of 6 bytes an OBIS
code, and re-encoding must give the same bytes back.

Floats are turned into ``Decimal`` exactly (``Decimal(float)`` keeps every binary digit): the value
is what the meter sent, not a rounded guess. Integers never go through a float.

COSEM date-time (12 bytes): year(2) month day weekday hour minute second hundredths deviation(2,
signed minutes) clock-status. The deviation is minutes *to add to local time to get UTC*, so the
UTC offset of the local time is ``-deviation``; 0x8000 means "not specified" and gives a naive time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ..errors import FrameError

NULL = 0
ARRAY = 1
STRUCTURE = 2
BOOLEAN = 3
BIT_STRING = 4
INT32 = 5
UINT32 = 6
OCTET_STRING = 9
VISIBLE_STRING = 10
UTF8_STRING = 12
BCD = 13
INT8 = 15
INT16 = 16
UINT8 = 17
UINT16 = 18
COMPACT_ARRAY = 19
INT64 = 20
UINT64 = 21
ENUM = 22
FLOAT32 = 23
FLOAT64 = 24
DATE_TIME = 25
DATE = 26
TIME = 27

TYPE_NAMES: dict[int, str] = {
    NULL: "null-data",
    ARRAY: "array",
    STRUCTURE: "structure",
    BOOLEAN: "boolean",
    BIT_STRING: "bit-string",
    INT32: "double-long",
    UINT32: "double-long-unsigned",
    OCTET_STRING: "octet-string",
    VISIBLE_STRING: "visible-string",
    UTF8_STRING: "utf8-string",
    BCD: "bcd",
    INT8: "integer",
    INT16: "long",
    UINT8: "unsigned",
    UINT16: "long-unsigned",
    INT64: "long64",
    UINT64: "long64-unsigned",
    ENUM: "enum",
    FLOAT32: "float32",
    FLOAT64: "float64",
    DATE_TIME: "date-time",
    DATE: "date",
    TIME: "time",
}

# tag -> (struct format, size) for the fixed-size numbers
_FIXED: dict[int, str] = {
    INT32: ">i",
    UINT32: ">I",
    BCD: ">b",
    INT8: ">b",
    INT16: ">h",
    UINT8: ">B",
    UINT16: ">H",
    INT64: ">q",
    UINT64: ">Q",
    ENUM: ">B",
}
INTEGER_TAGS = frozenset(_FIXED)
_SIZED = {DATE_TIME: 12, DATE: 5, TIME: 4}


@dataclass(frozen=True, slots=True)
class Data:
    """One decoded value: ``tag`` is the A-XDR type, ``value`` the Python value.

    array/structure → ``list[Data]``; integers and enum → ``int``; boolean → ``bool``;
    octet-string → ``bytes``; visible/utf8 → ``str``; bit-string → ``str`` of ``0``/``1``;
    float32/64 → ``Decimal`` (exact); date-time → :class:`CosemDateTime`; date/time → ``bytes``;
    null-data → ``None``.
    """

    tag: int
    value: Any = None

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.tag, f"tag-{self.tag}")

    @property
    def is_integer(self) -> bool:
        return self.tag in INTEGER_TAGS


# --- lengths ------------------------------------------------------------------------------------


def decode_length(buf: bytes, pos: int) -> tuple[int, int]:
    """A-XDR / BER length at ``pos``: returns (length, new position)."""
    if pos >= len(buf):
        raise FrameError("truncated data: length expected")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(buf):
        raise FrameError(f"bad length encoding 0x{first:02x} at offset {pos}")
    return int.from_bytes(buf[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


# --- COSEM date-time ----------------------------------------------------------------------------

DEVIATION_NOT_SPECIFIED = -0x8000
CLOCK_STATUS_DST = 0x80


@dataclass(frozen=True, slots=True)
class CosemDateTime:
    """The 12-byte COSEM date-time, field by field (0xFF/0xFFFF = not specified)."""

    year: int
    month: int
    day: int
    weekday: int = 0xFF
    hour: int = 0
    minute: int = 0
    second: int = 0
    hundredths: int = 0xFF
    deviation: int | None = None  # minutes, UTC = local + deviation; None = not specified
    clock_status: int = 0xFF

    @classmethod
    def from_bytes(cls, raw: bytes) -> CosemDateTime:
        if len(raw) != 12:
            raise FrameError(f"a COSEM date-time is 12 bytes, got {len(raw)}")
        year, month, day, weekday, hour, minute, second, hundredths, deviation, status = struct.unpack(
            ">HBBBBBBBhB", raw
        )
        return cls(
            year,
            month,
            day,
            weekday,
            hour,
            minute,
            second,
            hundredths,
            None if deviation == DEVIATION_NOT_SPECIFIED else deviation,
            status,
        )

    def to_bytes(self) -> bytes:
        deviation = DEVIATION_NOT_SPECIFIED if self.deviation is None else self.deviation
        return struct.pack(
            ">HBBBBBBBhB",
            self.year,
            self.month,
            self.day,
            self.weekday,
            self.hour,
            self.minute,
            self.second,
            self.hundredths,
            deviation,
            self.clock_status,
        )

    @classmethod
    def from_datetime(cls, moment: datetime, *, clock_status: int = 0) -> CosemDateTime:
        """Encode an aware datetime in its own offset (deviation = -offset)."""
        offset = moment.utcoffset()
        deviation = None if offset is None else -int(offset.total_seconds() // 60)
        return cls(
            moment.year,
            moment.month,
            moment.day,
            moment.isoweekday(),
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond // 10000,
            deviation,
            clock_status,
        )

    @property
    def is_plausible(self) -> bool:
        """Whether the fields could be a date-time (used to tell one from any 12-byte string)."""
        return (
            (1970 <= self.year <= 2199 or self.year == 0xFFFF)
            and (1 <= self.month <= 12 or self.month in (0xFD, 0xFE, 0xFF))
            and (1 <= self.day <= 31 or self.day in (0xFD, 0xFE, 0xFF))
            and (1 <= self.weekday <= 7 or self.weekday == 0xFF)
            and (self.hour <= 23 or self.hour == 0xFF)
            and (self.minute <= 59 or self.minute == 0xFF)
            and (self.second <= 59 or self.second == 0xFF)
            and (self.hundredths <= 99 or self.hundredths == 0xFF)
            and (self.deviation is None or -720 <= self.deviation <= 840)
        )

    @property
    def daylight_saving(self) -> bool:
        return self.clock_status != 0xFF and bool(self.clock_status & CLOCK_STATUS_DST)

    def to_datetime(self, default_tz: Any = None) -> datetime | None:
        """Aware datetime in the meter's offset; naive (or ``default_tz``) without a deviation.

        ``None`` when year, month, day or a time field is unspecified (a wildcard, not a time).
        """
        fields = (self.month, self.day, self.hour, self.minute, self.second)
        if self.year == 0xFFFF or any(f >= 0xFD for f in fields):
            return None
        micro = 0 if self.hundredths == 0xFF else self.hundredths * 10000
        try:
            naive = datetime(self.year, self.month, self.day, self.hour, self.minute, self.second, micro)
        except ValueError:
            return None
        if self.deviation is not None:
            return naive.replace(tzinfo=_offset(-self.deviation))
        if default_tz is not None:
            return naive.replace(tzinfo=default_tz)
        return naive


def _offset(minutes: int) -> timezone:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


def date_time_from_octets(raw: bytes) -> CosemDateTime | None:
    """A date-time carried in an octet-string, or None when the 12 bytes are not one."""
    if len(raw) != 12:
        return None
    candidate = CosemDateTime.from_bytes(raw)
    return candidate if candidate.is_plausible else None


# --- decoding -----------------------------------------------------------------------------------


def decode(buf: bytes, pos: int = 0) -> tuple[Data, int]:
    """Decode one ``Data`` at ``pos``; returns (value, position after it)."""
    if pos >= len(buf):
        raise FrameError(f"truncated data: type tag expected at offset {pos}")
    tag = buf[pos]
    pos += 1
    if tag == NULL:
        return Data(NULL), pos
    if tag in (ARRAY, STRUCTURE):
        count, pos = decode_length(buf, pos)
        items = []
        for _ in range(count):
            item, pos = decode(buf, pos)
            items.append(item)
        return Data(tag, items), pos
    if tag == BOOLEAN:
        _need(buf, pos, 1, tag)
        return Data(tag, buf[pos] != 0), pos + 1
    if tag in _FIXED:
        fmt = _FIXED[tag]
        size = struct.calcsize(fmt)
        _need(buf, pos, size, tag)
        return Data(tag, struct.unpack_from(fmt, buf, pos)[0]), pos + size
    if tag in (OCTET_STRING, VISIBLE_STRING, UTF8_STRING):
        length, pos = decode_length(buf, pos)
        _need(buf, pos, length, tag)
        raw = bytes(buf[pos : pos + length])
        if tag == OCTET_STRING:
            value: Any = raw
        else:
            value = raw.decode("utf-8" if tag == UTF8_STRING else "latin-1")
        return Data(tag, value), pos + length
    if tag == BIT_STRING:
        bits, pos = decode_length(buf, pos)
        size = (bits + 7) // 8
        _need(buf, pos, size, tag)
        text = "".join(f"{b:08b}" for b in buf[pos : pos + size])[:bits]
        return Data(tag, text), pos + size
    if tag in (FLOAT32, FLOAT64):
        fmt = ">f" if tag == FLOAT32 else ">d"
        size = struct.calcsize(fmt)
        _need(buf, pos, size, tag)
        number = struct.unpack_from(fmt, buf, pos)[0]
        if number != number or number in (float("inf"), float("-inf")):
            raise FrameError(f"{TYPE_NAMES[tag]} is not a number ({number})")
        return Data(tag, Decimal(number)), pos + size
    if tag == DATE_TIME:
        _need(buf, pos, 12, tag)
        return Data(tag, CosemDateTime.from_bytes(bytes(buf[pos : pos + 12]))), pos + 12
    if tag in (DATE, TIME):
        size = _SIZED[tag]
        _need(buf, pos, size, tag)
        return Data(tag, bytes(buf[pos : pos + size])), pos + size
    raise FrameError(f"unsupported A-XDR type tag 0x{tag:02x} at offset {pos - 1}")


def decode_all(buf: bytes) -> Data:
    """Decode exactly one value that must fill ``buf``."""
    value, end = decode(buf, 0)
    if end != len(buf):
        raise FrameError(f"{len(buf) - end} unexpected bytes after the data")
    return value


def _need(buf: bytes, pos: int, size: int, tag: int) -> None:
    if pos + size > len(buf):
        raise FrameError(f"truncated {TYPE_NAMES.get(tag, tag)}: need {size} bytes at offset {pos}")


# --- encoding -----------------------------------------------------------------------------------


def encode(item: Data) -> bytes:
    """A-XDR bytes of ``item`` (the inverse of :func:`decode`)."""
    tag, value = item.tag, item.value
    if tag == NULL:
        return b"\x00"
    if tag in (ARRAY, STRUCTURE):
        return bytes([tag]) + encode_length(len(value)) + b"".join(encode(v) for v in value)
    if tag == BOOLEAN:
        return bytes([tag, 1 if value else 0])
    if tag in _FIXED:
        return bytes([tag]) + struct.pack(_FIXED[tag], value)
    if tag in (OCTET_STRING, VISIBLE_STRING, UTF8_STRING):
        raw = (
            value
            if isinstance(value, (bytes, bytearray))
            else value.encode("utf-8" if tag == UTF8_STRING else "latin-1")
        )
        return bytes([tag]) + encode_length(len(raw)) + bytes(raw)
    if tag == BIT_STRING:
        bits = str(value)
        padded = bits + "0" * (-len(bits) % 8)
        body = bytes(int(padded[i : i + 8], 2) for i in range(0, len(padded), 8))
        return bytes([tag]) + encode_length(len(bits)) + body
    if tag in (FLOAT32, FLOAT64):
        return bytes([tag]) + struct.pack(">f" if tag == FLOAT32 else ">d", float(value))
    if tag == DATE_TIME:
        raw = value.to_bytes() if isinstance(value, CosemDateTime) else bytes(value)
        return bytes([tag]) + raw
    if tag in (DATE, TIME):
        return bytes([tag]) + bytes(value)
    raise ValueError(f"cannot encode A-XDR tag {tag}")


# small constructors keep simulator and tests readable
def structure(*items: Data) -> Data:
    return Data(STRUCTURE, list(items))


def array(items: list[Data]) -> Data:
    return Data(ARRAY, list(items))


def octets(raw: bytes) -> Data:
    return Data(OCTET_STRING, bytes(raw))


def uint8(value: int) -> Data:
    return Data(UINT8, value)


def uint16(value: int) -> Data:
    return Data(UINT16, value)


def uint32(value: int) -> Data:
    return Data(UINT32, value)


def int8(value: int) -> Data:
    return Data(INT8, value)


def enum(value: int) -> Data:
    return Data(ENUM, value)


def date_time_octets(moment: CosemDateTime) -> Data:
    """Clock values travel as a 12-byte octet-string, not as the date-time tag."""
    return Data(OCTET_STRING, moment.to_bytes())


def to_python(item: Data) -> Any:
    """Plain JSON-friendly Python (for the inspector): lists, ints, strings, ISO times."""
    if item.tag in (ARRAY, STRUCTURE):
        return [to_python(v) for v in item.value]
    if item.tag == OCTET_STRING:
        stamp = date_time_from_octets(item.value)
        if stamp is not None and (moment := stamp.to_datetime()) is not None:
            return moment.isoformat()
        return item.value.hex()
    if item.tag == DATE_TIME:
        moment = item.value.to_datetime()
        return moment.isoformat() if moment else item.value.to_bytes().hex()
    if item.tag in (DATE, TIME):
        return item.value.hex()
    if isinstance(item.value, Decimal):
        return format(item.value, "f")
    return item.value
