"""Celery tasks: thin wrappers that run one pass of the relay or the consumer.

Beat may schedule ``gateway.relay_outbox`` every few seconds as an alternative to the
``gateway_relay`` command (not both: one relay at a time keeps queue order).
"""

from __future__ import annotations

from celery import shared_task

from .consumer import consume_status
from .relay import relay_outbox
from .transports import get_transport


@shared_task(name="gateway.relay_outbox")
def relay_outbox_task() -> dict:
    with get_transport() as transport:
        result = relay_outbox(transport=transport)
    return {"sent": result.sent, "failed": result.failed, "waiting": result.waiting}


@shared_task(name="gateway.consume_status")
def consume_status_task() -> dict:
    with get_transport() as transport:
        result = consume_status(transport=transport, timeout=0.5)
    return {"applied": result.applied, "duplicates": result.duplicates, "dead_lettered": result.dead_lettered}
