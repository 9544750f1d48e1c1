"""Admin: the job history lists and filters; "run now" on meter devices and tasks."""

from __future__ import annotations

from unittest import mock

import pytest

from amr.models import AmrJob, JobKind
from tests.meters.factories import AmrTaskFactory, AmrTaskGroupFactory, MeterDeviceFactory
from tests.support.factories import OrganizationFactory


@pytest.fixture
def setup(organization):
    task = AmrTaskFactory(organization=organization, task_call="readout")
    other = AmrTaskFactory(organization=organization, task_call="readout")
    group = AmrTaskGroupFactory(organization=organization, tasks=[task])
    meters = [MeterDeviceFactory(organization=organization, task_groups=[group]) for _ in range(2)]
    meters[0].meter_tasks.add(other)
    foreign = MeterDeviceFactory(organization=OrganizationFactory())
    foreign.task_groups.add(group)  # a cross-tenant link: never run
    return task, other, meters


@pytest.fixture
def sent():
    with mock.patch("amr.tasks.run_on_demand_job.apply_async") as apply_async:
        yield apply_async


def test_run_now_on_meter_devices(admin_client, setup, sent, django_capture_on_commit_callbacks) -> None:
    task, other, meters = setup
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/meters/meterdevice/",
            {"action": "run_meter_tasks_now", "_selected_action": [str(meters[0].pk)]},
        )
    assert response.status_code == 302
    jobs = AmrJob.objects.filter(meter_device=meters[0])
    assert {j.task_id for j in jobs} == {task.pk, other.pk}
    assert all(j.kind == JobKind.ON_DEMAND for j in jobs)
    assert sent.call_count == 2


def test_run_now_on_tasks(admin_client, setup, sent, django_capture_on_commit_callbacks) -> None:
    task, _other, meters = setup
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/amr/amrtask/", {"action": "run_tasks_now", "_selected_action": [str(task.pk)]}
        )
    assert set(AmrJob.objects.values_list("meter_device_id", flat=True)) == {m.pk for m in meters}


def test_job_history_lists_with_filters(admin_client, setup, sent) -> None:
    task, _other, meters = setup
    AmrJob.objects.create(
        organization=task.organization,
        meter_device=meters[0],
        task=task,
        meter_execution_type="generic_iec6205621",
        task_call="readout",
    )
    response = admin_client.get("/admin/amr/amrjob/", {"state__exact": "queued"})
    assert response.status_code == 200 and meters[0].name in response.content.decode()
    job = AmrJob.objects.get()
    assert admin_client.get(f"/admin/amr/amrjob/{job.pk}/change/").status_code == 200
