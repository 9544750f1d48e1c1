"""The CIS feed: /api/v1/powerbox/customers/ upserts customers with their sites and meters."""

from __future__ import annotations

import pytest

from meters.models import MeterDevice
from powerbox.models import BindState, Customer, CustomerMeter, CustomerSite
from tests.meters.factories import MeterDeviceFactory
from tests.support.api import APIViewTestCases, detail_url

URL = "/api/v1/powerbox/customers/"


def devices(organization, *names: str) -> None:
    for name in names:
        if not MeterDevice.objects.filter(organization=organization, name=name).exists():
            MeterDeviceFactory(organization=organization, name=name)


def customer_payload(organization, client_id: str = "123456789", **overrides) -> dict:
    devices(organization, "E-1001", "G-2001", "E-1002")
    body = {
        "organization": str(organization.pk),
        "clientId": client_id,
        "firstName": "John",
        "lastName": "Doe",
        "AcctStatus": "A",
        "customerSites": [
            {
                "externalSiteId": f"{client_id}-1",
                "isPrimary": True,
                "address1": "123 Main St.",
                "city": "Detroit",
                "state": "MI",
                "postalCode": "48067",
                "meters": [
                    {
                        "meterId": "E-1001",
                        "meterType": "Electric",
                        "unitOfMeasure": "kWh",
                        "isAMI": True,
                        "rateCode": "RES1",
                        "billingCycleId": 1,
                    },
                    {
                        "meterId": "G-2001",
                        "meterType": "Gas",
                        "unitOfMeasure": "CCF",
                        "isAMI": False,
                        "rateCode": "GAS1",
                        "billingCycleId": 1,
                    },
                ],
            },
            {
                "externalSiteId": f"{client_id}-2",
                "isPrimary": False,
                "address1": "9 Lake Rd.",
                "city": "Ann Arbor",
                "state": "MI",
                "postalCode": "48104",
                "meters": [
                    {
                        "meterId": "E-1002",
                        "meterType": "Electric",
                        "unitOfMeasure": "kWh",
                        "isAMI": True,
                        "rateCode": "RES1",
                        "billingCycleId": 2,
                    }
                ],
            },
        ],
    }
    body.update(overrides)
    return body


def contract_part(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("id", "organization")}


class TestCustomersGeneric(APIViewTestCases.List, APIViewTestCases.Retrieve):
    url = URL
    filters = {"clientId": lambda obj: obj.client_id, "AcctStatus": lambda obj: obj.acct_status}

    def make_object(self, organization):
        from powerbox.services import customer_sync

        number = Customer.objects.count() + 1
        return customer_sync(
            organization=organization,
            client_id=f"C{number}",
            acct_status="A" if number % 2 else "S",
            first_name="X",
            last_name="Y",
            sites=[],
        ).customer


def test_staff_creates_a_customer_with_sites_and_meters(personas) -> None:
    payload = customer_payload(personas.org_a)
    response = personas.client("staff").post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organization"] == str(personas.org_a.pk)
    assert contract_part(body) == contract_part(payload)
    meter = CustomerMeter.objects.get(meter_id="E-1001")
    assert meter.meter_device == MeterDevice.objects.get(name="E-1001", organization=personas.org_a)
    assert meter.bind_state == BindState.UNBOUND


def test_same_payload_again_is_an_idempotent_update(personas) -> None:
    client = personas.client("staff")
    payload = customer_payload(personas.org_a)
    first = client.post(URL, payload, format="json")
    second = client.post(URL, payload, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.content == second.content
    assert Customer.objects.count() == 1 and CustomerSite.objects.count() == 2
    assert CustomerMeter.objects.count() == 3


def test_bulk_upsert_of_a_list(personas) -> None:
    client = personas.client("staff")
    devices(personas.org_a, "E-3001")
    second = customer_payload(personas.org_a, "222")
    second["customerSites"] = [
        {
            "externalSiteId": "222-1",
            "meters": [{"meterId": "E-3001", "meterType": "Electric"}],
        }
    ]
    response = client.post(URL, [customer_payload(personas.org_a), second], format="json")
    assert response.status_code == 200, response.content
    assert [c["clientId"] for c in response.json()] == ["123456789", "222"]
    assert response.json()[1]["customerSites"][0] == {
        "externalSiteId": "222-1",
        "isPrimary": False,
        "address1": "",
        "city": "",
        "state": "",
        "postalCode": "",
        "meters": [
            {
                "meterId": "E-3001",
                "meterType": "Electric",
                "unitOfMeasure": "",
                "isAMI": False,
                "rateCode": "",
                "billingCycleId": None,
            }
        ],
    }
    again = client.post(URL, [customer_payload(personas.org_a), second], format="json")
    assert again.content == response.content
    assert Customer.objects.count() == 2


def test_left_out_sites_and_meters_are_detached_not_deleted(personas) -> None:
    client = personas.client("staff")
    payload = customer_payload(personas.org_a)
    client.post(URL, payload, format="json")
    payload["customerSites"] = [payload["customerSites"][0]]
    payload["customerSites"][0]["meters"] = payload["customerSites"][0]["meters"][:1]
    response = client.post(URL, payload, format="json")
    assert response.status_code == 200
    assert [s["externalSiteId"] for s in response.json()["customerSites"]] == ["123456789-1"]
    assert [m["meterId"] for m in response.json()["customerSites"][0]["meters"]] == ["E-1001"]

    detached_site = CustomerSite.objects.get(external_site_id="123456789-2")
    assert detached_site.customer is None
    assert CustomerMeter.objects.get(meter_id="G-2001").site is None
    assert CustomerMeter.objects.count() == 3
    assert MeterDevice.objects.filter(name__in=["E-1001", "G-2001", "E-1002"]).count() == 3


def test_a_premise_moves_to_the_next_customer(personas) -> None:
    client = personas.client("staff")
    client.post(URL, customer_payload(personas.org_a), format="json")
    newcomer = customer_payload(personas.org_a, "333")
    newcomer["customerSites"] = [customer_payload(personas.org_a)["customerSites"][1]]
    assert client.post(URL, newcomer, format="json").status_code == 201
    site = CustomerSite.objects.get(external_site_id="123456789-2")
    assert site.customer.client_id == "333"
    john = client.get(URL, {"clientId": "123456789"}).json()["results"][0]
    assert [s["externalSiteId"] for s in john["customerSites"]] == ["123456789-1"]


def test_meter_id_must_name_a_meter_device_of_the_organization(personas) -> None:
    MeterDeviceFactory(organization=personas.org_b, name="E-B-1")
    payload = customer_payload(personas.org_a)
    payload["customerSites"][0]["meters"][0]["meterId"] = "E-B-1"
    response = personas.client("staff").post(URL, payload, format="json")
    assert response.status_code == 400
    assert "E-B-1" in str(response.json())
    assert not Customer.objects.exists()


def test_operator_syncs_into_its_own_organization_whatever_it_sends(personas) -> None:
    payload = customer_payload(personas.org_a)
    payload["organization"] = str(personas.org_b.pk)
    response = personas.client("operator_a").post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["organization"] == str(personas.org_a.pk)


def test_viewer_cannot_sync(personas) -> None:
    response = personas.client("viewer_a").post(URL, customer_payload(personas.org_a), format="json")
    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_anonymous_and_bearer_tokens_cannot_sync(personas, idp) -> None:
    from rest_framework.test import APIClient

    assert personas.anonymous().post(URL, customer_payload(personas.org_a), format="json").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {idp.token()}")
    assert client.post(URL, customer_payload(personas.org_a), format="json").status_code == 401


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("clientId"), "clientId"),
        (lambda p: p.pop("AcctStatus"), "AcctStatus"),
        (lambda p: p.pop("customerSites"), "customerSites"),
        (lambda p: p["customerSites"][0].pop("meters"), "customerSites"),
        (lambda p: p["customerSites"][0]["meters"][0].update(meterType="Water"), "customerSites"),
        (lambda p: p["customerSites"][0]["meters"][0].update(billingCycleId="monthly"), "customerSites"),
        (lambda p: p.update(clientId="   "), "clientId"),
        (lambda p: p.update(clientId="x" * 65), "clientId"),
        (lambda p: p["customerSites"].append(dict(p["customerSites"][0])), "customerSites"),
        (
            lambda p: p["customerSites"][1]["meters"].append(p["customerSites"][0]["meters"][0]),
            "customerSites",
        ),
    ],
)
def test_invalid_customer_is_400_with_field_errors(personas, mutate, field) -> None:
    payload = customer_payload(personas.org_a)
    mutate(payload)
    response = personas.client("staff").post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Customer.objects.exists()


def test_duplicate_client_in_one_bulk_request_is_400(personas) -> None:
    payload = customer_payload(personas.org_a)
    response = personas.client("staff").post(URL, [payload, payload], format="json")
    assert response.status_code == 400


def test_bulk_is_all_or_nothing(personas) -> None:
    good = customer_payload(personas.org_a)
    bad = customer_payload(personas.org_a, "444")
    bad["customerSites"] = [{"externalSiteId": "444-1", "meters": [{"meterId": "NOPE", "meterType": "Gas"}]}]
    response = personas.client("staff").post(URL, [good, bad], format="json")
    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_meter_device_already_used_by_another_meter_id_is_400(personas) -> None:
    client = personas.client("staff")
    client.post(URL, customer_payload(personas.org_a), format="json")
    # the inventory renames the device behind meterId E-1001; a sync that names it E-5000 while
    # PowerBox still knows it as E-1001 is refused instead of silently re-keying its bind history
    MeterDevice.objects.filter(name="E-1001").update(name="E-5000")
    payload = customer_payload(personas.org_a)
    payload["customerSites"][0]["meters"][0]["meterId"] = "E-5000"
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert "E-1001" in str(response.json())


def test_customers_list_is_tenant_scoped(personas) -> None:
    personas.client("staff").post(URL, customer_payload(personas.org_a), format="json")
    personas.client("staff").post(URL, customer_payload(personas.org_b, "B-1"), format="json")
    ids = [c["clientId"] for c in personas.client("viewer_a").get(URL).json()["results"]]
    assert ids == ["123456789"]


def test_other_organizations_customer_is_404(personas) -> None:
    response = personas.client("staff").post(URL, customer_payload(personas.org_b, "B-1"), format="json")
    assert personas.client("operator_a").get(detail_url(URL, response.json()["id"])).status_code == 404


def test_meters_and_bind_requests_are_listed_read_only(personas) -> None:
    client = personas.client("staff")
    client.post(URL, customer_payload(personas.org_a), format="json")
    meters = client.get("/api/v1/powerbox/meters/", {"clientId": "123456789"}).json()["results"]
    assert sorted(m["meterId"] for m in meters) == ["E-1001", "E-1002", "G-2001"]
    assert {m["bind_state"] for m in meters} == {"unbound"}
    assert client.get("/api/v1/powerbox/bind-requests/").json()["count"] == 0
    assert client.post("/api/v1/powerbox/meters/", {}, format="json").status_code == 405
    assert personas.client("viewer_a").get("/api/v1/powerbox/meters").status_code == 200
    assert personas.client("operator_b").get("/api/v1/powerbox/meters/").json()["count"] == 0


def test_fields_left_out_of_an_update_are_reset_not_kept(personas) -> None:
    """Each sync is the customer's whole state: an omitted optional field is empty, not stale."""
    client = personas.client("staff")
    client.post(URL, customer_payload(personas.org_a), format="json")
    payload = customer_payload(personas.org_a)
    del payload["firstName"]
    del payload["customerSites"][0]["address1"]
    del payload["customerSites"][0]["meters"][0]["rateCode"]
    del payload["customerSites"][0]["meters"][0]["billingCycleId"]
    body = client.post(URL, payload, format="json").json()
    assert body["firstName"] == ""
    assert body["customerSites"][0]["address1"] == ""
    assert body["customerSites"][0]["meters"][0]["rateCode"] == ""
    assert body["customerSites"][0]["meters"][0]["billingCycleId"] is None
