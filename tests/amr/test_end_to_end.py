"""End to end: the beat's tick and the invoke endpoint enqueue jobs on the real broker, a real
Celery worker (in a thread, consuming the AMR queues) runs them against a loopback IEC 62056-21
simulator, and the readings are in the database. Needs PostgreSQL and Redis (the CI pass)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from amr.models import AmrJob, AmrScheduleCursor, JobState
from amr.scheduling import slot_floor
from amr.services import schedule_tick
from meters.models import MeterReading, MeterSecurityKeyCollection
from tests.meters.factories import AmrTaskFactory, AmrTaskGroupFactory
from tests.support.factories import OrganizationFactory
from tests.support.waiting import wait_until
from utilitarian.celery import QUEUE_AMR, QUEUE_AMR_ON_DEMAND, SCHEDULES, app, scheduled_queue

from .broker import purge, require_redis
from .support import Forwarder, free_port, meter_at, on_demand_job, postgres_only

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(**postgres_only)]

QUEUES = [QUEUE_AMR, QUEUE_AMR_ON_DEMAND, *(scheduled_queue(s) for s in SCHEDULES)]


@pytest.fixture
def worker(transactional_db):
    require_redis()
    purge(*QUEUES)
    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, queues=QUEUES, shutdown_timeout=20
    ) as controller:
        yield controller
    purge(*QUEUES)


def wait_for(predicate) -> None:
    wait_until(predicate, timeout=30, interval=0.1, what="the worker's progress")


def test_scheduled_and_on_demand_jobs_end_in_the_readings_table(worker, iec_simulator, personas, settings):
    settings.AMR_RETRY_BACKOFF_SECONDS = 0.2
    organization = personas.org_a
    organization.auto_create_series = True
    organization.save()
    task = AmrTaskFactory(organization=organization, schedule="quarterly", task_call="readout")
    group = AmrTaskGroupFactory(organization=organization, tasks=[task])
    meters = [meter_at(organization, iec_simulator.port, task_groups=[group]) for _ in range(3)]
    # three meters behind one modem: the block serializes them, the worker completes all
    for meter in meters[1:]:
        meter.network_interface = meters[0].network_interface
        meter.save()

    MeterSecurityKeyCollection.objects.create(meter=meters[0], iec62056_21_password=iec_simulator.password)

    now = timezone.now()
    # the window holds exactly one quarterly slot: the current one
    AmrScheduleCursor.objects.create(
        name="beat", planned_until=slot_floor("quarterly", now) - timedelta(seconds=1)
    )
    result = schedule_tick(now=now)
    assert result.enqueued == 3 and result.planned == 3

    response = personas.client("operator_a").post(
        "/api/v1/metering/amr-tasks/invoke/",
        {
            "meter_device": str(meters[0].pk),
            "meter_execution_type": "generic_iec6205621",
            "task_call": "read_registers",
            "task_kwargs": {"addresses": ["1.8.0", "2.8.0"]},
            "run_offset_seconds": 0,
        },
        format="json",
    )
    assert response.status_code == 201
    on_demand = response.json()["id"]

    wait_for(lambda: AmrJob.objects.filter(state__in=[JobState.SUCCEEDED, JobState.FAILED]).count() == 4)
    assert list(AmrJob.objects.exclude(state=JobState.SUCCEEDED).values_list("error", flat=True)) == []
    assert MeterReading.objects.filter(meter_device__in=meters).count() >= 3 * 10
    invoked = AmrJob.objects.get(pk=on_demand)
    assert invoked.readings_count == 2 and invoked.attempts == 1
    scheduled = AmrJob.objects.filter(task=task)
    assert all(job.readings_count == 10 and job.error == "" for job in scheduled)
    assert not meters[0].network_interface.__class__.objects.get(pk=meters[0].network_interface_id).is_blocked


def test_a_refused_connection_is_retried_by_the_worker_until_the_meter_answers(
    worker, iec_simulator, settings
):
    from amr.services import _send_on_demand

    settings.AMR_RETRY_BACKOFF_SECONDS = 0.5
    organization = OrganizationFactory(auto_create_series=True)
    port = free_port()
    job = on_demand_job(meter_at(organization, port))
    _send_on_demand(job.pk, 0)
    wait_for(lambda: AmrJob.objects.get(pk=job.pk).attempts >= 1)
    assert AmrJob.objects.get(pk=job.pk).state in (JobState.RETRYING, JobState.RUNNING)
    forwarder = Forwarder(port, iec_simulator.port)
    forwarder.start()
    try:
        wait_for(lambda: AmrJob.objects.get(pk=job.pk).state == JobState.SUCCEEDED)
    finally:
        forwarder.stop()
    job.refresh_from_db()
    assert job.attempts >= 2 and job.readings_count == 10
    assert MeterReading.objects.filter(meter_device_id=job.meter_device_id).count() == 10
