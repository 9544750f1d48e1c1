"""Organizations and memberships through the API, scoped by the one tenancy mechanism."""

from __future__ import annotations

from tests.support.api import detail_url
from tests.support.factories import UserFactory
from tests.support.personas import Personas
from utilitarian.models import Organization, OrganizationMembership

ORGS = "/api/v1/organizations/"
MEMBERS = "/api/v1/organizations/memberships/"


def test_staff_creates_an_organization(personas: Personas) -> None:
    response = personas.client("staff").post(ORGS, {"name": "Utility C"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Utility C" and body["is_active"] is True and body["members"] == []


def test_organization_name_is_1_to_64_chars(personas: Personas) -> None:
    client = personas.client("staff")
    assert client.post(ORGS, {"name": ""}).status_code == 400
    assert client.post(ORGS, {"name": "x" * 65}).status_code == 400
    assert client.post(ORGS, {"name": "x" * 64}).status_code == 201


def test_org_admin_renames_but_cannot_create_or_delete(personas: Personas) -> None:
    client = personas.client("admin_a")
    assert client.patch(detail_url(ORGS, personas.org_a.pk), {"name": "Renamed"}).status_code == 200
    assert client.post(ORGS, {"name": "Mine"}).status_code == 403
    assert client.delete(detail_url(ORGS, personas.org_a.pk)).status_code == 403


def test_operator_cannot_rename_the_organization(personas: Personas) -> None:
    assert (
        personas.client("operator_a").patch(detail_url(ORGS, personas.org_a.pk), {"name": "x"}).status_code
        == 403
    )


def test_other_organization_is_404(personas: Personas) -> None:
    assert personas.client("admin_a").get(detail_url(ORGS, personas.org_b.pk)).status_code == 404
    assert (
        personas.client("admin_a").patch(detail_url(ORGS, personas.org_b.pk), {"name": "x"}).status_code
        == 404
    )


def test_members_are_listed_as_user_ids(personas: Personas) -> None:
    body = personas.client("viewer_a").get(detail_url(ORGS, personas.org_a.pk)).json()
    assert set(body["members"]) == {
        str(personas.admin_a.pk),
        str(personas.operator_a.pk),
        str(personas.viewer_a.pk),
    }


def test_pagination_shape_and_limits(personas: Personas) -> None:
    client = personas.client("staff")
    body = client.get(ORGS, {"limit": 1}).json()
    assert body["count"] == 2 and len(body["results"]) == 1
    assert body["previous"] is None and "offset=1" in body["next"]
    body = client.get(ORGS, {"limit": 1, "offset": 1}).json()
    assert body["next"] is None and body["previous"] is not None


def test_memberships_are_scoped(personas: Personas) -> None:
    body = personas.client("viewer_a").get(MEMBERS).json()
    assert body["count"] == 3
    assert {m["organization"] for m in body["results"]} == {str(personas.org_a.pk)}
    assert personas.client("staff").get(MEMBERS).json()["count"] == 4


def test_org_admin_adds_a_member_to_own_organization_only(personas: Personas) -> None:
    newcomer = UserFactory()
    response = personas.client("admin_a").post(
        MEMBERS, {"organization": str(personas.org_b.pk), "user": str(newcomer.pk), "role": "operator"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["organization"] == str(personas.org_a.pk)
    assert OrganizationMembership.objects.get(user=newcomer).organization == personas.org_a


def test_operator_cannot_manage_members(personas: Personas) -> None:
    response = personas.client("operator_a").post(MEMBERS, {"user": str(UserFactory().pk)})
    assert response.status_code == 403


def test_membership_is_unique_per_pair(personas: Personas) -> None:
    response = personas.client("staff").post(
        MEMBERS, {"organization": str(personas.org_a.pk), "user": str(personas.viewer_a.pk)}
    )
    assert response.status_code == 400
    assert "user" in response.json()


def test_membership_role_defaults_to_viewer_and_rejects_unknown(personas: Personas) -> None:
    client = personas.client("staff")
    user = UserFactory()
    ok = client.post(MEMBERS, {"organization": str(personas.org_b.pk), "user": str(user.pk)})
    assert ok.status_code == 201 and ok.json()["role"] == "viewer"
    bad = client.post(MEMBERS, {"organization": str(personas.org_a.pk), "user": str(user.pk), "role": "god"})
    assert bad.status_code == 400 and "role" in bad.json()


def test_membership_with_unknown_ids_is_400(personas: Personas) -> None:
    response = personas.client("staff").post(
        MEMBERS, {"organization": "00000000-0000-0000-0000-000000000000", "user": "not-a-uuid"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"organization", "user"}


def test_admin_cannot_touch_other_organizations_membership(personas: Personas) -> None:
    foreign = OrganizationMembership.objects.get(user=personas.operator_b)
    client = personas.client("admin_a")
    assert client.get(detail_url(MEMBERS, foreign.pk)).status_code == 404
    assert client.delete(detail_url(MEMBERS, foreign.pk)).status_code == 404
    assert OrganizationMembership.objects.filter(pk=foreign.pk).exists()


def test_deleting_organization_removes_memberships(personas: Personas) -> None:
    assert personas.client("staff").delete(detail_url(ORGS, personas.org_b.pk)).status_code == 204
    assert not Organization.objects.filter(pk=personas.org_b.pk).exists()
    assert not OrganizationMembership.objects.filter(user=personas.operator_b).exists()


def test_routes_answer_with_and_without_trailing_slash(personas: Personas) -> None:
    client = personas.client("staff")
    assert client.get(ORGS.rstrip("/")).status_code == 200
    assert client.get(detail_url(ORGS, personas.org_a.pk).rstrip("/")).status_code == 200
    assert client.get(MEMBERS.rstrip("/")).status_code == 200
