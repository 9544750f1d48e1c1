"""The simulated field of ``make run``: every demo meter is read by its real driver over a
loopback socket, and the readings land in the database (what a new user sees within minutes)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from amr.models import JobState
from amr.services import job_run, jobs_run_now
from meters.models import MeterReading
from utilitarian.demo import DemoField, demo_seed


@pytest.fixture
def field():
    simulated = DemoField()
    simulated.start()
    yield simulated
    simulated.stop()


def test_every_demo_meter_is_read_through_its_driver(db, field, quick_meters) -> None:
    seeded = demo_seed(ports=field.ports)
    jobs = jobs_run_now(meter_devices=seeded.meters)
    assert len(jobs) == 5
    outcomes = {job.meter_device.name: job_run(job_id=job.pk) for job in jobs}
    failed = {name: o.error for name, o in outcomes.items() if o.state != JobState.SUCCEEDED}
    assert not failed
    stored = {meter.name: MeterReading.objects.filter(meter_device=meter).count() for meter in seeded.meters}
    assert all(count > 0 for count in stored.values()), stored
    # The DLMS load profile covers a day of quarter-hours: many readings, not one.
    assert stored["demo-dlms-1"] >= 96


def test_advance_moves_the_live_counters(db, field, quick_meters) -> None:
    from datetime import timedelta

    seeded = demo_seed(ports=field.ports)
    iec = next(m for m in seeded.meters if m.name == "demo-iec-1")
    before = field._simulators["iec"].registers["1.8.0"][0]
    field.advance(field.started_at + timedelta(hours=10))
    after = field._simulators["iec"].registers["1.8.0"][0]
    assert float(after) > float(before)
    (job,) = jobs_run_now(meter_devices=[iec])
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    value = MeterReading.objects.get(meter_device=iec, series__name="1.8.0").value
    assert value == Decimal(after)
