"""Bulk ingestion of readings (meters/services/readings.py): the rules, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meters.models import MeterReading, StagedMeterReading
from meters.services.readings import readings_ingest
from tests.meters.factories import (
    MeterDeviceConfigFactory,
    MeterDeviceFactory,
    MeterDeviceTypeFactory,
    MeterReadingSeriesFactory,
)
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory()


@pytest.fixture
def meter(org):
    return MeterDeviceFactory(organization=org, name="M1")


@pytest.fixture
def series(org):
    return MeterReadingSeriesFactory(organization=org, name="energy")


def item(ts="2024-03-01T00:15:00+00:00", value="1.5", meter="M1", series="energy"):
    return {"meter_device_name": meter, "series_name": series, "timestamp": ts, "value": value}


def test_valid_readings_are_saved(org, meter, series) -> None:
    summary = readings_ingest(
        organization_id=org.pk, items=[item(), item(ts="2024-03-01T00:30:00Z", value="2")]
    )
    assert (summary.saved, summary.duplicates, summary.staged, summary.rejected) == (2, 0, 0, 0)
    assert MeterReading.objects.filter(meter_device=meter, series=series, organization=org).count() == 2


def test_duplicate_reading_is_ignored(org, meter, series) -> None:
    readings_ingest(organization_id=org.pk, items=[item()])
    summary = readings_ingest(organization_id=org.pk, items=[item(value="9")])
    assert (summary.saved, summary.duplicates, summary.rejected) == (0, 1, 0)
    assert MeterReading.objects.get().value == Decimal("1.5")


def test_duplicates_within_one_batch_are_counted(org, meter, series) -> None:
    summary = readings_ingest(
        organization_id=org.pk, items=[item(), item(), item(ts="2024-03-01T01:15:00+01:00")]
    )
    # 01:15+01:00 is the same instant as 00:15Z.
    assert (summary.saved, summary.duplicates) == (1, 2)
    assert MeterReading.objects.count() == 1


def test_meter_and_series_may_be_named_by_uuid(org, meter, series) -> None:
    summary = readings_ingest(
        organization_id=org.pk,
        items=[
            {
                "meter_device": str(meter.pk),
                "series": str(series.pk),
                "timestamp": "2024-01-01T00:00Z",
                "value": 1,
            }
        ],
    )
    assert summary.saved == 1


def test_timestamps_are_stored_in_utc(org, meter, series) -> None:
    readings_ingest(organization_id=org.pk, items=[item(ts="2024-03-01T02:00:00+02:00")])
    assert MeterReading.objects.get().timestamp == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)


def test_naive_timestamp_is_rejected(org, meter, series) -> None:
    summary = readings_ingest(organization_id=org.pk, items=[item(ts="2024-03-01T00:15:00")])
    assert summary.rejected == 1
    assert "timezone" in summary.errors[0]["reason"]
    assert MeterReading.objects.count() == 0


def test_many_digit_decimals_round_trip_exactly(org, meter, series) -> None:
    values = ["123456789012345.678901234567890", "0.000000000000000000000000000001", "-1.10", "1E+3"]
    items = [item(ts=f"2024-03-01T00:{i:02d}:00Z", value=v) for i, v in enumerate(values)]
    assert readings_ingest(organization_id=org.pk, items=items).saved == 4
    stored = [r.value for r in MeterReading.objects.order_by("timestamp")]
    assert stored == [Decimal(v) for v in values]
    assert str(stored[0]) == "123456789012345.678901234567890"  # 30 significant digits
    assert str(stored[2]) == "-1.10"


def test_float_values_are_refused(org, meter, series) -> None:
    summary = readings_ingest(organization_id=org.pk, items=[item(value=1.1)])
    assert summary.rejected == 1
    assert "float" in summary.errors[0]["reason"]


def test_mixed_batch_keeps_the_good_items(org, meter, series) -> None:
    items = [
        item(ts="2024-03-01T00:00Z"),
        item(ts="not a date"),
        item(ts="2024-03-01T00:15Z", value="abc"),
        "not an object",
        item(ts="2024-03-01T00:30Z", series="unknown-series"),
        item(ts="2024-03-01T00:45Z", meter="not-yet-known"),
        {"series_name": "energy", "timestamp": "2024-03-01T01:00Z", "value": "1"},
        item(ts="2024-03-01T01:15Z", value="NaN"),
        item(ts="2024-03-01T01:30Z"),
    ]
    summary = readings_ingest(organization_id=org.pk, items=items)
    assert (summary.saved, summary.staged, summary.rejected) == (2, 1, 6)
    assert [e["index"] for e in summary.errors] == [1, 2, 3, 4, 6, 7]
    assert "unknown series" in summary.errors[3]["reason"]
    assert all(e["reason"] for e in summary.errors)


def test_series_outside_the_meter_config_is_rejected(org, series) -> None:
    other = MeterReadingSeriesFactory(organization=org, name="volume")
    config = MeterDeviceConfigFactory(organization=org, series=[series])
    MeterDeviceFactory(
        organization=org, name="M1", type=MeterDeviceTypeFactory(organization=org, config=config)
    )
    summary = readings_ingest(organization_id=org.pk, items=[item(), item(series=other.name)])
    assert (summary.saved, summary.rejected) == (1, 1)
    assert "not in the config" in summary.errors[0]["reason"]


def test_meter_type_without_config_accepts_any_series(org, series) -> None:
    MeterDeviceFactory(organization=org, name="M1", type=MeterDeviceTypeFactory(organization=org))
    assert readings_ingest(organization_id=org.pk, items=[item()]).saved == 1


def test_unknown_meter_is_staged(org, series) -> None:
    summary = readings_ingest(organization_id=org.pk, items=[item(meter="future"), item(meter="future")])
    assert (summary.saved, summary.staged, summary.duplicates) == (0, 1, 1)
    staged = StagedMeterReading.objects.get()
    assert (staged.meter_device_name, staged.series_name, staged.value) == (
        "future",
        "energy",
        Decimal("1.5"),
    )


def test_names_resolve_only_within_the_organization(org, meter, series) -> None:
    other = OrganizationFactory()
    summary = readings_ingest(organization_id=other.pk, items=[item()])
    assert summary.saved == 0 and summary.staged == 1
    assert StagedMeterReading.objects.get().organization == other
    # A UUID of another organization's meter is not resolved (and not staged under a UUID name).
    summary = readings_ingest(
        organization_id=other.pk,
        items=[
            {
                "meter_device": str(meter.pk),
                "series": str(series.pk),
                "timestamp": "2024-01-01T00:00Z",
                "value": 1,
            }
        ],
    )
    assert summary.rejected == 1
    assert MeterReading.objects.count() == 0


def test_auto_create_series_creates_unknown_series(org, meter) -> None:
    org.auto_create_series = True
    org.save()
    summary = readings_ingest(organization_id=org.pk, items=[item(series="1.8.0")])
    assert summary.saved == 1
    assert MeterReading.objects.get().series.name == "1.8.0"


def test_large_batch_in_several_chunks(org, meter, series, monkeypatch) -> None:
    monkeypatch.setattr("meters.services.readings.CHUNK_SIZE", 7)
    items = [
        item(ts=f"2024-03-01T{h:02d}:{m:02d}:00Z", value=str(h * 60 + m)) for h in range(3) for m in range(20)
    ]
    summary = readings_ingest(organization_id=org.pk, items=items + items[:5])
    assert (summary.saved, summary.duplicates) == (60, 5)
