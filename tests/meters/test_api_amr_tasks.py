"""AMR tasks (under /api/v1/metering/): CRUD, schedule offsets, the environment registry, kwargs."""

from __future__ import annotations

import pytest

from amr.models import SCHEDULE_MAX_OFFSET_SECONDS, Schedule
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import AmrTaskFactory

URL = "/api/v1/metering/amr-tasks/"


class TestAmrTasks(APIViewTestCases.CRUD):
    url = URL
    compare_fields = (
        "name",
        "schedule",
        "run_offset_seconds",
        "meter_execution_type",
        "task_call",
        "task_kwargs",
    )

    def make_object(self, organization):
        return AmrTaskFactory(organization=organization)

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "name": "hourly profile",
            "description": "load profile of the last two hours",
            "is_active": True,
            "schedule": "hourly",
            "run_offset_seconds": 120,
            "meter_execution_type": "generic_lis200",
            "task_call": "read_archive_by_offset_seconds",
            "task_kwargs": {"offset_seconds": 7200, "archive_number": 3, "control_position": 10},
        }

    def update_payload(self, obj):
        return {
            "organization": str(obj.organization_id),
            "name": "renamed",
            "schedule": "daily",
            "meter_execution_type": "generic_corus_meter",
            "task_call": "set_time",
            "task_kwargs": {"allowed_drift_seconds": 10},
        }


@pytest.mark.parametrize("schedule", list(Schedule))
def test_run_offset_is_bounded_by_the_schedules_period(personas: Personas, schedule) -> None:
    client = personas.client("operator_a")
    limit = SCHEDULE_MAX_OFFSET_SECONDS[schedule]
    base = {
        "name": "t",
        "schedule": schedule.value,
        "meter_execution_type": "generic_dlms",
        "task_call": "read_clock",
    }
    assert client.post(URL, {**base, "run_offset_seconds": limit}, format="json").status_code == 201
    assert client.post(URL, {**base, "run_offset_seconds": 0}, format="json").status_code == 201
    for bad in (limit + 1, -1):
        response = client.post(URL, {**base, "run_offset_seconds": bad}, format="json")
        assert response.status_code == 400, bad
        assert "run_offset_seconds" in response.json()


def test_changing_the_schedule_rechecks_the_existing_offset(personas: Personas) -> None:
    task = AmrTaskFactory(organization=personas.org_a, schedule="daily", run_offset_seconds=3600)
    response = personas.client("operator_a").patch(
        detail_url(URL, task.pk), {"schedule": "quarterly"}, format="json"
    )
    assert response.status_code == 400
    assert "run_offset_seconds" in response.json()


def test_execution_type_comes_from_the_registry(personas: Personas) -> None:
    base = {"name": "t", "schedule": "hourly", "task_call": "set_time"}
    client = personas.client("operator_a")
    for good in ("generic_lis200", "generic_iec6205621", "generic_corus_meter", "generic_dlms"):
        payload = {**base, "meter_execution_type": good, "task_kwargs": {"allowed_drift_seconds": 5}}
        if good == "generic_lis200":
            payload["task_kwargs"] = None  # LIS-200's set_time takes no arguments
        assert client.post(URL, payload, format="json").status_code == 201, good
    response = client.post(URL, {**base, "meter_execution_type": "generic_telnet"}, format="json")
    assert response.status_code == 400
    assert "meter_execution_type" in response.json()


@pytest.mark.parametrize("kwargs", [[1, 2], "a=b", 3, True])
def test_task_kwargs_must_be_an_object_or_null(personas: Personas, kwargs) -> None:
    payload = {
        "name": "t",
        "schedule": "hourly",
        "meter_execution_type": "generic_lis200",
        "task_call": "read_single_value",
        "task_kwargs": kwargs,
    }
    response = personas.client("operator_a").post(URL, payload, format="json")
    assert response.status_code == 400
    assert "task_kwargs" in response.json()


@pytest.mark.parametrize(
    ("call", "kwargs", "field"),
    [
        ("read_everything", None, "task_call"),
        ("read_archive_by_offset_seconds", {"archive_number": 3}, "task_kwargs"),
        ("read_single_value", {"address": "2.301", "colour": "red"}, "task_kwargs"),
    ],
)
def test_task_call_and_kwargs_must_match_the_environment(personas: Personas, call, kwargs, field) -> None:
    payload = {
        "name": "t",
        "schedule": "hourly",
        "meter_execution_type": "generic_lis200",
        "task_call": call,
        "task_kwargs": kwargs,
    }
    response = personas.client("operator_a").post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
