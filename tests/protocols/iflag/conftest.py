"""A Corus simulator holding parameters and an hourly database encoded with the library's own types."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from iflag import data as d

from protocols.iflag.simulator import CorusSimulator

LAYOUT = {
    "hourly": {
        "16": {
            "timestamp_field": "end_date",
            "fields": [
                {"name": "status", "data_type": "byte"},
                {"name": "end_date", "data_type": "date"},
                {"name": "volume", "data_type": "word", "pulse_weighted": True, "unit": "m3"},
                {
                    "name": "converted",
                    "data_type": "ulong",
                    "pulse_weighted": True,
                    "unit": "Nm3",
                    "divisor": "10",
                },
                {"name": "temperature", "data_type": "float1", "unit": "Cel"},
                {"name": "pressure", "data_type": "float2", "unit": "bar"},
                {"name": "spare", "data_type": "byte"},
            ],
        }
    }
}
NEWEST = datetime(2024, 5, 1, 12, 0)  # meter local time (Etc/GMT-1)


def hourly_record(stamp: datetime, volume: int) -> tuple[datetime, bytes]:
    return stamp, (
        d.Byte(3).to_bytes()
        + d.Date(stamp).to_bytes()
        + d.Word(Decimal(volume)).to_bytes()
        + d.ULong(Decimal(volume * 100 + 7)).to_bytes()
        + d.Float1(Decimal(-1612)).to_bytes()
        + d.Float2(Decimal("1.013")).to_bytes()
        + b"\x00"
    )


RECORDS = [hourly_record(NEWEST - timedelta(hours=i), 100 + i) for i in range(24)]
PARAMETERS = {
    1: d.Float(Decimal("0.1")).to_bytes(),  # input pulse weight
    48: (123456).to_bytes(4, "little") + (98700000).to_bytes(4, "little"),  # index 123456.987
    0x5E: d.CorusString("FL_b0040").to_bytes(),
    20: d.Float(Decimal("123456.7")).to_bytes(),
    21: (2**40 - 2).to_bytes(5, "little"),  # all ones would mean "no value"
    300: (513).to_bytes(2, "little"),
}


@pytest.fixture
def corus() -> Iterator[CorusSimulator]:
    with CorusSimulator(PARAMETERS, {"hourly": RECORDS}, frame_data_size=40) as sim:
        yield sim
