"""The PostgreSQL fast path: readings are streamed with a binary COPY straight into the table
while the batch is parsed, and a chunk that meets stored readings (the COPY fails on the unique
key) is rolled back and goes in with ``ON CONFLICT DO NOTHING``, without losing, doubling or
replacing a reading."""

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


def spy_fallbacks(monkeypatch) -> list[int]:
    """The sizes of the chunks that went down the ``ON CONFLICT`` path."""
    sizes: list[int] = []
    real = service._insert_chunk_on_conflict

    def spy(cursor, table, encoder, rows, chunk) -> int:
        sizes.append(len(chunk))
        return real(cursor, table, encoder, rows, chunk)

    monkeypatch.setattr(service, "_insert_chunk_on_conflict", spy)
    return sizes


def test_new_readings_take_the_copy_path(org, monkeypatch) -> None:
    fallbacks = spy_fallbacks(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=items(range(0, 10)))
    assert fallbacks == []
    assert (summary.saved, summary.duplicates) == (10, 0)
    assert MeterReading.objects.filter(organization=org).count() == 10


def test_overlapping_readings_are_rolled_back_and_retried_without_replacing(org, monkeypatch) -> None:
    service.readings_ingest(organization_id=org.pk, items=items(range(0, 10)))
    fallbacks = spy_fallbacks(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=items(range(5, 15)))
    assert fallbacks == [10]  # the COPY met hour 5: the whole chunk went the other way
    assert (summary.saved, summary.duplicates) == (5, 5)
    stored = MeterReading.objects.filter(organization=org).order_by("timestamp")
    assert [r.timestamp.hour for r in stored] == list(range(15))
    assert [int(r.value) for r in stored] == list(range(15))  # the originals were not replaced


def test_a_conflict_late_in_a_streamed_chunk_loses_nothing(org, monkeypatch) -> None:
    """Chunks of 7 streamed in slices of 3: the second chunk's last row is stored already. Only
    that chunk falls back; the chunks around it are copied; every row is counted once."""
    monkeypatch.setattr(service, "CHUNK_SIZE", 7)
    monkeypatch.setattr(service._CopyEncoder, "SLICE", 3)
    service.readings_ingest(organization_id=org.pk, items=items(range(13, 14)))
    fallbacks = spy_fallbacks(monkeypatch)
    batch = items(range(0, 20))
    summary = service.readings_ingest(organization_id=org.pk, items=batch + batch[:4])
    assert fallbacks == [7]
    assert (summary.saved, summary.duplicates) == (19, 5)
    stored = MeterReading.objects.filter(organization=org).order_by("timestamp")
    assert [(r.timestamp.hour, int(r.value)) for r in stored] == [(h, h) for h in range(20)]


def test_a_chunk_enclosed_in_a_transaction_falls_back_on_a_savepoint(org, monkeypatch) -> None:
    from django.db import transaction

    service.readings_ingest(organization_id=org.pk, items=items(range(3, 4)))
    fallbacks = spy_fallbacks(monkeypatch)
    with transaction.atomic():
        summary = service.readings_ingest(organization_id=org.pk, items=items(range(0, 6)))
        assert MeterReading.objects.filter(organization=org).count() == 6  # usable afterwards
    assert fallbacks == [6] and (summary.saved, summary.duplicates) == (5, 1)


@pytest.mark.parametrize("path", ["copy", "on_conflict"])
def test_both_paths_store_values_and_timestamps_exactly(org, monkeypatch, path) -> None:
    """Both paths send the binary COPY stream that _CopyEncoder builds, one into the table, one
    into the temporary table: awkward values round-trip exactly either way."""
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
    if path == "on_conflict":  # a stored reading at the end of the batch's span
        service.readings_ingest(
            organization_id=org.pk, items=[{**batch[-1], "timestamp": "2024-02-29T23:59:30+01:00"}]
        )
        batch.append({**batch[-1], "timestamp": "2024-02-29T23:59:30+01:00"})
        values.append(values[-1])
    fallbacks = spy_fallbacks(monkeypatch)
    summary = service.readings_ingest(organization_id=org.pk, items=batch)
    assert fallbacks == ([] if path == "copy" else [len(batch)])
    assert summary.saved == len(batch) - (path == "on_conflict")
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
