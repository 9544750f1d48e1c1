"""The PostgreSQL fast path: new readings are copied straight into the table, and a chunk that
turns out to conflict (a writer committed overlapping rows after the span check) falls back to
``ON CONFLICT DO NOTHING`` without losing or doubling a reading."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from meters.models import MeterReading
from meters.services import readings as service
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the COPY fast path exists only there")


@pytest.fixture
def org():
    org = OrganizationFactory()
    MeterDeviceFactory(organization=org, name="M1")
    MeterReadingSeriesFactory(organization=org, name="energy")
    return org


def items(hours: range) -> list[dict]:
    return [
        {
            "meter_device_name": "M1",
            "series_name": "energy",
            "timestamp": f"2024-01-01T{h:02d}:00:00Z",
            "value": h,
        }
        for h in hours
    ]


def spy_copies(monkeypatch) -> list[bool]:
    outcomes: list[bool] = []
    real = service._copy_new_readings

    def spy(*args, **kwargs) -> bool:
        outcomes.append(real(*args, **kwargs))
        return outcomes[-1]

    monkeypatch.setattr(service, "_copy_new_readings", spy)
    return outcomes


def test_new_readings_take_the_copy_path(org, monkeypatch) -> None:
    copies = spy_copies(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=items(range(0, 10)))
    assert copies == [True]
    assert (summary.saved, summary.duplicates) == (10, 0)


def test_overlapping_readings_take_the_conflict_path(org, monkeypatch) -> None:
    service.readings_ingest(organization_id=org.pk, items=items(range(0, 10)))
    copies = spy_copies(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=items(range(5, 15)))
    assert copies == []  # the span check saw stored readings: no COPY attempted
    assert (summary.saved, summary.duplicates) == (5, 5)
    assert MeterReading.objects.filter(organization=org).count() == 15


def test_a_conflict_found_by_the_copy_is_rolled_back_and_retried(org, monkeypatch) -> None:
    """What a race looks like: the span check saw nothing, yet the COPY hits stored rows."""
    service.readings_ingest(organization_id=org.pk, items=items(range(0, 10)))
    monkeypatch.setattr(service, "_span_has_readings", lambda *args: False)
    copies = spy_copies(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=items(range(5, 15)))
    assert copies == [False]
    assert (summary.saved, summary.duplicates) == (5, 5)
    stored = MeterReading.objects.filter(organization=org).order_by("timestamp")
    assert [r.timestamp.hour for r in stored] == list(range(15))
    assert [int(r.value) for r in stored] == list(range(15))  # the originals were not replaced


def test_the_copy_path_stores_values_and_timestamps_exactly(org, monkeypatch) -> None:
    """The fast path encodes the binary COPY stream itself: awkward values round-trip exactly."""
    values = [
        "0",
        "-0.5",
        "0.000000000000000000000000000000000000001",
        "-1234567890123456789012345678901234567.8",
        "1E+20",
        "99999999.99990000",
        "10000",
        "0.0001",
    ]
    batch = [
        {
            "meter_device_name": "M1",
            "series_name": "energy",
            "timestamp": f"2024-02-29T23:59:{i:02d}.{i * 111111:06d}+01:00",
            "value": value,
        }
        for i, value in enumerate(values)
    ]
    copies = spy_copies(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=batch)
    assert copies == [True] and summary.saved == len(values)
    stored = list(MeterReading.objects.filter(organization=org).order_by("timestamp"))
    assert [r.value for r in stored] == [Decimal(v) for v in values]
    # The scale is kept too (PostgreSQL's numeric writes a positive exponent out in digits).
    scaled = [i for i, v in enumerate(values) if Decimal(v).as_tuple().exponent <= 0]
    assert [str(stored[i].value) for i in scaled] == [str(Decimal(values[i])) for i in scaled]
    assert [r.timestamp for r in stored] == [
        datetime.fromisoformat(item["timestamp"]).astimezone(UTC) for item in batch
    ]
    assert {(r.organization_id, r.meter_device.name, r.series.name) for r in stored} == {
        (org.pk, "M1", "energy")
    }
