"""POST /api/v1/metering/amr-tasks/invoke/: validated against the environment's declared calls,
sent to the on-demand queue, 201 with the job's id."""

from __future__ import annotations

from unittest import mock

import pytest

from amr.models import AmrJob, JobKind, JobState
from tests.meters.factories import MeterDeviceFactory

URL = "/api/v1/metering/amr-tasks/invoke/"


@pytest.fixture
def meter(personas):
    return MeterDeviceFactory(organization=personas.org_a)


@pytest.fixture
def sent():
    with mock.patch("amr.tasks.run_on_demand_job.apply_async") as apply_async:
        yield apply_async


def body(meter, **overrides) -> dict:
    data = {
        "meter_device": str(meter.pk),
        "task_call": "read_registers",
        "task_kwargs": {"addresses": ["1.8.0"]},
        "run_offset_seconds": 0,
        "meter_execution_type": "generic_iec6205621",
    }
    data.update(overrides)
    return data


def test_invoke_creates_a_job_and_sends_it_on_demand(
    personas, meter, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = personas.client("operator_a").post(URL, body(meter, run_offset_seconds=30), format="json")
    assert response.status_code == 201, response.content
    job = AmrJob.objects.get(pk=response.json()["id"])
    assert job.kind == JobKind.ON_DEMAND and job.state == JobState.QUEUED and job.task is None
    assert job.organization_id == personas.org_a.pk and job.task_kwargs == {"addresses": ["1.8.0"]}
    sent.assert_called_once_with(args=[str(job.pk)], countdown=30)


def test_invoke_path_without_trailing_slash(personas, meter, sent) -> None:
    response = personas.client("staff").post(URL.rstrip("/"), body(meter), format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "overrides, field, reason",
    [
        ({"meter_execution_type": "generic_teapot"}, "meter_execution_type", "not a valid choice"),
        ({"task_call": "brew"}, "task_call", "has no call 'brew'"),
        ({"task_kwargs": {}}, "task_kwargs", "needs 'addresses'"),
        ({"task_kwargs": {"addresses": ["1.8.0"], "colour": "red"}}, "task_kwargs", "no argument 'colour'"),
        ({"task_kwargs": {"addresses": "1.8.0"}}, "task_kwargs", "list of strings"),
        ({"task_kwargs": ["addresses"]}, "task_kwargs", "JSON object"),
        ({"run_offset_seconds": -1}, "run_offset_seconds", "greater than or equal"),
        ({"run_offset_seconds": 86401}, "run_offset_seconds", "less than or equal"),
        ({"meter_device": "not-a-uuid"}, "meter_device", ""),
    ],
)
def test_invalid_invocations_are_400_with_a_reason(personas, meter, sent, overrides, field, reason) -> None:
    response = personas.client("operator_a").post(URL, body(meter, **overrides), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert reason in " ".join(map(str, errors[field])), errors
    assert not AmrJob.objects.exists()


def test_lis200_datetime_kwargs_are_checked(personas, meter, sent) -> None:
    good = body(
        meter,
        meter_execution_type="generic_lis200",
        task_call="read_archive_by_date",
        task_kwargs={"start_date": "2025-01-01", "archive_number": 3, "control_position": 3},
    )
    assert personas.client("operator_a").post(URL, good, format="json").status_code == 201
    bad = {**good, "task_kwargs": {**good["task_kwargs"], "start_date": "yesterday"}}
    response = personas.client("operator_a").post(URL, bad, format="json")
    assert response.status_code == 400 and "start_date" in response.json()["task_kwargs"][0]


def test_every_registered_environment_is_accepted(personas, meter, sent) -> None:
    from amr.environments import ENVIRONMENTS, get_environment

    samples = {
        "str": "x",
        "int": 3,
        "number": 1.5,
        "bool": True,
        "datetime": "2025-01-01T00:00:00Z",
        "str_list": ["a"],
        "object_list": [{"id": 1, "data_type": "float"}],
        "object": {"entries": []},
    }
    for name in ENVIRONMENTS:
        for call in get_environment(name).calls:
            kwargs = {
                k.name: k.choices[0] if k.choices else samples[k.type] for k in call.kwargs if k.required
            }
            response = personas.client("operator_a").post(
                URL,
                body(meter, meter_execution_type=name, task_call=call.name, task_kwargs=kwargs),
                format="json",
            )
            assert response.status_code == 201, (name, call.name, response.content)


def test_another_organizations_meter_is_400_does_not_exist(personas, sent) -> None:
    foreign = MeterDeviceFactory(organization=personas.org_b)
    response = personas.client("operator_a").post(URL, body(foreign), format="json")
    assert response.status_code == 400 and "does not exist" in str(response.json()["meter_device"])


def test_staff_may_invoke_for_any_organization(personas, sent) -> None:
    foreign = MeterDeviceFactory(organization=personas.org_b)
    response = personas.client("staff").post(URL, body(foreign), format="json")
    assert response.status_code == 201
    assert AmrJob.objects.get().organization_id == personas.org_b.pk


def test_viewers_cannot_invoke_and_anonymous_is_401(personas, meter, sent) -> None:
    assert personas.client("viewer_a").post(URL, body(meter), format="json").status_code == 403
    assert personas.anonymous().post(URL, body(meter), format="json").status_code == 401
