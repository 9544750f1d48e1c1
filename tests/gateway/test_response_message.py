"""The response-queue acknowledgement has the seed's shape."""

from __future__ import annotations

import uuid

import pytest

from gateway.relay import relay_outbox
from gateway.transports.database import DatabaseTransport
from tests.gateway.conftest import install

pytestmark = pytest.mark.django_db


def test_acknowledgement_carries_the_itron_properties_and_a_null_body(portal, tenant_id, queues) -> None:
    correlation_id = str(uuid.uuid4())
    app_id = "30062e5c-c0da-4434-82c0-450bbc1f3509"
    install(portal, tenant_id, correlation_id=correlation_id)
    transport = DatabaseTransport()
    relay_outbox(transport=transport)
    [ack] = transport.receive(queues["response"], timeout=0)
    assert ack.correlation_id == correlation_id
    assert ack.body is None
    assert ack.content_type == "application/json"
    assert ack.message_id
    assert ack.properties == {
        "Itron-Tenant-Id": tenant_id,
        "Itron-CorrelationId": correlation_id,
        "IsCompressed": False,
        "Itron-Status-Code": "202",
        "Itron-Request-Verb": "Post",
        "Itron-Request-Uri": f"api/v1/tenants/{tenant_id}/applications/{app_id}/install",
    }
