"""Profile generic (class 7) buffers: rows of captured values, named by their capture objects.

Attribute 3 (capture_objects) lists the columns as ``{class_id, logical_name, attribute, data_index}``;
attribute 2 (buffer) is an array of structures, one per row, in that column order. Meters may
compress the buffer: a null clock cell means "previous row + capture period" (attribute 4), so
the timestamps are rebuilt here rather than left empty. Buffer cells carry no scaler; a register's
scaler comes from its attribute 3 and is applied by the caller.

Range selective access (selector 1) restricts the rows by the clock column; these helpers build
the parameter so that the simulator and the client agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..errors import FrameError
from . import axdr
from .axdr import CosemDateTime, Data, date_time_from_octets
from .obis import obis_iec

CLOCK_CLASS = 8


@dataclass(frozen=True)
class CaptureObject:
    class_id: int
    logical_name: bytes
    attribute: int
    data_index: int = 0

    @property
    def obis(self) -> str:
        return obis_iec(self.logical_name)

    @property
    def is_clock(self) -> bool:
        return self.class_id == CLOCK_CLASS and self.attribute == 2

    def to_data(self) -> Data:
        return axdr.structure(
            axdr.uint16(self.class_id),
            axdr.octets(self.logical_name),
            axdr.int8(self.attribute),
            axdr.uint16(self.data_index),
        )

    @classmethod
    def from_data(cls, item: Data) -> CaptureObject:
        try:
            class_id, name, attribute, index = (v.value for v in item.value)
        except (TypeError, ValueError) as exc:
            raise FrameError(f"capture object is not a 4-element structure: {exc}") from None
        return cls(class_id, name, attribute, index)


def capture_objects_from_data(item: Data) -> list[CaptureObject]:
    if item.tag != axdr.ARRAY:
        raise FrameError("capture_objects is not an array")
    return [CaptureObject.from_data(v) for v in item.value]


@dataclass
class ProfileRow:
    timestamp: datetime | None
    clock_status: int | None
    values: dict[str, Any] = field(default_factory=dict)  # IEC OBIS -> raw python value


def _cell(item: Data) -> Any:
    if item.tag == axdr.OCTET_STRING:
        stamp = date_time_from_octets(item.value)
        return stamp if stamp is not None else item.value
    return item.value


def rows_from_buffer(
    buffer: Data,
    columns: list[CaptureObject],
    capture_period: int = 0,
    default_tz: tzinfo | None = None,
    previous: datetime | None = None,
) -> list[ProfileRow]:
    """Rows of a buffer; compressed (null) clock cells are rebuilt from the capture period.

    ``default_tz`` is the meter's zone for timestamps whose deviation is "not specified".
    """
    if buffer.tag != axdr.ARRAY:
        raise FrameError("profile buffer is not an array")
    rows = []
    for entry in buffer.value:
        if entry.tag != axdr.STRUCTURE or len(entry.value) != len(columns):
            raise FrameError(f"profile row has {len(entry.value)} cells for {len(columns)} capture objects")
        row = ProfileRow(None, None)
        for column, cell in zip(columns, entry.value, strict=True):
            value = _cell(cell)
            if column.is_clock:
                if isinstance(value, CosemDateTime):
                    row.timestamp = value.to_datetime(default_tz)
                    row.clock_status = None if value.clock_status == 0xFF else value.clock_status
                elif value is None and previous is not None and capture_period:
                    row.timestamp = previous + timedelta(seconds=capture_period)
                continue
            row.values[column.obis] = value
        previous = row.timestamp or previous
        rows.append(row)
    return rows


def range_parameters(
    start: datetime | None, end: datetime | None, clock: CaptureObject | None = None
) -> Data:
    """Selector 1 parameter: rows whose clock lies in [start, end]."""
    clock = clock or CaptureObject(CLOCK_CLASS, bytes([0, 0, 1, 0, 0, 255]), 2)
    lowest = CosemDateTime(2000, 1, 1, 0xFF, 0, 0, 0, 0, 0, 0xFF)
    highest = CosemDateTime(2199, 12, 31, 0xFF, 23, 59, 59, 0, 0, 0xFF)
    low = CosemDateTime.from_datetime(start) if start else lowest
    high = CosemDateTime.from_datetime(end) if end else highest
    return axdr.structure(
        clock.to_data(), axdr.date_time_octets(low), axdr.date_time_octets(high), axdr.array([])
    )
