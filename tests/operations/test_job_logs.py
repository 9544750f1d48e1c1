"""Job logs in the admin: the history list, and a job's page with every attempt and its error."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from amr.models import AmrJob, AmrJobAttempt, AttemptOutcome, JobKind, JobState
from tests.meters.factories import MeterDeviceFactory
from tests.support.factories import UserFactory


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    return client


def test_job_page_shows_each_attempt_and_error(staff_client, organization) -> None:
    meter = MeterDeviceFactory(organization=organization, name="feeder-7")
    job = AmrJob.objects.create(
        organization=organization,
        meter_device=meter,
        kind=JobKind.ON_DEMAND,
        meter_execution_type="generic_iec6205621",
        task_call="readout",
        state=JobState.FAILED,
        attempts=2,
        error="no identification line (gave up after 2 attempts)",
    )
    now = timezone.now()
    AmrJobAttempt.objects.create(
        job=job, number=1, outcome=AttemptOutcome.RETRY, error="timed out", started_at=now
    )
    AmrJobAttempt.objects.create(
        job=job, number=2, outcome=AttemptOutcome.FAILED, error="no identification line", started_at=now
    )
    listing = staff_client.get("/admin/amr/amrjob/?state__exact=failed").content.decode()
    assert "feeder-7" in listing
    detail = staff_client.get(f"/admin/amr/amrjob/{job.pk}/change/").content.decode()
    assert "timed out" in detail and "no identification line (gave up after 2 attempts)" in detail
