"""AMR task groups (under /api/v1/metering/): CRUD, tasks of the same organization, tasks_info."""

from __future__ import annotations

from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import AmrTaskFactory, AmrTaskGroupFactory

URL = "/api/v1/metering/amr-task-groups/"


class TestAmrTaskGroups(APIViewTestCases.CRUD):
    url = URL
    compare_fields = ("name", "description", "tasks")

    def make_object(self, organization):
        return AmrTaskGroupFactory(organization=organization)

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "name": "Hourly",
            "description": "meters read every hour",
            "tasks": [str(AmrTaskFactory(organization=organization).pk)],
        }

    def update_payload(self, obj):
        return {"organization": str(obj.organization_id), "name": "Daily", "tasks": []}


def test_tasks_info_names_the_tasks(personas: Personas) -> None:
    tasks = [
        AmrTaskFactory(organization=personas.org_a, name="profile"),
        AmrTaskFactory(organization=personas.org_a, name="clock"),
    ]
    group = AmrTaskGroupFactory(organization=personas.org_a, tasks=tasks)
    body = personas.client("viewer_a").get(detail_url(URL, group.pk)).json()
    assert body["tasks_info"] == "clock, profile"


def test_tasks_of_another_organization_are_refused(personas: Personas) -> None:
    foreign = AmrTaskFactory(organization=personas.org_b)
    payload = {"organization": str(personas.org_a.pk), "name": "g", "tasks": [str(foreign.pk)]}
    for persona in ("operator_a", "staff"):
        response = personas.client(persona).post(URL, payload, format="json")
        assert response.status_code == 400, persona
        assert "tasks" in response.json()


def test_deleting_a_task_removes_it_from_groups(personas: Personas) -> None:
    task = AmrTaskFactory(organization=personas.org_a)
    group = AmrTaskGroupFactory(organization=personas.org_a, tasks=[task])
    assert personas.client("operator_a").delete(f"/api/v1/metering/amr-tasks/{task.pk}/").status_code == 204
    assert list(group.tasks.all()) == []
