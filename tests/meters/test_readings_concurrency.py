"""Two ingestions of overlapping batches at once (PostgreSQL): every reading exists exactly once,
both succeed (no deadlock, no unique violation), and the summaries add up."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from meters.models import MeterReading
from meters.services.readings import readings_ingest
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory
from tests.support.factories import OrganizationFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_ingestions_store_each_reading_once(monkeypatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so there is no concurrency to test")
    monkeypatch.setattr("meters.services.readings.CHUNK_SIZE", 500)
    org = OrganizationFactory()
    meters = [MeterDeviceFactory(organization=org, name=f"M{i}").name for i in range(20)]
    MeterReadingSeriesFactory(organization=org, name="energy")
    MeterReadingSeriesFactory(organization=org, name="power")

    def items(hours: range) -> list[dict]:
        return [
            {
                "meter_device_name": m,
                "series_name": s,
                "timestamp": f"2024-01-01T{h:02d}:{q * 15:02d}:00Z",
                "value": h,
            }
            for h in hours
            for q in range(4)
            for m in meters
            for s in ("energy", "power")
        ]

    batches = [items(range(0, 16)), list(reversed(items(range(6, 24))))]  # overlap 6..15, opposite orders
    results, errors = [None, None], []
    barrier = threading.Barrier(2)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = readings_ingest(organization_id=org.pk, items=batches[i])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    total = 24 * 4 * 20 * 2
    assert MeterReading.objects.count() == total
    assert results[0].saved + results[1].saved == total
    overlap = 10 * 4 * 20 * 2
    assert results[0].duplicates + results[1].duplicates == overlap
