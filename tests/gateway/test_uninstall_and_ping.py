"""Uninstall and the app-store ping, on the same machinery as install."""

from __future__ import annotations

import json
import uuid

import pytest

from gateway.models import GatewayRequest
from gateway.relay import relay_outbox
from gateway.transports.database import DatabaseTransport

pytestmark = pytest.mark.django_db
BASE = "/di/third-party-gateway/api/v1/tenants"


def test_uninstall_is_forwarded_to_the_eac(portal, tenant_id, queues) -> None:
    correlation_id = str(uuid.uuid4())
    response = portal.post(
        f"{BASE}/{tenant_id}/applications/uninstall",
        {"applicationId": 12345, "esnList": ["E1", "E1", "E2"]},
        format="json",
        HTTP_ITRON_CORRELATIONID=correlation_id,
    )
    assert response.status_code == 202, response.content
    transport = DatabaseTransport()
    relay_outbox(transport=transport)
    [request] = transport.receive(queues["request"], timeout=0)
    body = json.loads(request.body)
    assert body["requestType"] == "uninstall" and body["esnList"] == ["E1", "E2"]
    [ack] = transport.receive(queues["response"], timeout=0)
    assert ack.properties["Itron-Request-Uri"] == f"api/v1/tenants/{tenant_id}/applications/uninstall"


def test_uninstall_validates_like_install(portal, tenant_id) -> None:
    response = portal.post(
        f"{BASE}/{tenant_id}/applications/uninstall",
        {"esnList": []},
        format="json",
        HTTP_ITRON_CORRELATIONID="x",
    )
    assert response.status_code == 400
    assert {"applicationId", "esnList"} <= set(response.json())


def test_ping_answers_on_the_response_queue_with_the_received_time(portal, tenant_id, queues) -> None:
    response = portal.get(f"{BASE}/{tenant_id}/health-check/ping/appstore", HTTP_ITRON_CORRELATIONID="ping-1")
    assert response.status_code == 202
    transport = DatabaseTransport()
    relay_outbox(transport=transport)
    [answer] = transport.receive(queues["response"], timeout=0)
    ping = GatewayRequest.objects.get(correlation_id="ping-1")
    assert json.loads(answer.body)["receivedTime"] == ping.received_at.isoformat()
    assert answer.correlation_id == "ping-1"
    assert answer.properties["Itron-Request-Verb"] == "Get"
    assert answer.properties["Itron-Status-Code"] == "200"


def test_ping_without_correlation_header_gets_one(portal, tenant_id) -> None:
    response = portal.get(f"{BASE}/{tenant_id}/health-check/ping/appstore")
    assert response.status_code == 202 and response.json()["correlationId"]


def test_ping_needs_the_tenants_token(portal, issuer, tenant_id) -> None:
    portal.credentials(HTTP_AUTHORIZATION=f"Bearer {issuer.token(tenant_id=str(uuid.uuid4()))}")
    assert portal.get(f"{BASE}/{tenant_id}/health-check/ping/appstore").status_code == 403
