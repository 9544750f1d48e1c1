"""POST .../tenants/{tenantId}/applications/{appId}/install: validation, outbox, idempotency."""

from __future__ import annotations

import json
import uuid

import pytest

from gateway.models import EsnStatus, GatewayRequest, OutboxKind, OutboxMessage
from tests.gateway.conftest import install, install_url

pytestmark = pytest.mark.django_db


def outbox_of(correlation_id: str) -> dict[str, OutboxMessage]:
    return {m.kind: m for m in OutboxMessage.objects.filter(correlation_id=correlation_id)}


def test_accepted_request_is_recorded_with_its_messages_in_the_outbox(portal, tenant_id, queues) -> None:
    correlation_id = str(uuid.uuid4())
    response = install(portal, tenant_id, correlation_id=correlation_id)
    assert response.status_code == 202, response.content
    assert response.json()["correlationId"] == correlation_id
    request = GatewayRequest.objects.get(correlation_id=correlation_id)
    assert request.tenant_id == tenant_id and request.application_id == 12345
    assert list(request.esns.values_list("esn", "status")) == [("ESN1", "accepted"), ("ESN2", "accepted")]
    messages = outbox_of(correlation_id)
    assert set(messages) == {OutboxKind.REQUEST, OutboxKind.RESPONSE}
    assert messages[OutboxKind.REQUEST].destination == queues["request"]
    assert messages[OutboxKind.RESPONSE].destination == queues["response"]
    assert all(m.sent_at is None for m in messages.values())


def test_request_message_tells_the_eac_what_to_install(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    license_set = str(uuid.uuid4())
    body = {"applicationId": 7, "applicationVersion": "2.1.0", "esnList": ["A1"], "licenseSet": license_set}
    install(portal, tenant_id, body, correlation_id=correlation_id)
    sent = json.loads(bytes(outbox_of(correlation_id)[OutboxKind.REQUEST].body))
    assert sent["requestType"] == "install"
    assert sent["applicationId"] == 7 and sent["applicationVersion"] == "2.1.0"
    assert sent["versionPolicy"] == "explicit"
    assert sent["licenseSet"] == license_set and sent["licensePolicy"] == "explicit"
    assert sent["esnList"] == ["A1"] and sent["correlationId"] == correlation_id


def test_absent_version_and_license_are_recorded_as_explicit_choices(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    install(portal, tenant_id, {"applicationId": 1, "esnList": ["A1"]}, correlation_id=correlation_id)
    request = GatewayRequest.objects.get(correlation_id=correlation_id)
    assert request.version_policy == "latest" and request.application_version is None
    assert request.license_policy == "next-available" and request.license_min_remaining_days == 7
    sent = json.loads(bytes(outbox_of(correlation_id)[OutboxKind.REQUEST].body))
    assert sent["licensePolicy"] == "next-available" and sent["licenseMinRemainingDays"] == 7
    assert sent["versionPolicy"] == "latest" and sent["applicationVersion"] is None


def test_esn_list_is_deduplicated_in_order(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    body = {"applicationId": 1, "esnList": ["B", "A", "B", " A ", "C"]}
    assert install(portal, tenant_id, body, correlation_id=correlation_id).status_code == 202
    esns = EsnStatus.objects.filter(request__correlation_id=correlation_id).order_by("position")
    assert [e.esn for e in esns] == ["B", "A", "C"]


def test_seed_spelling_with_trailing_space_is_accepted(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    body = {"applicationId": 1, "applicationVersion ": "3.0", "esnList": ["A"]}
    assert install(portal, tenant_id, body, correlation_id=correlation_id).status_code == 202
    assert GatewayRequest.objects.get(correlation_id=correlation_id).application_version == "3.0"


def test_missing_correlation_header_is_400(portal, tenant_id) -> None:
    response = portal.post(install_url(tenant_id), {"applicationId": 1, "esnList": ["A"]}, format="json")
    assert response.status_code == 400
    assert "Itron-CorrelationId" in response.json()
    assert not GatewayRequest.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"esnList": ["A"]}, "applicationId"),
        ({"applicationId": "12345", "esnList": ["A"]}, "applicationId"),
        ({"applicationId": True, "esnList": ["A"]}, "applicationId"),
        ({"applicationId": 1}, "esnList"),
        ({"applicationId": 1, "esnList": []}, "esnList"),
        ({"applicationId": 1, "esnList": "ESN1"}, "esnList"),
        ({"applicationId": 1, "esnList": [1, 2]}, "esnList"),
        ({"applicationId": 1, "esnList": ["has space"]}, "esnList"),
        ({"applicationId": 1, "esnList": ["A"], "licenseSet": "not-a-guid"}, "licenseSet"),
        ({"applicationId": 1, "esnList": ["A"], "applicationVersion": "x" * 65}, "applicationVersion"),
    ],
)
def test_bad_body_is_400_with_field_errors(portal, tenant_id, body, field) -> None:
    response = install(portal, tenant_id, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not OutboxMessage.objects.exists()


def test_esn_list_length_is_bounded(portal, tenant_id, settings) -> None:
    settings.GATEWAY_ESN_LIST_MAX = 3
    response = install(portal, tenant_id, {"applicationId": 1, "esnList": ["A", "B", "C", "D"]})
    assert response.status_code == 400 and "esnList" in response.json()


def test_non_object_body_is_400(portal, tenant_id) -> None:
    response = portal.post(
        install_url(tenant_id), "[1, 2]", content_type="application/json", HTTP_ITRON_CORRELATIONID="c-1"
    )
    assert response.status_code == 400


def test_reused_correlation_id_is_409_and_the_original_is_kept(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    assert install(portal, tenant_id, correlation_id=correlation_id).status_code == 202
    again = install(portal, tenant_id, {"applicationId": 99, "esnList": ["Z"]}, correlation_id=correlation_id)
    assert again.status_code == 409
    request = GatewayRequest.objects.get(correlation_id=correlation_id)
    assert request.application_id == 12345 and request.esns.count() == 2
    assert OutboxMessage.objects.filter(correlation_id=correlation_id).count() == 2


def test_path_answers_without_and_with_trailing_slash(portal, tenant_id) -> None:
    headers = {"HTTP_ITRON_CORRELATIONID": str(uuid.uuid4())}
    response = portal.post(
        install_url(tenant_id) + "/", {"applicationId": 1, "esnList": ["A"]}, format="json", **headers
    )
    assert response.status_code == 202
