"""``manage.py reread_period``: on-demand jobs that read a period again, built from each meter's
own period tasks (or one explicit call), sent through the AMR on-demand service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from amr.models import AmrJob, JobKind
from amr.services import job_run
from meters.models import MeterReading
from protocols.lis200.simulator import Lis200Simulator, hourly_archive
from tests.amr.broker import purge, queue_length
from tests.amr.support import meter_at
from tests.meters.factories import AmrTaskFactory, AmrTaskGroupFactory, MeterDeviceFactory
from tests.support.factories import OrganizationFactory
from utilitarian.celery import QUEUE_AMR_ON_DEMAND


@pytest.fixture
def sent():
    """The real on-demand queue of the configured broker (the filesystem broker of the data
    directory, or Redis): emptied first, so its length counts what this test sent."""
    purge(QUEUE_AMR_ON_DEMAND)
    yield lambda: queue_length(QUEUE_AMR_ON_DEMAND)
    purge(QUEUE_AMR_ON_DEMAND)


def reread(organization, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "reread_period",
        "--organization",
        organization.name,
        "--start",
        "2025-03-01",
        "--end",
        "2025-03-07T12:00:00+01:00",
        "--no-progress",
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def test_period_tasks_become_by_date_calls(organization, sent, django_capture_on_commit_callbacks) -> None:
    profile = AmrTaskFactory(
        organization=organization,
        meter_execution_type="generic_dlms",
        task_call="read_profile_by_offset_seconds",
        task_kwargs={"obis_code": "1.0.99.1.0.255", "offset_seconds": 86400},
    )
    clock = AmrTaskFactory(
        organization=organization, meter_execution_type="generic_dlms", task_call="read_clock"
    )
    group = AmrTaskGroupFactory(organization=organization, tasks=[profile, clock])
    m1 = MeterDeviceFactory(organization=organization, name="M1", task_groups=[group])
    m2 = MeterDeviceFactory(organization=organization, name="M2")
    MeterDeviceFactory(organization=organization, name="M3", task_groups=[group])  # not selected
    with django_capture_on_commit_callbacks(execute=True):
        out, err = reread(organization, "--meter", "M1", "--meter", "M2")
    (job,) = AmrJob.objects.all()
    assert job.meter_device_id == m1.pk and job.kind == JobKind.ON_DEMAND
    assert (job.meter_execution_type, job.task_call) == ("generic_dlms", "read_profile_by_date")
    assert job.task_kwargs == {
        "obis_code": "1.0.99.1.0.255",
        "start_date": "2025-03-01T00:00:00+00:00",
        "end_date": "2025-03-07T12:00:00+01:00",
    }
    assert sent() == 1
    assert "1 job(s) sent" in out and "M2: skipped: no AMR task of the meter reads a period" in err
    assert m2.pk not in AmrJob.objects.values_list("meter_device_id", flat=True)


def test_explicit_call_for_a_task_group(organization, sent) -> None:
    group = AmrTaskGroupFactory(organization=organization, name="gas")
    for name in ("G1", "G2"):
        MeterDeviceFactory(organization=organization, name=name, task_groups=[group])
    reread(
        organization,
        "--task-group",
        "gas",
        "--execution-type",
        "generic_lis200",
        "--call",
        "read_archive_by_date",
        "--kwargs",
        '{"archive_number": 3, "control_position": 3}',
    )
    jobs = AmrJob.objects.order_by("meter_device__name")
    assert [j.meter_device.name for j in jobs] == ["G1", "G2"]
    assert all(j.task_call == "read_archive_by_date" and j.task_kwargs["archive_number"] == 3 for j in jobs)


def test_a_refused_call_skips_the_meter_not_the_run(organization, sent) -> None:
    MeterDeviceFactory(organization=organization, name="M1")
    out, err = reread(
        organization, "--all-meters", "--execution-type", "generic_dlms", "--call", "no_such_call"
    )
    assert AmrJob.objects.count() == 0
    assert "M1: skipped: generic_dlms.no_such_call" in err and "0 job(s) sent" in out


def test_bad_arguments_are_command_errors(organization) -> None:
    MeterDeviceFactory(organization=OrganizationFactory(), name="theirs")
    with pytest.raises(CommandError, match="no meter device named 'theirs'"):
        reread(organization, "--meter", "theirs")
    with pytest.raises(CommandError, match="--call needs --execution-type"):
        reread(organization, "--all-meters", "--call", "read_clock")
    with pytest.raises(CommandError, match="before"):
        call_command(
            "reread_period",
            "--organization",
            organization.name,
            "--start",
            "2025-03-02",
            "--end",
            "2025-03-01",
            "--all-meters",
        )


def test_the_reread_job_reads_the_period_from_a_meter(organization, sent, settings) -> None:
    """End to end against the LIS-200 simulator: the job the command builds from an
    "archive of the last hour" task runs and stores the archive rows of the asked day only."""
    settings.AMR_BLOCK_WAIT_SECONDS = 0
    simulator = Lis200Simulator(archives={3: hourly_archive(120, end=datetime(2025, 3, 10))})
    port = simulator.start()
    try:
        archive = AmrTaskFactory(
            organization=organization,
            meter_execution_type="generic_lis200",
            task_call="read_archive_by_offset_seconds",
            task_kwargs={"offset_seconds": 3600, "archive_number": 3, "control_position": 3},
        )
        meter = meter_at(organization, port, name="gas-1")
        meter.meter_tasks.add(archive)
        call_command(
            "reread_period",
            "--organization",
            organization.name,
            "--start",
            "2025-03-07",
            "--end",
            "2025-03-07",
            "--meter",
            "gas-1",
            "--no-progress",
            stdout=StringIO(),
        )
        (job,) = AmrJob.objects.all()
        outcome = job_run(job_id=job.pk)
    finally:
        simulator.stop()
    assert outcome.state == "succeeded", outcome.error
    stamps = set(MeterReading.objects.filter(meter_device=meter).values_list("timestamp", flat=True))
    day = datetime(2025, 3, 7, tzinfo=UTC)
    assert {day + timedelta(hours=h) for h in range(24)} <= stamps
    assert all(day <= stamp <= day + timedelta(days=1) for stamp in stamps)
