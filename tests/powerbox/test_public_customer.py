"""POST /v1/powerbox/customer: the token's customer, as the CIS last sent it."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from powerbox import services
from tests.support.factories import OrganizationFactory

from .conftest import meter, site, sync

URL = "/v1/powerbox/customer"


def test_multi_site_customer_answer(bearer, john) -> None:
    response = bearer("123456789").post(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "clientId": "123456789",
        "firstName": "John",
        "lastName": "Doe",
        "AcctStatus": "A",
        "customerSites": [
            {
                "externalSiteId": "5113305555",
                "isPrimary": True,
                "address1": "555 Main St.",
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
                        "billingCycleId": 7,
                    },
                    {
                        "meterId": "G-2001",
                        "meterType": "Gas",
                        "unitOfMeasure": "CCF",
                        "isAMI": False,
                        "rateCode": "RES1",
                        "billingCycleId": 7,
                    },
                ],
            },
            {
                "externalSiteId": "5113305556",
                "isPrimary": False,
                "address1": "556 Main St.",
                "city": "Detroit",
                "state": "MI",
                "postalCode": "48067",
                "meters": [
                    {
                        "meterId": "E-1002",
                        "meterType": "Electric",
                        "unitOfMeasure": "kWh",
                        "isAMI": True,
                        "rateCode": "RES1",
                        "billingCycleId": 7,
                    }
                ],
            },
        ],
    }


def test_same_state_gives_byte_identical_answers(bearer, john, utility) -> None:
    first = bearer("123456789").post(URL).content
    # a fresh token, and a CIS re-sync of the same state in between
    sync(
        utility,
        "123456789",
        [
            site("5113305556", [meter("E-1002")]),
            site("5113305555", [meter("G-2001", "Gas", is_ami=False), meter("E-1001")], primary=True),
        ],
    )
    second = bearer("123456789").post(URL).content
    assert first == second
    assert json.loads(first)["clientId"] == "123456789"


def test_answer_follows_the_cis(bearer, john, utility) -> None:
    sync(utility, "123456789", [site("5113305556", [meter("E-1002")], primary=True)], last="Doe-Smith")
    body = bearer("123456789").post(URL).json()
    assert body["lastName"] == "Doe-Smith"
    assert [s["externalSiteId"] for s in body["customerSites"]] == ["5113305556"]


def test_customer_without_sites_has_an_empty_list(bearer, utility) -> None:
    sync(utility, "555", [])
    assert bearer("555").post(URL).json()["customerSites"] == []


def test_request_body_is_ignored(bearer, john) -> None:
    response = bearer().post(URL, {"clientId": "987654321"}, format="json")
    assert response.status_code == 200
    assert response.json()["clientId"] == "123456789"


def test_trailing_slash_is_accepted(bearer, john) -> None:
    assert bearer().post(URL + "/").status_code == 200


def test_unknown_customer_is_404(bearer, john) -> None:
    response = bearer("000000000").post(URL)
    assert response.status_code == 404 and response.content == b""


@pytest.mark.parametrize("status", ["C", "S", "c"])
def test_closed_or_suspended_account_is_403(bearer, utility, status) -> None:
    sync(utility, "777", [site("777-1", [meter("E-7771")])], status=status)
    response = bearer("777").post(URL)
    assert response.status_code == 403 and response.content == b""


def test_locked_statuses_are_configurable(bearer, utility, settings) -> None:
    sync(utility, "778", [], status="L")
    sync(utility, "779", [], status="S")
    settings.POWERBOX_LOCKED_STATUSES = "L, X"
    assert bearer("778").post(URL).status_code == 403
    assert bearer("779").post(URL).status_code == 200


def test_other_statuses_are_answered_as_mirrored(bearer, utility) -> None:
    sync(utility, "780", [], status="P")
    assert bearer("780").post(URL).json()["AcctStatus"] == "P"


def test_organization_setting_restricts_powerbox_to_one_utility(bearer, john, settings) -> None:
    other = OrganizationFactory(name="Other Utility")
    sync(other, "424242", [])
    settings.POWERBOX_ORGANIZATION = str(john.organization_id)
    assert bearer("123456789").post(URL).status_code == 200
    assert bearer("424242").post(URL).status_code == 404


def test_client_id_in_two_organizations_is_ambiguous_without_the_setting(bearer, john, settings) -> None:
    other = OrganizationFactory(name="Other Utility")
    sync(other, "123456789", [], first="Someone", last="Else")
    assert bearer("123456789").post(URL).status_code == 404
    settings.POWERBOX_ORGANIZATION = str(other.pk)
    assert bearer("123456789").post(URL).json()["firstName"] == "Someone"


def test_inactive_organization_customers_are_unknown(bearer, john) -> None:
    john.organization.is_active = False
    john.organization.save()
    assert bearer().post(URL).status_code == 404


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405_with_an_empty_body(bearer, john, method) -> None:
    response = getattr(bearer(), method)(URL)
    assert response.status_code == 405 and response.content == b""


def test_unknown_powerbox_path_is_a_bare_404(bearer, john) -> None:
    response = bearer().post("/v1/powerbox/customers")
    assert response.status_code == 404 and response.content == b""


def test_detached_sites_and_meters_are_not_answered(bearer, john, utility) -> None:
    sync(utility, "123456789", [site("5113305555", [meter("E-1001")], primary=True)])
    body = bearer().post(URL).json()
    assert [s["externalSiteId"] for s in body["customerSites"]] == ["5113305555"]
    assert [m["meterId"] for m in body["customerSites"][0]["meters"]] == ["E-1001"]


def test_missing_token_on_unknown_customer_is_still_401(idp, john) -> None:
    response = APIClient().post(URL)
    assert response.status_code == 401


def test_customer_response_service_is_deterministic(john) -> None:
    assert services.customer_response(john) == services.customer_response(john)


def test_unconfigured_identity_provider_is_503_not_500(bearer, john, settings) -> None:
    client = bearer()
    settings.POWERBOX_ISSUER = ""
    response = client.post(URL)
    assert response.status_code == 503 and response.content == b""


def test_error_responses_carry_no_json_detail(bearer, john) -> None:
    for response in (bearer("nobody").post(URL), APIClient().post(URL), bearer().get(URL)):
        assert response.content == b""
        assert "detail" not in response.content.decode()
