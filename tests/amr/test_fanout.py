"""Fan-out at scale: 10,000 meter devices on one quarterly task are planned with a bounded
number of SQL statements and enqueued on the real broker (PostgreSQL + Redis)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from amr.models import AmrJob, AmrScheduleCursor
from amr.services import schedule_tick
from meters.models import MeterDevice
from tests.meters.factories import AmrTaskFactory, AmrTaskGroupFactory
from utilitarian.celery import scheduled_queue

from .broker import purge, queue_length, require_redis
from .support import postgres_only

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(**postgres_only)]

METERS = 10_000


def test_ten_thousand_meters_in_one_tick(organization, django_assert_max_num_queries) -> None:
    require_redis()
    queue = scheduled_queue("quarterly")
    purge(queue)
    task = AmrTaskFactory(organization=organization, schedule="quarterly", task_call="readout")
    group = AmrTaskGroupFactory(organization=organization, tasks=[task])
    meters = MeterDevice.objects.bulk_create(
        [
            MeterDevice(organization=organization, name=f"m{i:05d}", protocol="iec62056-21")
            for i in range(METERS)
        ],
        batch_size=2000,
    )
    through = MeterDevice.task_groups.through
    through.objects.bulk_create(
        [through(meterdevice_id=m.pk, amrtaskgroup_id=group.pk) for m in meters], batch_size=5000
    )
    # a few meters also carry the task directly: still one job each
    MeterDevice.meter_tasks.through.objects.bulk_create(
        [MeterDevice.meter_tasks.through(meterdevice_id=m.pk, amrtask_id=task.pk) for m in meters[:100]]
    )
    AmrScheduleCursor.objects.create(name="beat", planned_until=datetime(2025, 5, 1, 9, 59, tzinfo=UTC))
    started = time.perf_counter()
    try:
        with django_assert_max_num_queries(10):
            result = schedule_tick(now=datetime(2025, 5, 1, 10, 0, 5, tzinfo=UTC))
        elapsed = time.perf_counter() - started
        assert result.planned == result.enqueued == METERS
        assert queue_length(queue) == METERS
        assert AmrJob.objects.filter(task=task).count() == METERS
        assert elapsed < 30, f"fan-out of {METERS} took {elapsed:.1f} s"
        # a second beat finds nothing to do
        AmrScheduleCursor.objects.filter(name="beat").update(
            planned_until=datetime(2025, 5, 1, 9, 59, tzinfo=UTC)
        )
        assert schedule_tick(now=datetime(2025, 5, 1, 10, 0, 6, tzinfo=UTC)).enqueued == 0
        assert queue_length(queue) == METERS
    finally:
        purge(queue)
