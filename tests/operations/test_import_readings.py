"""``manage.py import_readings``: readings from CSV through the ingestion service, in chunks."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from meters.models import MeterReading, StagedMeterReading
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory

HEADER = "meter_device_name,series_name,timestamp,value\n"


def run(path: Path, organization, *extra: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "import_readings",
        str(path),
        "--organization",
        organization.name,
        "--no-progress",
        *extra,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


@pytest.fixture
def meter(organization):
    MeterReadingSeriesFactory(organization=organization, name="1.8.0", unit="kWh")
    return MeterDeviceFactory(organization=organization, name="M1")


def test_rows_are_stored_exactly_in_chunks(tmp_path, organization, meter) -> None:
    rows = "".join(f"M1,1.8.0,2025-01-01T{h:02d}:00:00+01:00,{1000 + h}.125\n" for h in range(24))
    path = tmp_path / "r.csv"
    path.write_text(HEADER + rows)
    out, err = run(path, organization, "--chunk-size", "5")
    assert "24 row(s): 24 saved, 0 duplicate(s)" in out and err == ""
    first = MeterReading.objects.order_by("timestamp").first()
    assert str(first.value) == "1000.125" and first.timestamp.isoformat() == "2024-12-31T23:00:00+00:00"
    out, _ = run(path, organization)  # again: every row is a duplicate
    assert "0 saved, 24 duplicate(s)" in out
    assert MeterReading.objects.count() == 24


def test_bad_rows_name_their_line_and_the_others_are_kept(tmp_path, organization, meter) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        HEADER
        + "M1,1.8.0,2025-01-01T00:00:00Z,1.5\n"  # line 2: fine
        + "M1,1.8.0,2025-01-01 01:00:00,2.5\n"  # line 3: no offset
        + "M1,1.8.0,2025-01-01T02:00:00Z,lots\n"  # line 4: not a number
        + "M1,1.8.0,2025-01-01T03:00:00Z\n"  # line 5: no value
        + "unknown-meter,1.8.0,2025-01-01T04:00:00Z,4\n"  # line 6: staged
        + "M1,1.8.0,2025-01-01T05:00:00Z,5,surplus\n"  # line 7: too many cells
        + "M1,1.8.0,2025-01-01T06:00:00Z,6\n"  # line 8: fine
    )
    with pytest.raises(CommandError, match="4 line"):
        run(path, organization, "--chunk-size", "2")
    assert sorted(str(v) for v in MeterReading.objects.values_list("value", flat=True)) == ["1.5", "6"]
    assert StagedMeterReading.objects.filter(meter_device_name="unknown-meter").count() == 1


def test_error_report_lists_lines_in_order(tmp_path, organization, meter) -> None:
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "M1,1.8.0,yesterday,1\nM1,1.8.0,2025-01-01T00:00:00Z,1\nM1,1.8.0,now,2\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_readings",
            str(path),
            "--organization",
            organization.name,
            "--no-progress",
            stderr=err,
            stdout=StringIO(),
        )
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["line 2", "line 4"]
    assert MeterReading.objects.count() == 1


def test_a_file_without_the_columns_is_refused(tmp_path, organization) -> None:
    path = tmp_path / "r.csv"
    path.write_text("meter,when,value\nM1,2025-01-01T00:00:00Z,1\n")
    with pytest.raises(CommandError, match="missing column"):
        run(path, organization)
