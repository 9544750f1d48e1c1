"""The outbox relay: publishes pending :class:`OutboxMessage` rows and marks them sent.

Order: messages are taken by id and sent in runs per destination, and a destination whose
message failed is skipped for the rest of the pass, so a queue never receives a later message
before an earlier one (notifications reach a tenant in the order they were recorded).

Failure: a failed send raises the row's attempt count and pushes ``next_attempt_at`` out by an
exponential backoff (``GATEWAY_RELAY_BACKOFF_SECONDS`` doubled per attempt, capped at
``GATEWAY_RELAY_BACKOFF_MAX_SECONDS``). A broker that is down (a non-permanent error) ends the
pass at once rather than timing out once per destination.

At-least-once: a crash between the broker's acceptance and the ``sent_at`` update sends the row
again on the next pass with the same message id; consumers deduplicate on it. Run one relay
process (like one Celery beat): two relays would not lose messages but could reorder them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from . import conf
from .models import OutboxMessage
from .transports import OutgoingMessage, Transport, TransportError

log = logging.getLogger(__name__)


@dataclass
class RelayResult:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def broker_down(self) -> bool:
        return bool(self.failed)


def backoff_seconds(attempts: int) -> float:
    base = conf.get("GATEWAY_RELAY_BACKOFF_SECONDS")
    cap = conf.get("GATEWAY_RELAY_BACKOFF_MAX_SECONDS")
    return min(cap, base * (2 ** max(attempts - 1, 0)))


def _outgoing(row: OutboxMessage) -> OutgoingMessage:
    return OutgoingMessage(
        body=bytes(row.body) if row.body is not None else None,
        message_id=str(row.message_id),
        correlation_id=row.correlation_id or None,
        content_type=row.content_type or None,
        properties=dict(row.properties),
    )


def relay_outbox(
    *, transport: Transport, batch_size: int | None = None, now: datetime | None = None
) -> RelayResult:
    """One pass over the pending outbox, as of ``now`` (default: the current time; tests pass a
    later time to see what happens once a backoff has elapsed)."""
    result = RelayResult()
    now = now or timezone.now()
    pending = list(
        OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id")[
            : batch_size or conf.get("GATEWAY_RELAY_BATCH_SIZE")
        ]
    )
    blocked: set[str] = set()
    runs: list[list[OutboxMessage]] = []
    for row in pending:
        if row.destination in blocked:
            continue
        if row.next_attempt_at > now:
            blocked.add(row.destination)  # later rows of this queue wait for it
            result.waiting += 1
            continue
        if runs and runs[-1][0].destination == row.destination:
            runs[-1].append(row)
        else:
            runs.append([row])
    for run in runs:
        destination = run[0].destination
        if destination in blocked:
            continue
        try:
            transport.send(destination, [_outgoing(row) for row in run])
        except TransportError as exc:
            blocked.add(destination)
            result.failed += len(run)
            result.errors.append(str(exc))
            for row in run:
                attempts = row.attempts + 1
                OutboxMessage.objects.filter(pk=row.pk).update(
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
                    last_error=str(exc)[:2000],
                )
            log.warning(
                "outbox relay: %s (%d message(s) will be retried)",
                exc,
                len(run),
                extra={"correlation_ids": sorted({row.correlation_id for row in run if row.correlation_id})},
            )
            if not exc.permanent:
                break
            continue
        OutboxMessage.objects.filter(pk__in=[row.pk for row in run]).update(sent_at=timezone.now())
        result.sent += len(run)
    return result


def next_due_in(default: float) -> float:
    """Seconds until the earliest pending message is due (for the relay loop's sleep)."""
    row = OutboxMessage.objects.filter(sent_at__isnull=True).order_by("next_attempt_at").first()
    if row is None:
        return default
    return max(0.0, min(default, (row.next_attempt_at - timezone.now()).total_seconds()))


def run_relay(
    *, transport: Transport, poll_seconds: float = 0.5, max_seconds: float | None = None, stop=None
) -> int:
    """Relay until ``stop()`` is true or ``max_seconds`` passed; returns the number sent."""
    sent = 0
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while not (stop and stop()) and (deadline is None or time.monotonic() < deadline):
        result = relay_outbox(transport=transport)
        sent += result.sent
        if result.broker_down:
            transport.close()
        if not result.sent:
            time.sleep(max(0.05, next_due_in(poll_seconds)))
    return sent
