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
from tests.support.waiting import wait_until


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


class _Gated(list):
    """Items whose second iteration (the ingestion reads a batch twice: the names it uses, then
    every item as it streams the rows) stops before item ``at`` until ``go`` is set
    (``arrived`` tells the test it got there)."""

    def __init__(self, items, at: int, arrived: threading.Event, go: threading.Event):
        super().__init__(items)
        self.at, self.arrived, self.go = at, arrived, go
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        for index, item in enumerate(list.__iter__(self)):
            if index == self.at and self.passes == 2:
                self.arrived.set()
                assert self.go.wait(30)
            yield item


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_copies_that_deadlock_end_with_every_reading_once() -> None:
    """Two COPYs stream the same new readings of two meters in opposite orders (A then B, B then
    A), and each has stored some of its first meter's when both go on to the second: a real
    deadlock. PostgreSQL stops one; that one rolls its chunk back and goes through ON CONFLICT
    once the other commits. Nothing is lost or doubled."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so there is no deadlock to test")
    org = OrganizationFactory()
    MeterDeviceFactory(organization=org, name="A")
    MeterDeviceFactory(organization=org, name="B")
    MeterReadingSeriesFactory(organization=org, name="energy")
    # COPY inserts in batches of up to 1,000 rows (or 64 kB): 1,000 per meter makes the first
    # meter's rows reach the table while the second's have not been sent yet.
    per_meter = 1000

    def readings(meter: str) -> list[dict]:
        return [
            {
                "meter_device_name": meter,
                "series_name": "energy",
                "timestamp": f"2024-01-01T00:00:{i // 1000:02d}.{i % 1000:03d}Z",
                "value": i,
            }
            for i in range(per_meter)
        ]

    arrived, go = [threading.Event(), threading.Event()], threading.Event()
    batches = [
        _Gated(readings("A") + readings("B"), per_meter, arrived[0], go),
        _Gated(readings("B") + readings("A"), per_meter, arrived[1], go),
    ]
    pids, results, errors = [0, 0], [None, None], []

    def run(i: int) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET deadlock_timeout = '50ms'")
            pids[i] = connection.connection.info.backend_pid
            results[i] = readings_ingest(organization_id=org.pk, items=batches[i])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            arrived[i].set()
        finally:
            connections.close_all()

    before = _deadlocks()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for event in arrived:
        assert event.wait(30)

    def holding_transaction_ids() -> int:  # a backend holds its transaction id once it has stored rows
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'transactionid' AND granted "
                "AND pid = ANY(%s)",
                [pids],
            )
            return cursor.fetchone()[0]

    wait_until(lambda: holding_transaction_ids() == 2, timeout=3, what="both ingestions storing rows")
    go.set()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert MeterReading.objects.count() == 2 * per_meter
    assert sum(r.saved for r in results) == 2 * per_meter
    assert sum(r.duplicates for r in results) == 2 * per_meter
    # The statistics arrive a little after the transaction.
    wait_until(lambda: _deadlocks() > before, timeout=2, what="a deadlock between the two COPYs")
