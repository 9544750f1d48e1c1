from __future__ import annotations

import logging
import os
import socket
import uuid

import pytest
from rest_framework.test import APIClient

from tests.support.jwks import TestIssuer
from utilitarian.bearer import clear_jwks_cache

RABBITMQ = ("127.0.0.1", 5672)
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"


@pytest.fixture(autouse=True)
def _quiet_brokers():
    for name in ("proton", "azure", "uamqp"):
        logging.getLogger(name).setLevel(logging.ERROR)


@pytest.fixture
def queues(settings) -> dict[str, str]:
    """Queue names private to this test (other engineers share the brokers)."""
    prefix = f"gateway-test-{uuid.uuid4().hex[:10]}"
    names = {
        "request": f"{prefix}-request",
        "response": f"{prefix}-response",
        "status": f"{prefix}-status",
        "notification_pattern": f"{prefix}-notifications-{{tenant_id}}",
    }
    settings.GATEWAY_REQUEST_QUEUE = names["request"]
    settings.GATEWAY_RESPONSE_QUEUE = names["response"]
    settings.GATEWAY_STATUS_QUEUE = names["status"]
    settings.GATEWAY_NOTIFICATION_QUEUE_PATTERN = names["notification_pattern"]
    settings.GATEWAY_TRANSPORT_TIMEOUT_SECONDS = 5
    settings.GATEWAY_RELAY_BACKOFF_SECONDS = 0.05
    settings.GATEWAY_RELAY_BACKOFF_MAX_SECONDS = 0.2
    return names


@pytest.fixture
def issuer(tmp_path, settings) -> TestIssuer:
    clear_jwks_cache()
    test_issuer = TestIssuer(tmp_path)
    for name, value in test_issuer.settings("GATEWAY").items():
        setattr(settings, name, value)
    yield test_issuer
    clear_jwks_cache()


@pytest.fixture
def tenant_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def portal(issuer, tenant_id, db, queues) -> APIClient:
    """The customer portal of ``tenant_id``, holding a valid client-credentials token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issuer.token(tenant_id=tenant_id)}")
    return client


def install_url(tenant_id: str, app_id: str = "30062e5c-c0da-4434-82c0-450bbc1f3509") -> str:
    return f"/di/third-party-gateway/api/v1/tenants/{tenant_id}/applications/{app_id}/install"


def status_url(tenant_id: str, correlation_id: str) -> str:
    return f"/di/third-party-gateway/api/v1/tenants/{tenant_id}/requests/{correlation_id}"


def install(client: APIClient, tenant_id: str, body: dict | None = None, correlation_id: str | None = None):
    headers = {"HTTP_ITRON_CORRELATIONID": correlation_id or str(uuid.uuid4())}
    payload = body if body is not None else {"applicationId": 12345, "esnList": ["ESN1", "ESN2"]}
    return client.post(install_url(tenant_id), payload, format="json", **headers)


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def rabbitmq() -> str:
    """RabbitMQ with its AMQP 1.0 plugin on loopback; skip (or fail under CI) without it."""
    if not _reachable(RABBITMQ):
        message = f"RabbitMQ is not reachable on {RABBITMQ[0]}:{RABBITMQ[1]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return RABBITMQ_URL


@pytest.fixture
def servicebus_broker():
    from tests.support.servicebus_broker import ServiceBusTestBroker

    broker = ServiceBusTestBroker().start()
    yield broker
    broker.stop()


@pytest.fixture
def transport_factory(request, settings, queues):
    """Builds transports of the backend named by the test's ``backend`` parameter."""
    made = []
    backend = request.param if hasattr(request, "param") else "database"

    if backend == "amqp":
        url = request.getfixturevalue("rabbitmq")
        settings.GATEWAY_AMQP_URL = url
        settings.GATEWAY_AMQP_ADDRESS_PATTERN = "/queue/{queue}"
    elif backend == "azure-servicebus":
        broker = request.getfixturevalue("servicebus_broker")
        settings.GATEWAY_SERVICEBUS_CONNECTION_STRING = broker.connection_string
    settings.GATEWAY_TRANSPORT = backend

    def make():
        from gateway.transports import get_transport

        transport = get_transport()
        made.append(transport)
        return transport

    make.backend = backend
    yield make
    for transport in made:
        transport.close()


BACKENDS = ["database", "amqp", "azure-servicebus"]
