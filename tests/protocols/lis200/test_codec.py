"""LIS-200 addressing, time format and archive rows."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from protocols.errors import FrameError
from protocols.lis200.codec import (
    Lis200Address,
    archive_request,
    error_code,
    format_time,
    parse_rows,
    parse_time,
)

GMT_MINUS_1 = ZoneInfo("Etc/GMT-1")  # UTC+1 all year (POSIX sign convention)


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("2.301", "2:301.0"),
        ("2:301", "2:301.0"),
        ("2:301.0", "2:301.0"),
        ("4.300.2", "4:300.2"),
        ("3:v.0", "3:V.0"),
    ],
)
def test_address_forms_map_to_the_wire_form(text: str, wire: str) -> None:
    assert Lis200Address.parse(text).wire == wire


@pytest.mark.parametrize("text", ["", "abc", "2", "2:"])
def test_malformed_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Lis200Address.parse(text)


def test_device_local_time_converts_to_aware_utc() -> None:
    assert parse_time("2024-03-31,02:30:00", GMT_MINUS_1) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert format_time(datetime(2024, 3, 31, 1, 30, tzinfo=UTC), GMT_MINUS_1) == "2024-03-31,02:30:00"
    with pytest.raises(FrameError):
        parse_time("31.03.2024 02:30", GMT_MINUS_1)


def test_archive_request_layout() -> None:
    assert archive_request(3, 3, "2024-01-01,00:00:00", "") == ("3:V.0", "3;2024-01-01,00:00:00;;1")


def test_rows_are_split_per_line_and_keep_units() -> None:
    rows = parse_rows(b"(1)(2024-01-01,00:00:00)(0012.5000*m3)\r\n(2)(2024-01-01,01:00:00)(0013.7500*m3)\r\n")
    assert len(rows) == 2
    assert [v.text for v in rows[1]] == ["2", "2024-01-01,01:00:00", "0013.7500"]
    assert rows[0][2].unit == "m3"


def test_error_codes_are_recognised() -> None:
    assert error_code(b"(#0013)") == "#0013"
    assert error_code(b"(0012.5*m3)") is None
