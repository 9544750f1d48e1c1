"""GET /api/v1/amr/jobs/: job history, tenant-scoped, filterable."""

from __future__ import annotations

from amr.models import AmrJob, AmrJobAttempt, JobState
from tests.meters.factories import AmrTaskFactory, MeterDeviceFactory
from tests.support.api import APIViewTestCases, detail_url


def make_job(organization, **fields) -> AmrJob:
    meter = fields.pop("meter_device", None) or MeterDeviceFactory(organization=organization)
    task = fields.pop("task", None) or AmrTaskFactory(organization=organization)
    return AmrJob.objects.create(
        organization=organization,
        meter_device=meter,
        task=task,
        meter_execution_type="generic_iec6205621",
        task_call="readout",
        **fields,
    )


class TestJobs(APIViewTestCases.List, APIViewTestCases.Retrieve):
    url = "/api/v1/amr/jobs/"
    filters = {
        "meter_device": lambda job: job.meter_device_id,
        "task": lambda job: job.task_id,
        "state": lambda job: job.state,
    }

    def make_object(self, organization):
        # every object differs in state so the state filter narrows too
        count = AmrJob.objects.count()
        return make_job(organization, state=list(JobState)[count % len(JobState)])


def test_job_shows_attempts_timestamps_error_and_readings(personas) -> None:
    job = make_job(personas.org_a, state=JobState.FAILED, attempts=2, error="no answer", readings_count=7)
    AmrJobAttempt.objects.create(job=job, number=1, started_at=job.created_at, outcome="retry", error="x")
    body = personas.client("viewer_a").get(detail_url(TestJobs.url, job.pk)).json()
    assert body["state"] == "failed" and body["attempts"] == 2 and body["error"] == "no answer"
    assert body["readings_count"] == 7 and body["created_at"] and "started_at" in body
    assert body["attempt_history"][0]["number"] == 1


def test_jobs_are_read_only(personas) -> None:
    job = make_job(personas.org_a)
    client = personas.client("staff")
    assert client.post(TestJobs.url, {}, format="json").status_code == 405
    assert client.delete(detail_url(TestJobs.url, job.pk)).status_code == 405


def test_unknown_state_filter_is_400(personas) -> None:
    assert personas.client("staff").get(TestJobs.url, {"state": "exploded"}).status_code == 400
