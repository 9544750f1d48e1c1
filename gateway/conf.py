"""Gateway settings: Django settings first, then the environment, then a development default.

Read at use time (not import time) so tests can override them with ``settings`` fixtures.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Which transport carries the queues: database (embedded), amqp or azure-servicebus.
    "GATEWAY_TRANSPORT": "database",
    "GATEWAY_REQUEST_QUEUE": "gateway-request",
    "GATEWAY_RESPONSE_QUEUE": "gateway-response",
    "GATEWAY_NOTIFICATION_QUEUE_PATTERN": "notifications-{tenant_id}",
    # Where the EAC (or the simulator) sends its progress messages for the gateway to consume.
    "GATEWAY_STATUS_QUEUE": "gateway-eac-status",
    # azure-servicebus backend
    "GATEWAY_SERVICEBUS_CONNECTION_STRING": "",
    # amqp backend: broker URL and how a queue name becomes an address (RabbitMQ: /queue/{queue})
    "GATEWAY_AMQP_URL": "amqp://127.0.0.1:5672",
    "GATEWAY_AMQP_ADDRESS_PATTERN": "{queue}",
    # Every broker operation is bounded by this many seconds.
    "GATEWAY_TRANSPORT_TIMEOUT_SECONDS": 10.0,
    # Request validation
    "GATEWAY_ESN_LIST_MAX": 1000,
    "GATEWAY_LICENSE_MIN_REMAINING_DAYS": 7,
    # Outbox relay: batch size and retry backoff (seconds, doubled per failed attempt up to max)
    "GATEWAY_RELAY_BATCH_SIZE": 100,
    "GATEWAY_RELAY_BACKOFF_SECONDS": 1.0,
    "GATEWAY_RELAY_BACKOFF_MAX_SECONDS": 60.0,
    # Database transport: how long a received message stays invisible before redelivery
    "GATEWAY_DB_LOCK_SECONDS": 60.0,
    # A status message delivered this many times without being handled is dead-lettered
    "GATEWAY_MAX_DELIVERY_COUNT": 10,
    # Bearer JWT (utilitarian/bearer.py reads GATEWAY_* itself; listed here for the report)
    "GATEWAY_TENANT_CLAIM": "tenant_id",
}

_FLOATS = {
    "GATEWAY_TRANSPORT_TIMEOUT_SECONDS",
    "GATEWAY_RELAY_BACKOFF_SECONDS",
    "GATEWAY_RELAY_BACKOFF_MAX_SECONDS",
    "GATEWAY_DB_LOCK_SECONDS",
}
_INTS = {
    "GATEWAY_ESN_LIST_MAX",
    "GATEWAY_LICENSE_MIN_REMAINING_DAYS",
    "GATEWAY_RELAY_BATCH_SIZE",
    "GATEWAY_MAX_DELIVERY_COUNT",
}


def get(name: str) -> Any:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        value = DEFAULTS[name]
    if name in _FLOATS:
        return float(value)
    if name in _INTS:
        return int(value)
    return value


def request_queue() -> str:
    return get("GATEWAY_REQUEST_QUEUE")


def response_queue() -> str:
    return get("GATEWAY_RESPONSE_QUEUE")


def status_queue() -> str:
    return get("GATEWAY_STATUS_QUEUE")


def notification_queue(tenant_id: str) -> str:
    return get("GATEWAY_NOTIFICATION_QUEUE_PATTERN").format(tenant_id=tenant_id)
