"""Wired M-Bus (EN 13757-2 link layer, EN 13757-3 application layer) frame codec.

Why our own codec and not pyMeterBus (the only maintained Python M-Bus library we found):
pyMeterBus 0.8.5 scales every value through binary floats (54.321 m³ comes back as
54.320999999999997953...), accepts six truncated frames of our corpus that must be rejected (it
returns partial records with ``None`` values), and fails on three valid frames (CI 0x73 fixed data
structure, VIF 0x7B). Using it safely would mean validating every frame ourselves first and then
rescaling every raw value from our own VIF tables, which is the whole codec; so we write it once, here,
strict and exact, and do not depend on pyMeterBus at all.

Decisions a reader needs:

* **Strict framing.** A buffer must hold exactly one frame; start/stop bytes, both length bytes and
  the checksum are checked, and every field of every record must be complete. Anything else raises
  :class:`~protocols.errors.FrameError` whose ``reason`` says what was wrong and where.
* **Exact values.** Integers and BCD are scaled with ``Decimal(raw).scaleb(exponent)`` (times an
  exact integer factor for durations, which are normalised to seconds). Nothing goes through float.
* **Real32 (DIF coding 5).** The wire value is an IEEE binary32; we report the *shortest* decimal
  that converts back to the same binary32 (at most 9 significant digits), then scale that exactly.
  That is the number the meter's firmware most plausibly meant (230.1 rather than 230.100006103515625);
  NaN and infinities give no value.
* **Application errors** (CI 0x70) are not frame errors: the frame is fine and the slave reports a
  condition; :attr:`Telegram.application_error` carries it and the client decides what to raise.
* **Series names** (:func:`series_name`): ``<quantity>[.<qualifier>...]:<storage>:<tariff>:<subunit>:
  <function>``, all lower-case snake case, e.g. ``energy:0:0:0:instantaneous``,
  ``volume_flow:5:0:0:maximum``, ``volume.accumulation_only_if_positive:0:0:0:instantaneous``;
  plain-text VIFs use ``plain_<unit text>``, unknown codes ``vif_<hex>``. When a telegram carries the
  same description twice, later ones get ``#2``, ``#3``... so no reading silently overwrites another.
* **Dates.** Types G (date), F (date & time), I (date & time with seconds) and J (time) are decoded
  to text (``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS]``) and, when valid, a naive ``datetime``: the meter
  keeps local time and the caller knows its time zone. A two-digit year without century bits is read
  as 19xx from 81 on and 20xx below, as meters of both centuries are in the field.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from protocols.errors import FrameError
from protocols.results import Reading

from . import tables

ACK = 0xE5
SHORT_START = 0x10
LONG_START = 0x68
STOP = 0x16

# Link-layer control fields (master to slave); FCB is bit 5, FCV bit 4.
SND_NKE = 0x40
SND_UD = 0x53
REQ_UD2 = 0x5B
REQ_UD1 = 0x5A
FCB = 0x20
RSP_UD = 0x08

ADDRESS_SECONDARY = 0xFD
ADDRESS_BROADCAST_REPLY = 0xFE
ADDRESS_BROADCAST = 0xFF

CI_DATA_SEND = 0x51
CI_SELECT = 0x52
CI_APPLICATION_ERROR = 0x70
CI_VARIABLE = 0x72
CI_FIXED = 0x73
CI_VARIABLE_MSB = 0x76
CI_FIXED_MSB = 0x77
CI_VARIABLE_NO_HEADER = 0x78
CI_VARIABLE_SHORT_HEADER = 0x7A

MAX_DIFE = 10
MAX_VIFE = 10

_DATA_SIZES = {0x0: 0, 0x1: 1, 0x2: 2, 0x3: 3, 0x4: 4, 0x5: 4, 0x6: 6, 0x7: 8, 0x8: 0, 0x9: 1, 0xA: 2}
_DATA_SIZES |= {0xB: 3, 0xC: 4, 0xE: 6}
_CODING_NAMES = {
    0x0: "none",
    0x1: "int8",
    0x2: "int16",
    0x3: "int24",
    0x4: "int32",
    0x5: "real32",
    0x6: "int48",
    0x7: "int64",
    0x8: "selection",
    0x9: "bcd2",
    0xA: "bcd4",
    0xB: "bcd6",
    0xC: "bcd8",
    0xD: "lvar",
    0xE: "bcd12",
}
FUNCTIONS = ("instantaneous", "maximum", "minimum", "error")


def checksum(data: bytes) -> int:
    """Arithmetic sum modulo 256 of C, A, CI and user data (the link layer's check byte)."""
    return sum(data) & 0xFF


def parse_hex(text: str) -> bytes:
    """Bytes from hex text as captured (pairs separated by blanks, or one run), strictly."""
    tokens = text.split()
    if len(tokens) == 1:
        tokens = [tokens[0][i : i + 2] for i in range(0, len(tokens[0]), 2)]
    out = bytearray()
    for position, token in enumerate(tokens):
        if not re.fullmatch(r"[0-9A-Fa-f]{2}", token):
            raise FrameError(f"not hex: token {position} is {token!r}, expected two hex digits")
        out.append(int(token, 16))
    if not out:
        raise FrameError("no bytes in the hex text")
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Link layer


@dataclass(frozen=True)
class Frame:
    """One link-layer frame. ``kind`` is ``ack``, ``short``, ``control`` or ``long``."""

    kind: str
    control: int | None = None
    address: int | None = None
    ci: int | None = None
    data: bytes = b""

    def to_bytes(self) -> bytes:
        if self.kind == "ack":
            return bytes([ACK])
        if self.kind == "short":
            assert self.control is not None and self.address is not None
            return encode_short(self.control, self.address)
        assert self.control is not None and self.address is not None and self.ci is not None
        return encode_long(self.control, self.address, self.ci, self.data)


def encode_short(control: int, address: int) -> bytes:
    return bytes([SHORT_START, control, address, checksum(bytes([control, address])), STOP])


def encode_long(control: int, address: int, ci: int, data: bytes = b"") -> bytes:
    body = bytes([control, address, ci]) + data
    if len(body) > 255:
        raise ValueError(f"user data of {len(data)} bytes does not fit a long frame (at most 252)")
    return bytes([LONG_START, len(body), len(body), LONG_START]) + body + bytes([checksum(body), STOP])


def frame_size(head: bytes) -> int | None:
    """Total size of the frame that starts with ``head``, or None when more bytes are needed.

    Lets a client read a frame from a stream with bounded reads (first byte, then the header,
    then exactly the rest) instead of guessing. Raises FrameError for an impossible start.
    """
    if not head:
        return None
    start = head[0]
    if start == ACK:
        return 1
    if start == SHORT_START:
        return 5
    if start != LONG_START:
        raise FrameError(f"unexpected start byte 0x{start:02X} (expected E5, 10 or 68)")
    if len(head) < 4:
        return None
    _check_long_header(head)
    return head[1] + 6


def _check_long_header(raw: bytes) -> None:
    if raw[1] != raw[2]:
        raise FrameError(f"long frame length bytes differ: L=0x{raw[1]:02X} and L=0x{raw[2]:02X}")
    if raw[3] != LONG_START:
        raise FrameError(f"long frame second start byte is 0x{raw[3]:02X}, expected 0x68")
    if raw[1] < 3:
        raise FrameError(f"long frame L field {raw[1]} is below 3 (C, A and CI are mandatory)")


def decode_frame(raw: bytes) -> Frame:
    """Validate and split one complete frame; the buffer must contain nothing else."""
    if not raw:
        raise FrameError("empty frame")
    start = raw[0]
    if start == ACK:
        if len(raw) != 1:
            raise FrameError(f"single character E5 followed by {len(raw) - 1} stray bytes")
        return Frame("ack")
    if start == SHORT_START:
        if len(raw) != 5:
            raise FrameError(f"short frame must be 5 bytes, got {len(raw)}")
        if raw[4] != STOP:
            raise FrameError(f"short frame stop byte is 0x{raw[4]:02X}, expected 0x16")
        expected = checksum(raw[1:3])
        if raw[3] != expected:
            raise FrameError(f"short frame checksum 0x{raw[3]:02X} does not match computed 0x{expected:02X}")
        return Frame("short", control=raw[1], address=raw[2])
    if start != LONG_START:
        raise FrameError(f"unexpected start byte 0x{start:02X} (expected E5, 10 or 68)")
    if len(raw) < 4:
        raise FrameError(f"long frame too short: {len(raw)} bytes, the header alone needs 4")
    _check_long_header(raw)
    declared = raw[1] + 6
    if len(raw) != declared:
        raise FrameError(
            f"long frame L=0x{raw[1]:02X} announces {declared} bytes but {len(raw)} were received"
        )
    if raw[-1] != STOP:
        raise FrameError(f"long frame stop byte is 0x{raw[-1]:02X}, expected 0x16")
    body = raw[4:-2]
    expected = checksum(body)
    if raw[-2] != expected:
        raise FrameError(f"long frame checksum 0x{raw[-2]:02X} does not match computed 0x{expected:02X}")
    kind = "control" if len(body) == 3 else "long"
    return Frame(kind, control=body[0], address=body[1], ci=body[2], data=bytes(body[3:]))


# --------------------------------------------------------------------------------------------------
# Application layer


@dataclass(frozen=True)
class SlaveHeader:
    """The fixed part of a variable data structure (CI 0x72/0x76) or the short header (CI 0x7A)."""

    identification: str | None
    manufacturer: str | None
    version: int | None
    medium: int | None
    access_number: int
    status: int
    signature: int | None

    @property
    def medium_name(self) -> str | None:
        if self.medium is None:
            return None
        return tables.MEDIUM.get(self.medium, f"Reserved (0x{self.medium:02X})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.identification,
            "manufacturer": self.manufacturer,
            "version": self.version,
            "medium": self.medium,
            "medium_name": self.medium_name,
            "access_number": self.access_number,
            "status": f"{self.status:02X}",
            "signature": None if self.signature is None else f"{self.signature:04X}",
        }


@dataclass(frozen=True)
class Record:
    """One data record. ``value`` is set for numbers (scaled, exact), ``text`` for everything a
    number cannot honestly express (strings, dates, binary blobs as hex)."""

    dif: bytes
    vif: bytes
    function: str
    storage: int
    tariff: int
    subunit: int
    coding: str
    data: bytes
    quantity: str
    unit: str
    value: Decimal | None = None
    raw: int | None = None
    text: str | None = None
    moment: datetime | date | time | None = None
    qualifiers: tuple[str, ...] = ()
    error: str | None = None
    plain_unit: str | None = None
    vif_code: str = ""
    invalid: bool = False

    @property
    def key(self) -> str:
        """Quantity part of the series name."""
        if self.plain_unit is not None:
            base = "plain_" + (_slug(self.plain_unit) or "unit")
        elif self.quantity in ("Reserved", "Unknown"):
            base = "vif_" + self.vif_code.lower()
        else:
            base = _slug(self.quantity)
        return ".".join([base, *(_slug(q) for q in self.qualifiers)])

    @property
    def series(self) -> str:
        return series_name(self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "series": self.series,
            "quantity": self.quantity,
            "unit": self.unit,
            "function": self.function,
            "storage": self.storage,
            "tariff": self.tariff,
            "subunit": self.subunit,
            "coding": self.coding,
            "dif": self.dif.hex(" ").upper(),
            "vif": self.vif.hex(" ").upper(),
            "data": self.data.hex(" ").upper(),
        }
        if self.value is not None:
            out["value"] = format(self.value, "f")
        if self.text is not None:
            out["text"] = self.text
        if self.qualifiers:
            out["qualifiers"] = list(self.qualifiers)
        if self.error:
            out["error"] = self.error
        if self.invalid:
            out["invalid"] = True
        return out


@dataclass(frozen=True)
class Telegram:
    """A decoded RSP_UD (or another long frame) with its records."""

    frame: Frame
    header: SlaveHeader | None = None
    records: tuple[Record, ...] = ()
    manufacturer_data: bytes | None = None
    more_records_follow: bool = False
    application_error: tuple[int | None, str] | None = None
    structure: str = "variable"

    @property
    def ci(self) -> int | None:
        return self.frame.ci

    def to_dict(self) -> dict[str, Any]:
        frame = self.frame
        out: dict[str, Any] = {
            "frame": {
                "kind": frame.kind,
                "control": None if frame.control is None else f"{frame.control:02X}",
                "address": frame.address,
                "ci": None if frame.ci is None else f"{frame.ci:02X}",
            },
            "structure": self.structure,
        }
        if self.application_error is not None:
            code, text = self.application_error
            out["application_error"] = {"code": code, "reason": text}
        if self.header is not None:
            out["header"] = self.header.to_dict()
        names = unique_series(self.records)
        out["records"] = [
            record.to_dict() | {"series": name} for record, name in zip(self.records, names, strict=True)
        ]
        if self.manufacturer_data is not None:
            out["manufacturer_data"] = self.manufacturer_data.hex(" ").upper()
        out["more_records_follow"] = self.more_records_follow
        return out


def series_name(record: Record) -> str:
    return f"{record.key}:{record.storage}:{record.tariff}:{record.subunit}:{record.function}"


def unique_series(records: tuple[Record, ...] | list[Record]) -> list[str]:
    """Series names with ``#n`` on repeats, so a telegram never yields two readings of one name."""
    seen: dict[str, int] = {}
    names = []
    for record in records:
        name = record.series
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _slug(text: str) -> str:
    text = text.replace("³", "3").replace("°", "deg").replace("%", "percent")
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def decode_telegram(raw: bytes | Frame) -> Telegram:
    """Decode a long frame's application layer. Raises FrameError with a reason on any defect."""
    frame = raw if isinstance(raw, Frame) else decode_frame(raw)
    if frame.kind not in ("long", "control"):
        raise FrameError(f"a {frame.kind} frame carries no application data")
    ci = frame.ci
    data = frame.data
    if ci == CI_APPLICATION_ERROR:
        if len(data) > 1:
            raise FrameError(f"application error frame carries {len(data)} bytes, at most 1 expected")
        # A bare CI 0x70 without an error byte is how some slaves say "unspecified error".
        code = data[0] if data else None
        text = tables.APPLICATION_ERRORS.get(code or 0) or f"reserved application error 0x{code:02X}"
        return Telegram(frame, application_error=(code, text), structure="application-error")
    if ci in (CI_VARIABLE, CI_VARIABLE_MSB):
        if len(data) < 12:
            raise FrameError(f"variable data header needs 12 bytes after CI 0x{ci:02X}, got {len(data)}")
        msb = ci == CI_VARIABLE_MSB
        header = _long_header(data[:12], msb)
        records, mfr, more = _records(data[12:], 12, msb)
        return Telegram(frame, header, records, mfr, more)
    if ci == CI_VARIABLE_SHORT_HEADER:
        if len(data) < 4:
            raise FrameError(f"short header needs 4 bytes after CI 0x7A, got {len(data)}")
        header = SlaveHeader(None, None, None, None, data[0], data[1], int.from_bytes(data[2:4], "little"))
        records, mfr, more = _records(data[4:], 4, False)
        return Telegram(frame, header, records, mfr, more)
    if ci in (CI_VARIABLE_NO_HEADER, CI_DATA_SEND):
        records, mfr, more = _records(data, 0, False)
        return Telegram(frame, None, records, mfr, more, structure="records")
    if ci in (CI_FIXED, CI_FIXED_MSB):
        return _fixed(frame, msb=ci == CI_FIXED_MSB)
    if ci == CI_SELECT:
        if len(data) != 8:
            raise FrameError(f"secondary address selection needs 8 bytes, got {len(data)}")
        header = _select_header(data)
        return Telegram(frame, header, structure="selection")
    raise FrameError(f"unsupported CI field 0x{ci:02X}")


def _bcd_text(data: bytes) -> str:
    """BCD digits most significant first, as hex text (so wildcards and bad digits stay visible)."""
    return data[::-1].hex().upper()


def _manufacturer(code: int) -> str:
    return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def _long_header(data: bytes, msb: bool) -> SlaveHeader:
    order = "big" if msb else "little"
    ident = data[0:4] if not msb else data[0:4][::-1]
    man = int.from_bytes(data[4:6], order)
    return SlaveHeader(
        identification=_bcd_text(ident),
        manufacturer=_manufacturer(man),
        version=data[6],
        medium=data[7],
        access_number=data[8],
        status=data[9],
        signature=int.from_bytes(data[10:12], order),
    )


def _select_header(data: bytes) -> SlaveHeader:
    man = int.from_bytes(data[4:6], "little")
    return SlaveHeader(
        identification=_bcd_text(data[0:4]),
        manufacturer=None if man == 0xFFFF else _manufacturer(man),
        version=data[6],
        medium=data[7],
        access_number=0,
        status=0,
        signature=None,
    )


def _fixed(frame: Frame, *, msb: bool) -> Telegram:
    """Fixed data structure (CI 0x73/0x77): id, access no, status, medium/units, two counters."""
    data = frame.data
    if len(data) != 16:
        raise FrameError(f"fixed data structure must be 16 bytes after CI 0x{frame.ci:02X}, got {len(data)}")
    order = "big" if msb else "little"
    status = data[5]
    medium = ((data[6] & 0xC0) >> 6) | ((data[7] & 0xC0) >> 4)
    header = SlaveHeader(_bcd_text(data[0:4]), None, None, medium, data[4], status, None)
    binary = bool(status & 0x80)
    function = "fixed_date" if status & 0x40 else "actual"
    records = []
    first_info: tuple[str, str, int] | None = None
    for index, (unit_code, counter) in enumerate(
        ((data[6] & 0x3F, data[8:12]), (data[7] & 0x3F, data[12:16]))
    ):
        if binary:
            raw = int.from_bytes(counter, order)
            coding = "int32"
        else:
            raw = _bcd_value(counter if not msb else counter[::-1])
            coding = "bcd8"
        info = tables.FIXED_UNITS.get(unit_code)
        storage = index
        if unit_code == 0x3E and first_info is not None:
            info = first_info
        if info is None:
            info = ("Reserved", "", 0)
        quantity, unit, exponent = info
        if index == 0:
            first_info = info
        value = None if raw is None else Decimal(raw).scaleb(exponent)
        records.append(
            Record(
                dif=b"",
                vif=bytes([unit_code]),
                function=function,
                storage=storage,
                tariff=0,
                subunit=0,
                coding=coding,
                data=bytes(counter),
                quantity=quantity,
                unit=unit,
                value=value,
                raw=raw,
                text=None if raw is not None else _bcd_text(counter),
                vif_code=f"{unit_code:02X}",
            )
        )
    return Telegram(frame, header, tuple(records), structure="fixed")


def _bcd_value(data: bytes) -> int | None:
    """Signed BCD (LSB first). A top nibble F means negative; any other non-digit gives None."""
    digits = data[::-1].hex()
    negative = False
    if digits and digits[0] in "fF":
        negative = True
        digits = digits[1:] or "0"
    if not digits.isdigit():
        return None
    value = int(digits)
    return -value if negative else value


def _real32(data: bytes, msb: bool) -> Decimal | None:
    number = struct.unpack(">f" if msb else "<f", data)[0]
    if number != number or number in (float("inf"), float("-inf")):
        return None
    packed = struct.pack("<f", number)
    for digits in range(1, 10):
        text = f"{number:.{digits}g}"
        if struct.pack("<f", float(text)) == packed:
            return Decimal(text)
    return Decimal(repr(number))  # pragma: no cover - 9 digits always round-trip binary32


class _Cursor:
    """Reads the user data with positions in error messages relative to the CI field."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.pos = 0
        self.offset = offset

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def byte(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise FrameError(f"premature end of data: {what} expected at byte {self.where()}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, size: int, what: str) -> bytes:
        if self.pos + size > len(self.data):
            raise FrameError(
                f"premature end of data: {what} needs {size} bytes at byte {self.where()}, "
                f"only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def where(self) -> int:
        # Offset counted from the first byte after CI, as the frame inspector prints the data.
        return self.offset + self.pos


def _records(data: bytes, offset: int, msb: bool) -> tuple[tuple[Record, ...], bytes | None, bool]:
    cursor = _Cursor(data, offset)
    records: list[Record] = []
    while cursor.remaining():
        start = cursor.where()
        dif = cursor.byte("DIF")
        if dif == 0x2F:  # idle filler between records
            continue
        if dif in (0x0F, 0x1F):
            rest = cursor.take(cursor.remaining(), "manufacturer data")
            return tuple(records), bytes(rest), dif == 0x1F
        if dif & 0x0F == 0x0F:
            raise FrameError(f"reserved special function DIF 0x{dif:02X} at byte {start}")
        records.append(_record(cursor, dif, msb, start))
    return tuple(records), None, False


def _record(cursor: _Cursor, dif: int, msb: bool, start: int) -> Record:
    difs = [dif]
    storage = (dif >> 6) & 0x01
    tariff = subunit = 0
    while difs[-1] & 0x80:
        if len(difs) > MAX_DIFE:
            raise FrameError(f"more than {MAX_DIFE} DIFEs in the record at byte {start}")
        dife = cursor.byte(f"DIFE {len(difs)} of the record at byte {start}")
        shift = len(difs) - 1
        storage |= (dife & 0x0F) << (1 + 4 * shift)
        tariff |= ((dife >> 4) & 0x03) << (2 * shift)
        subunit |= ((dife >> 6) & 0x01) << shift
        difs.append(dife)
    function = FUNCTIONS[(dif >> 4) & 0x03]
    coding = dif & 0x0F

    vif = cursor.byte(f"VIF of the record at byte {start}")
    vifs = [vif]
    plain_unit = None
    if vif & 0x7F == 0x7C:
        length = cursor.byte(f"plain-text unit length of the record at byte {start}")
        if length > cursor.remaining():
            raise FrameError(
                f"plain-text unit of {length} characters at byte {start} exceeds the {cursor.remaining()} "
                "bytes left in the frame"
            )
        plain_unit = cursor.take(length, "plain-text unit")[::-1].decode("latin-1")
    while vifs[-1] & 0x80:
        if len(vifs) > MAX_VIFE:
            raise FrameError(f"more than {MAX_VIFE} VIFEs in the record at byte {start}")
        vifs.append(cursor.byte(f"VIFE {len(vifs)} of the record at byte {start}"))

    info, qualifiers, exponent_shift, error, vif_code = _interpret_vif(vifs, plain_unit)

    if coding == 0x0D:
        lvar = cursor.byte(f"LVAR of the record at byte {start}")
        data, text, raw, value_kind = _lvar(cursor, lvar, start)
        coding_name = "lvar"
    else:
        size = _DATA_SIZES[coding]
        data = cursor.take(size, f"data of the record at byte {start}")
        text = raw = None
        value_kind = "number"
        coding_name = _CODING_NAMES[coding]

    value: Decimal | None = None
    moment = None
    invalid = False
    exponent = info.exponent + exponent_shift
    if info.kind in ("date", "datetime") and coding in (0x2, 0x3, 0x4, 0x6):
        text, moment, invalid = _date_time(data if not msb else data[::-1])
    elif value_kind == "binary":
        # Binary LVAR blobs (keys, bit maps) have no honest numeric reading: hex, MSB first.
        text = data[::-1].hex(" ").upper()
    elif value_kind == "text":
        pass
    elif coding in (0x1, 0x2, 0x3, 0x4, 0x6, 0x7):
        raw = int.from_bytes(data, "big" if msb else "little", signed=True)
    elif coding in (0x9, 0xA, 0xB, 0xC, 0xE) or value_kind == "bcd":
        if value_kind == "bcd":
            assert raw is not None
        else:
            raw = _bcd_value(data if not msb else data[::-1])
            if raw is None:
                text = _bcd_text(data if not msb else data[::-1])
                invalid = True
    elif coding == 0x5:
        real = _real32(data, msb)
        if real is None:
            invalid = True
        else:
            value = real.scaleb(exponent) * info.factor
    if raw is not None and value is None:
        value = Decimal(raw).scaleb(exponent) * info.factor

    return Record(
        dif=bytes(difs),
        vif=bytes(vifs),
        function=function,
        storage=storage,
        tariff=tariff,
        subunit=subunit,
        coding=coding_name,
        data=bytes(data),
        quantity=info.quantity,
        unit=plain_unit if plain_unit is not None else info.unit,
        value=value,
        raw=raw,
        text=text,
        moment=moment,
        qualifiers=tuple(qualifiers),
        error=error,
        plain_unit=plain_unit,
        vif_code=vif_code,
        invalid=invalid,
    )


def _interpret_vif(
    vifs: list[int], plain_unit: str | None
) -> tuple[tables.ValueInfo, list[str], int, str | None, str]:
    """Meaning of the VIF chain: base quantity, qualifiers, extra exponent, record error, code."""
    primary = vifs[0] & 0x7F
    rest = vifs[1:]
    vif_code = f"{primary:02X}"
    if plain_unit is not None:
        info = tables.ValueInfo("Plain text unit", plain_unit)
    elif primary == 0x7B or primary == 0x7D:
        if vifs[0] & 0x80 == 0:
            # An extension VIF without its extension bit announces a true VIF that never comes.
            return tables.ValueInfo("Unknown"), [], 0, "extension VIF without a following VIFE", vif_code
        table = tables.EXTENSION_FB if primary == 0x7B else tables.EXTENSION_FD
        true_vif = rest[0] & 0x7F
        prefix = "FB" if primary == 0x7B else "FD"
        vif_code = f"{prefix}{true_vif:02X}"
        info = table.get(true_vif, tables.ValueInfo("Reserved"))
        rest = rest[1:]
    elif primary == 0x7F:
        return tables.PRIMARY[0x7F], [], 0, None, vif_code
    else:
        info = tables.PRIMARY.get(primary, tables.ValueInfo("Reserved"))
    qualifiers: list[str] = []
    exponent = 0
    error = None
    for index, vife in enumerate(rest):
        code = vife & 0x7F
        if code == 0x7F:
            qualifiers.append("manufacturer specific")
            break
        if code < 0x20:
            error = tables.RECORD_ERRORS.get(code, f"record error 0x{code:02X}")
        elif 0x70 <= code <= 0x77:
            exponent += (code & 0x07) - 6
        elif code == 0x7D:
            exponent += 3
        elif code == 0x7C:
            # Extension of the combinable table: the next VIFE belongs to it; we name it by code.
            following = rest[index + 1] & 0x7F if index + 1 < len(rest) else None
            qualifiers.append(f"extended VIFE {following:02X}" if following is not None else "extended VIFE")
            break
        else:
            qualifiers.append(tables.COMBINABLE.get(code, f"reserved VIFE {code:02X}"))
    return info, qualifiers, exponent, error, vif_code


def _lvar(cursor: _Cursor, lvar: int, start: int) -> tuple[bytes, str | None, int | None, str]:
    """Variable-length data: ASCII text, signed BCD or binary, by the LVAR byte's range."""
    if lvar <= 0xBF:
        data = cursor.take(lvar, f"text of the record at byte {start}")
        return data, data[::-1].decode("latin-1"), None, "text"
    if 0xC0 <= lvar <= 0xC9 or 0xD0 <= lvar <= 0xD9:
        size = lvar & 0x0F
        data = cursor.take(size, f"BCD of the record at byte {start}")
        raw = int(data[::-1].hex()) if data[::-1].hex().isdigit() else None
        if raw is None:
            return data, _bcd_text(data), None, "text"
        return data, None, -raw if lvar >= 0xD0 else raw, "bcd"
    if 0xE0 <= lvar <= 0xEF:
        data = cursor.take(lvar - 0xE0, f"binary data of the record at byte {start}")
        return data, None, None, "binary"
    if 0xF0 <= lvar <= 0xF4:
        data = cursor.take(4 * (lvar - 0xEC), f"binary data of the record at byte {start}")
        return data, None, None, "binary"
    if lvar in (0xF5, 0xF6):
        data = cursor.take(48 if lvar == 0xF5 else 64, f"binary data of the record at byte {start}")
        return data, None, None, "binary"
    raise FrameError(f"reserved LVAR 0x{lvar:02X} in the record at byte {start}")


def _year(low_bits: int, century_bits: int) -> int:
    if century_bits:
        return 1900 + 100 * century_bits + low_bits
    return (1900 if low_bits >= 81 else 2000) + low_bits


def _date_time(data: bytes) -> tuple[str, datetime | date | time | None, bool]:
    """Types G (2 bytes), J (3), F (4) and I (6). Returns text, the moment when valid, invalid flag."""
    if len(data) == 3:
        second, minute, hour = data[0] & 0x3F, data[1] & 0x3F, data[2] & 0x1F
        text = f"{hour:02d}:{minute:02d}:{second:02d}"
        try:
            return text, time(hour, minute, second), False
        except ValueError:
            return text, None, True
    seconds = None
    if len(data) == 6:
        seconds, data = data[0] & 0x3F, data[1:5]
    if len(data) == 2:
        day, month = data[0] & 0x1F, data[1] & 0x0F
        year = _year(((data[0] & 0xE0) >> 5) | ((data[1] & 0xF0) >> 1), 0)
        text = f"{year:04d}-{month:02d}-{day:02d}"
        try:
            return text, date(year, month, day), False
        except ValueError:
            return text, None, True
    minute, hour = data[0] & 0x3F, data[1] & 0x1F
    invalid_flag = bool(data[0] & 0x80)
    day, month = data[2] & 0x1F, data[3] & 0x0F
    year = _year(((data[2] & 0xE0) >> 5) | ((data[3] & 0xF0) >> 1), (data[1] >> 5) & 0x03)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}"
    if seconds is not None:
        text += f":{seconds:02d}"
    if invalid_flag:
        return text, None, True
    try:
        return text, datetime(year, month, day, hour, minute, seconds or 0), False
    except ValueError:
        return text, None, True


# --------------------------------------------------------------------------------------------------
# Readings


def telegram_readings(telegram: Telegram, *, series_prefix: str = "") -> list[Reading]:
    """Numeric records as readings; text, dates and manufacturer blobs stay in the telegram."""
    readings = []
    for record, name in zip(telegram.records, unique_series(telegram.records), strict=True):
        if record.value is None:
            continue
        extra: dict[str, Any] = {"quantity": record.quantity, "vif": record.vif.hex().upper()}
        if record.error:
            extra["record_error"] = record.error
        readings.append(
            Reading(series=series_prefix + name, value=record.value, unit=record.unit, extra=extra)
        )
    return readings


def decode_hex(text: str) -> Telegram:
    """Hex text to a decoded telegram, the inspector's and the tests' entry point."""
    return decode_telegram(parse_hex(text))


# --------------------------------------------------------------------------------------------------
# Encoding helpers for the client and the simulator


def encode_secondary_address(
    identification: str,
    manufacturer: str | None = None,
    version: int | None = None,
    medium: int | None = None,
) -> bytes:
    """Eight selection bytes; ``F`` digits in the id and None fields are wildcards."""
    ident = identification.upper().rjust(8, "0")
    if not re.fullmatch(r"[0-9F]{8}", ident):
        raise ValueError(f"secondary id must be 8 decimal digits or F wildcards, got {identification!r}")
    data = bytes.fromhex(ident)[::-1]
    if manufacturer is None:
        data += b"\xff\xff"
    else:
        letters = manufacturer.upper()
        if not re.fullmatch(r"[A-Z@]{3}", letters):
            raise ValueError(f"manufacturer must be three letters, got {manufacturer!r}")
        code = ((ord(letters[0]) - 64) << 10) | ((ord(letters[1]) - 64) << 5) | (ord(letters[2]) - 64)
        data += code.to_bytes(2, "little")
    data += bytes([0xFF if version is None else version, 0xFF if medium is None else medium])
    return data


def secondary_matches(selection: bytes, header: SlaveHeader) -> bool:
    """Whether a slave with ``header`` answers a selection (wildcards: F nibbles, 0xFF bytes)."""
    wanted = selection[0:4][::-1].hex().upper()
    ident = (header.identification or "").upper()
    if len(ident) != 8 or any(w != "F" and w != d for w, d in zip(wanted, ident, strict=True)):
        return False
    man = int.from_bytes(selection[4:6], "little")
    if man != 0xFFFF and _manufacturer(man) != header.manufacturer:
        return False
    if selection[6] != 0xFF and selection[6] != header.version:
        return False
    return selection[7] == 0xFF or selection[7] == header.medium
