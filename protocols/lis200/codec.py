"""LIS-200 addressing, time format and archive rows, on top of the IEC 62056-21 codec.

LIS-200 (Elster/Honeywell EK2xx volume correctors, DL2xx data loggers) keeps the IEC 62056-21
mode C framing (sign-on, option select, SOH/STX blocks with BCC) but addresses its objects as
``instance:address.attribute``: ``2:300.0`` is attribute 0 (the value) of object 300 in instance 2.
The platform's meter configs write the short form ``2.300`` (instance.address), which we map to the
wire form with attribute 0. Archives are objects ``<archive>:V``; an ``R3`` read of
``<archive>:V.0(<position>;<from>;<to>;1)`` returns the archive rows whose column ``<position>``
(the control position, normally the row's time stamp) lies in the range. Each row is one line of
``(...)`` groups, one per column; long answers come as several blocks, each but the last ended by
EOT and fetched with ACK.

Times on the wire are the device's local time as ``YYYY-MM-DD,hh:mm:ss``; the caller's timezone
(the meter config's zone) turns them into aware UTC datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from protocols.errors import FrameError
from protocols.iec62056_21.codec import EOT, ETX, DataValue, decode_block, decode_capture, parse_datasets

TIME_FORMAT = "%Y-%m-%d,%H:%M:%S"
_ADDRESS_RE = re.compile(r"^\s*(\d+)\s*[:.]\s*([0-9A-Za-z]+)(?:\.(\d+))?\s*$")


@dataclass(frozen=True)
class Lis200Address:
    """``instance:address.attribute`` (attribute 0 is the value)."""

    instance: int
    address: str
    attribute: int = 0

    @classmethod
    def parse(cls, text: str) -> Lis200Address:
        """Accept ``2.301``, ``2:301`` and ``2:301.0``. ``2.301.2`` means attribute 2 of 2:301."""
        match = _ADDRESS_RE.match(text)
        if not match:
            raise ValueError(f"not a LIS-200 address: {text!r} (expected e.g. 2.301 or 2:301.0)")
        instance, address, attribute = match.groups()
        return cls(int(instance), address.upper() if not address.isdigit() else address, int(attribute or 0))

    @property
    def wire(self) -> str:
        return f"{self.instance}:{self.address}.{self.attribute}"

    def __str__(self) -> str:
        return self.wire


def archive_address(archive_number: int) -> str:
    return f"{int(archive_number)}:V.0"


def archive_request(archive_number: int, control_position: int, start: str, end: str) -> tuple[str, str]:
    """The R3 address and parameter for a range read (``end`` may be empty: up to the newest row)."""
    return archive_address(archive_number), f"{int(control_position)};{start};{end};1"


def format_time(moment: datetime, tz: tzinfo) -> str:
    """Aware datetime -> the device's local ``YYYY-MM-DD,hh:mm:ss``. Naive datetimes are UTC."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(tz).strftime(TIME_FORMAT)


def parse_time(text: str, tz: tzinfo) -> datetime:
    """The device's local time text -> aware UTC."""
    try:
        local = datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError as exc:
        raise FrameError(f"not a LIS-200 time: {text!r}") from exc
    return local.replace(tzinfo=tz).astimezone(UTC)


def parse_rows(payload: bytes) -> list[tuple[DataValue, ...]]:
    """Archive block payload -> one tuple of column values per row (one row per line)."""
    datasets, _noise, _end = parse_datasets(payload)
    return [ds.values for ds in datasets]


def error_code(payload: bytes) -> str | None:
    """``(#0013)`` style answers are device error codes (no such object, access denied, no data)."""
    text = payload.decode("latin-1").strip()
    found = re.search(r"\(#(\d+)\)", text)
    return f"#{found.group(1)}" if found else None


def decode_frames(data: bytes, *, strict: bool = True) -> list[dict[str, Any]]:
    """Every SOH/STX block in ``data`` (a command, an answer, the blocks of an archive answer).

    A capture that starts with a sign-on is handed to the IEC 62056-21 decoder instead.
    """
    start = 0
    while start < len(data) and data[start] in b"\x7f\r\n\x00 ":
        start += 1
    if start < len(data) and data[start] == ord("/"):
        return [telegram.to_dict() for telegram in decode_capture(data, strict=strict)]
    frames = []
    pos = start
    while pos < len(data):
        telegram, _command, pos = _block_at(data, pos, strict)
        frames.append(telegram)
        while pos < len(data) and data[pos] in b"\x7f\r\n\x00 ":
            pos += 1
    if not frames:
        raise FrameError("no SOH/STX block in the data")
    return frames


def _block_at(data: bytes, pos: int, strict: bool) -> tuple[dict[str, Any], str | None, int]:
    telegram, command, used = decode_block(data[pos:], strict=strict)
    end_byte = data[pos + used - 2] if pos + used - 2 < len(data) else None
    datasets = []
    for ds in telegram.datasets:
        entry = ds.to_dict()
        entry.pop("obis", None)
        try:
            entry["lis200_address"] = Lis200Address.parse(ds.address).wire if ds.address else None
        except ValueError:
            entry["lis200_address"] = None
        datasets.append(entry)
    frame = {
        "command": command,
        "end": {ETX: "ETX", EOT: "EOT"}.get(end_byte, None),
        "checksum": telegram.checksum.to_dict() if telegram.checksum else None,
        "error_code": None,
        "values": datasets,
    }
    codes = [v["value"] for ds in datasets for v in ds["values"] if v["value"].startswith("#")]
    frame["error_code"] = codes[0] if codes else None
    return frame, command, pos + used
