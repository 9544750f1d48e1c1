"""Running a job against loopback meters: transport, block, retries, failures, nothing lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from amr.models import AmrJob, AmrJobAttempt, AttemptOutcome, JobState
from amr.services import job_run
from meters.models import MeterReading, MeterSecurityKeyCollection, NetworkInterface
from meters.services.network import network_interface_block
from protocols.lis200.simulator import Lis200Simulator

from .support import Forwarder, GarbagePeer, free_port, meter_at, on_demand_job


def test_readout_lands_in_the_readings_table(organization, iec_simulator, fast_retries) -> None:
    meter = meter_at(organization, iec_simulator.port)
    job = on_demand_job(meter)
    outcome = job_run(job_id=job.pk)
    assert outcome.state == JobState.SUCCEEDED, outcome.error
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 1 and job.readings_count == 10
    assert job.started_at and job.finished_at and job.error == ""
    values = dict(MeterReading.objects.filter(meter_device=meter).values_list("series__name", "value"))
    assert str(values["1.8.0"]) == "1846.0"
    assert list(job.attempt_set.values_list("number", "outcome")) == [(1, AttemptOutcome.SUCCEEDED)]
    assert not NetworkInterface.objects.get(pk=meter.network_interface_id).is_blocked


def test_password_comes_from_the_meter_security_keys(organization, iec_simulator, fast_retries) -> None:
    iec_simulator.password = "SECRET42"
    meter = meter_at(organization, iec_simulator.port)
    MeterSecurityKeyCollection.objects.create(meter=meter, iec62056_21_password="SECRET42")
    job = on_demand_job(meter, call="read_registers", kwargs={"addresses": ["1.8.0", "2.8.0"]})
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    assert MeterReading.objects.filter(meter_device=meter).count() == 2


def test_refused_then_accepted_is_retried_with_backoff(organization, iec_simulator, fast_retries) -> None:
    port = free_port()
    meter = meter_at(organization, port)
    job = on_demand_job(meter)
    first = job_run(job_id=job.pk)
    assert first.state == JobState.RETRYING and first.retry_in == pytest.approx(0.01)
    second = job_run(job_id=job.pk)
    assert second.state == JobState.RETRYING and second.retry_in == pytest.approx(0.02)  # exponential
    forwarder = Forwarder(port, iec_simulator.port)
    forwarder.start()
    try:
        assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    finally:
        forwarder.stop()
    job.refresh_from_db()
    assert job.attempts == 3 and job.error == "" and job.readings_count == 10
    attempts = list(job.attempt_set.values_list("outcome", "error"))
    assert [o for o, _ in attempts] == [AttemptOutcome.RETRY, AttemptOutcome.RETRY, AttemptOutcome.SUCCEEDED]
    assert "cannot connect" in attempts[0][1]


def test_retries_stop_at_the_configured_count(organization, fast_retries) -> None:
    fast_retries.AMR_JOB_MAX_RETRIES = 2
    job = on_demand_job(meter_at(organization, free_port()))
    states = [job_run(job_id=job.pk).state for _ in range(3)]
    assert states == [JobState.RETRYING, JobState.RETRYING, JobState.FAILED]
    job.refresh_from_db()
    assert job.attempts == 3 and "gave up after 3 attempts" in job.error and job.finished_at
    assert job_run(job_id=job.pk).skipped  # a finished job is never run again


def test_a_meter_answering_garbage_fails_with_the_decoded_reason(organization, fast_retries) -> None:
    peer = GarbagePeer()
    try:
        job = on_demand_job(meter_at(organization, peer.port))
        outcome = job_run(job_id=job.pk)
    finally:
        peer.stop()
    assert outcome.state == JobState.FAILED
    job.refresh_from_db()
    assert job.attempts == 1 and "not mode C" in job.error and "gave up" not in job.error
    assert not NetworkInterface.objects.get(pk=job.meter_device.network_interface_id).is_blocked


def test_what_was_read_before_a_failure_is_kept(organization, fast_retries) -> None:
    simulator = Lis200Simulator(rows_per_block=10)
    simulator.faults.close_after_blocks = 2
    simulator.start()
    try:
        meter = meter_at(organization, simulator.port)
        job = on_demand_job(
            meter,
            environment="generic_lis200",
            call="read_archive_by_offset_seconds",
            kwargs={"offset_seconds": 100 * 3600, "archive_number": 3, "control_position": 3},
        )
        outcome = job_run(job_id=job.pk)
    finally:
        simulator.stop()
    assert outcome.state == JobState.RETRYING and "partial result" in outcome.error
    job.refresh_from_db()
    assert job.readings_count > 0
    assert MeterReading.objects.filter(meter_device=meter).count() == job.readings_count


def test_unblocks_even_when_the_driver_raises(organization, fast_retries, monkeypatch) -> None:
    from amr.environments.iec6205621 import Iec6205621Environment

    def explode(self):
        raise RuntimeError("driver bug")

    monkeypatch.setattr(Iec6205621Environment, "readout", explode)
    job = on_demand_job(meter_at(organization, free_port()))
    outcome = job_run(job_id=job.pk)
    assert outcome.state == JobState.FAILED and "driver bug" in outcome.error
    assert not NetworkInterface.objects.get(pk=job.meter_device.network_interface_id).is_blocked


def test_a_busy_interface_puts_the_job_back_without_talking_to_the_meter(
    organization, iec_simulator, fast_retries
) -> None:
    meter = meter_at(organization, iec_simulator.port)
    assert network_interface_block(interface_id=meter.network_interface_id, holder="other-job")
    job = on_demand_job(meter)
    outcome = job_run(job_id=job.pk)
    assert outcome.state == JobState.RETRYING and outcome.retry_in > 0
    job.refresh_from_db()
    assert job.busy_waits == 1 and job.attempts == 0 and not AmrJobAttempt.objects.exists()
    assert iec_simulator.received == []


def test_an_expired_lease_is_taken_over(organization, iec_simulator, fast_retries) -> None:
    meter = meter_at(organization, iec_simulator.port)
    network_interface_block(interface_id=meter.network_interface_id, holder="killed-worker", lease=60)
    NetworkInterface.objects.filter(pk=meter.network_interface_id).update(
        block_expires_at=timezone.now() - timedelta(seconds=1)
    )
    job = on_demand_job(meter)
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    assert not NetworkInterface.objects.get(pk=meter.network_interface_id).is_blocked


def test_cleanup_task_releases_expired_blocks(organization) -> None:
    from amr.tasks import cleanup_expired_blocks

    meter = meter_at(organization, 1)
    network_interface_block(interface_id=meter.network_interface_id, holder="killed-worker", lease=60)
    assert cleanup_expired_blocks() == 0  # still leased
    NetworkInterface.objects.filter(pk=meter.network_interface_id).update(
        block_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert cleanup_expired_blocks() == 1
    assert not NetworkInterface.objects.get(pk=meter.network_interface_id).is_blocked


def test_interfaces_that_cannot_block_are_used_without_a_block(
    organization, iec_simulator, fast_retries
) -> None:
    meter = meter_at(organization, iec_simulator.port, can_block=False)
    job = on_demand_job(meter)
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED


def test_a_meter_without_transport_fails_clearly(organization) -> None:
    from tests.meters.factories import MeterDeviceFactory

    job = on_demand_job(MeterDeviceFactory(organization=organization, network_interface=None))
    outcome = job_run(job_id=job.pk)
    assert outcome.state == JobState.FAILED and "no transport" in outcome.error


def test_a_job_delivered_twice_runs_once(organization, iec_simulator, fast_retries) -> None:
    job = on_demand_job(meter_at(organization, iec_simulator.port))
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    assert job_run(job_id=job.pk).skipped
    assert AmrJob.objects.get(pk=job.pk).attempts == 1


def test_a_running_job_whose_worker_died_is_run_again_after_the_lease(
    organization, iec_simulator, fast_retries
) -> None:
    job = on_demand_job(meter_at(organization, iec_simulator.port))
    AmrJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=1)
    assert job_run(job_id=job.pk).skipped  # another worker may still be on it
    AmrJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    assert AmrJob.objects.get(pk=job.pk).attempts == 2


def test_eager_task_retries_until_the_count_is_spent(organization, fast_retries) -> None:
    """The Celery task re-sends itself on a retryable outcome (eager here: task logic only)."""
    from amr.tasks import run_on_demand_job
    from utilitarian.celery import app

    app.conf.task_always_eager = True
    try:
        job = on_demand_job(meter_at(organization, free_port()))
        run_on_demand_job.apply(args=[str(job.pk)])
    finally:
        app.conf.task_always_eager = False
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == 4
