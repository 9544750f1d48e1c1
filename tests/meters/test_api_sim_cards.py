"""SIM cards: CRUD, the contract's filters, and what deleting one does to its interfaces."""

from __future__ import annotations

import pytest

from meters.models import NetworkInterface, SimCard
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import NetworkInterfaceFactory, SimCardFactory

URL = "/api/v1/metering/sim-cards/"


class TestSimCards(APIViewTestCases.CRUD):
    url = URL
    compare_fields = ("iccid", "imsi", "ip_address", "phone_number")
    filters = {"iccid": lambda obj: obj.iccid, "imsi": lambda obj: obj.imsi}

    def make_object(self, organization):
        return SimCardFactory(organization=organization)

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "iccid": "89310000000000000001",
            "imsi": "204080000000001",
            "ip_address": "10.1.2.3",
            "phone_number": "+31600000001",
            "external_system_link": "https://jasper.example.test/sim/1",
        }

    def update_payload(self, obj):
        return {"organization": str(obj.organization_id), "iccid": obj.iccid, "imsi": "204089999999999"}

    def invalid_payload(self, organization):
        return {"iccid": ["not", "a", "string"], "imsi": 204, "organization": "not-a-uuid"}


@pytest.mark.parametrize(
    "field,value",
    [("iccid", "8931abc"), ("imsi", "20408x"), ("iccid", "1" * 21), ("imsi", "")],
)
def test_iccid_and_imsi_are_digits_within_their_lengths(personas: Personas, field, value) -> None:
    payload = {"iccid": "8931", "imsi": "2040", field: value}
    response = personas.client("operator_a").post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_deleting_a_sim_detaches_it_from_its_interfaces(personas: Personas) -> None:
    sim = SimCardFactory(organization=personas.org_a, ip_address="10.9.9.9")
    interface = NetworkInterfaceFactory(organization=personas.org_a, fqdn=None, sim=sim)
    assert personas.client("operator_a").delete(detail_url(URL, sim.pk)).status_code == 204
    interface.refresh_from_db()
    assert interface.sim_id is None
    assert NetworkInterface.objects.filter(pk=interface.pk).exists()


def test_staff_may_keep_a_sim_without_organization_and_assign_it_later(personas: Personas) -> None:
    staff = personas.client("staff")
    response = staff.post(URL, {"iccid": "8931", "imsi": "2040"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["organization"] is None
    sim_id = response.json()["id"]
    assert personas.client("viewer_a").get(detail_url(URL, sim_id)).status_code == 404
    response = staff.patch(detail_url(URL, sim_id), {"organization": str(personas.org_a.pk)}, format="json")
    assert response.status_code == 200, response.content
    assert personas.client("viewer_a").get(detail_url(URL, sim_id)).status_code == 200


def test_an_object_cannot_move_to_another_organization(personas: Personas) -> None:
    sim = SimCardFactory(organization=personas.org_a)
    response = personas.client("staff").patch(
        detail_url(URL, sim.pk), {"organization": str(personas.org_b.pk)}, format="json"
    )
    assert response.status_code == 400
    assert "organization" in response.json()
    assert SimCard.objects.get(pk=sim.pk).organization_id == personas.org_a.pk
