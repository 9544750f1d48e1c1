"""Network interfaces: CRUD, the derived host, the read-only block state and block/unblock."""

from __future__ import annotations

from meters.models import NetworkInterface
from meters.services.network import network_interface_block
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import NetworkInterfaceFactory, SimCardFactory

URL = "/api/v1/metering/network-interfaces/"


class TestNetworkInterfaces(APIViewTestCases.CRUD):
    url = URL
    compare_fields = ("static_ip_address", "fqdn", "port", "can_block")

    def make_object(self, organization):
        return NetworkInterfaceFactory(organization=organization)

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "static_ip_address": "192.0.2.10",
            "fqdn": None,
            "port": 4059,
            "sim": str(SimCardFactory(organization=organization).pk),
            "can_block": True,
        }

    def update_payload(self, obj):
        return {"organization": str(obj.organization_id), "port": 8000, "fqdn": "modem.example.test"}

    def invalid_payload(self, organization):
        return {"port": "eighty", "static_ip_address": "999.1.1.1", "organization": "not-a-uuid"}


def test_host_prefers_fqdn_then_static_ip_then_the_sims_ip(personas: Personas) -> None:
    client = personas.client("viewer_a")
    sim = SimCardFactory(organization=personas.org_a, ip_address="10.0.0.7")
    interface = NetworkInterfaceFactory(
        organization=personas.org_a, fqdn="m.example.test", static_ip_address="192.0.2.1", sim=sim
    )
    assert client.get(detail_url(URL, interface.pk)).json()["host"] == "m.example.test"
    NetworkInterface.objects.filter(pk=interface.pk).update(fqdn=None)
    assert client.get(detail_url(URL, interface.pk)).json()["host"] == "192.0.2.1"
    NetworkInterface.objects.filter(pk=interface.pk).update(static_ip_address=None)
    assert client.get(detail_url(URL, interface.pk)).json()["host"] == "10.0.0.7"
    NetworkInterface.objects.filter(pk=interface.pk).update(sim=None)
    assert client.get(detail_url(URL, interface.pk)).json()["host"] is None


def test_host_and_block_state_are_read_only(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a)
    response = personas.client("operator_a").patch(
        detail_url(URL, interface.pk),
        {"host": "evil.example.test", "is_blocked": True, "block_time": "2024-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    interface.refresh_from_db()
    assert interface.is_blocked is False and interface.block_time is None
    assert response.json()["host"] == interface.fqdn


def test_a_sim_of_another_organization_is_refused_even_for_staff(personas: Personas) -> None:
    foreign_sim = SimCardFactory(organization=personas.org_b)
    payload = {"organization": str(personas.org_a.pk), "sim": str(foreign_sim.pk)}
    for persona in ("operator_a", "staff"):
        response = personas.client(persona).post(URL, payload, format="json")
        assert response.status_code == 400, persona
        assert "sim" in response.json()


def test_operator_blocks_and_unblocks(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a)
    client = personas.client("operator_a")
    response = client.post(f"{detail_url(URL, interface.pk)}block/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_blocked"] is True and body["block_time"] is not None
    assert body["blocked_by"] == "operator:operator_a"
    assert client.post(f"{detail_url(URL, interface.pk)}block/").status_code == 409
    response = client.post(f"{detail_url(URL, interface.pk)}unblock")
    assert response.status_code == 200
    assert response.json()["is_blocked"] is False and response.json()["block_time"] is None
    assert client.post(f"{detail_url(URL, interface.pk)}unblock/").status_code == 200  # idempotent


def test_operator_unblocks_a_block_held_by_a_job(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a)
    assert network_interface_block(interface_id=interface.pk, holder="job-123")
    response = personas.client("admin_a").post(f"{detail_url(URL, interface.pk)}unblock/")
    assert response.status_code == 200
    assert NetworkInterface.objects.get(pk=interface.pk).is_blocked is False


def test_staff_block_with_a_lease(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_b)
    response = personas.client("staff").post(
        f"{detail_url(URL, interface.pk)}block/", {"lease_seconds": 60}, format="json"
    )
    assert response.status_code == 200
    interface.refresh_from_db()
    assert interface.blocked_by == "staff:staff"
    assert 55 <= (interface.block_expires_at - interface.block_time).total_seconds() <= 61
    bad = personas.client("staff").post(
        f"{detail_url(URL, interface.pk)}unblock/", {"lease_seconds": "x"}, format="json"
    )
    assert bad.status_code == 200  # unblock takes no body: anything sent is ignored


def test_an_interface_that_cannot_block_answers_409(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a, can_block=False)
    response = personas.client("operator_a").post(f"{detail_url(URL, interface.pk)}block/")
    assert response.status_code == 409
    assert "can_block" in response.json()["detail"]


def test_viewers_and_other_tenants_cannot_block(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a)
    assert personas.client("viewer_a").post(f"{detail_url(URL, interface.pk)}block/").status_code == 403
    assert personas.client("viewer_a").post(f"{detail_url(URL, interface.pk)}unblock/").status_code == 403
    assert personas.client("operator_b").post(f"{detail_url(URL, interface.pk)}block/").status_code == 404
    assert personas.anonymous().post(f"{detail_url(URL, interface.pk)}block/").status_code == 401
    assert NetworkInterface.objects.get(pk=interface.pk).is_blocked is False


def test_block_with_a_bad_lease_is_400(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a)
    for lease in (0, -5, "soon", 10**12):
        response = personas.client("operator_a").post(
            f"{detail_url(URL, interface.pk)}block/", {"lease_seconds": lease}, format="json"
        )
        assert response.status_code == 400, lease
        assert "lease_seconds" in response.json()
