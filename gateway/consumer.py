"""The consumer of EAC status messages (``GATEWAY_STATUS_QUEUE``).

Each message is parsed tolerantly (:mod:`gateway.eac`) and applied by
:func:`gateway.services.eac_status_record` in one transaction that also writes the tenant's
notifications to the outbox; only then is the broker message completed. A crash in between
redelivers the message, and the service ignores a message id it has already recorded, so every
message counts once in the state however often it is delivered.

A message that can never be applied (no correlation id, unknown request, undecodable body) is
dead-lettered with the reason; a database failure abandons it for a later retry, until
``GATEWAY_MAX_DELIVERY_COUNT`` deliveries, after which it is dead-lettered too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import DatabaseError

from utilitarian.logging import log_context

from . import conf
from .eac import StatusParseError, parse_status_message
from .services import eac_status_record
from .transports import Transport, TransportError
from .transports.base import ReceivedMessage

log = logging.getLogger(__name__)


@dataclass
class ConsumeResult:
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    abandoned: int = 0


def consume_status(*, transport: Transport, max_messages: int = 50, timeout: float = 1.0) -> ConsumeResult:
    result = ConsumeResult()
    messages = transport.receive(conf.status_queue(), max_messages=max_messages, timeout=timeout)
    result.received = len(messages)
    for message in messages:
        correlation_id = message.properties.get("Itron-CorrelationId") or message.correlation_id
        with log_context(correlation_id=correlation_id, message_id=message.message_id):
            _consume_one(transport, message, result)
    return result


def _consume_one(transport: Transport, message: ReceivedMessage, result: ConsumeResult) -> None:
    """Apply one status message, then settle it (complete, abandon or dead-letter)."""
    try:
        outcome = eac_status_record(parsed=parse_status_message(message))
    except StatusParseError as exc:
        log.warning("dead-lettering EAC message %s: %s", message.message_id, exc)
        transport.dead_letter(message, str(exc))
        result.dead_lettered += 1
        return
    except DatabaseError as exc:
        if message.delivery_count >= conf.get("GATEWAY_MAX_DELIVERY_COUNT"):
            transport.dead_letter(message, f"database error after {message.delivery_count} deliveries: {exc}")
            result.dead_lettered += 1
        else:
            log.warning("abandoning EAC message %s: %s", message.message_id, exc)
            transport.abandon(message)
            result.abandoned += 1
        return
    transport.complete(message)
    if outcome.duplicate:
        result.duplicates += 1
    else:
        result.applied += 1


def run_consumer(
    *, transport: Transport, max_seconds: float | None = None, stop=None, retry_seconds: float = 1.0
) -> int:
    applied = 0
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while not (stop and stop()) and (deadline is None or time.monotonic() < deadline):
        try:
            applied += consume_status(transport=transport).applied
        except TransportError as exc:
            log.warning("status consumer: %s", exc)
            transport.close()
            time.sleep(retry_seconds)
    return applied
