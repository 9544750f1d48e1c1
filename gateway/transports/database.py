"""The embedded transport: queues are rows of ``QueuedMessage`` in the application's database.

It lets the gateway, the relay, the consumer and the EAC simulator run with nothing installed,
and gives the same peek-lock semantics as the brokers: a received row is leased for
``GATEWAY_DB_LOCK_SECONDS`` (invisible to other receivers); complete deletes it, abandon makes it
visible again, dead-letter flags it (read back from ``NAME/$DeadLetterQueue``). A lease that
expires is redelivered. On PostgreSQL concurrent receivers skip each other's rows
(``SKIP LOCKED``); SQLite serialises writers anyway.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from .. import conf
from .base import DEAD_LETTER_SUFFIX, Outcome, OutgoingMessage, ReceivedMessage, Transport, TransportError

_POLL_SECONDS = 0.05


class DatabaseTransport(Transport):
    name = "database"

    def __init__(self, *, lock_seconds: float = 60.0) -> None:
        self.lock_seconds = lock_seconds

    @classmethod
    def from_settings(cls) -> DatabaseTransport:
        return cls(lock_seconds=conf.get("GATEWAY_DB_LOCK_SECONDS"))

    def send(self, queue: str, messages: list[OutgoingMessage]) -> None:
        from ..models import QueuedMessage

        try:
            QueuedMessage.objects.bulk_create(
                [
                    QueuedMessage(
                        queue=queue,
                        message_id=m.message_id,
                        correlation_id=m.correlation_id or "",
                        content_type=m.content_type or "",
                        properties=dict(m.properties),
                        body=m.body,
                    )
                    for m in messages
                ]
            )
        except DatabaseError as exc:
            raise TransportError(f"database queue unavailable: {exc}") from exc

    def receive(self, queue: str, *, max_messages: int = 10, timeout: float = 1.0) -> list[ReceivedMessage]:
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            received = self._lease(queue, max_messages)
            if received or time.monotonic() >= deadline:
                return received
            time.sleep(min(_POLL_SECONDS, max(deadline - time.monotonic(), 0)))

    def _lease(self, queue: str, max_messages: int) -> list[ReceivedMessage]:
        from ..models import QueuedMessage

        dead = queue.endswith(DEAD_LETTER_SUFFIX)
        name = queue.removesuffix(DEAD_LETTER_SUFFIX)
        now = timezone.now()
        try:
            with transaction.atomic():
                rows = QueuedMessage.objects.filter(queue=name, dead_lettered=dead, visible_at__lte=now)
                if connection.features.has_select_for_update_skip_locked:
                    rows = rows.select_for_update(skip_locked=True)
                rows = list(rows.order_by("id")[:max_messages])
                for row in rows:
                    row.lock_token = uuid.uuid4()
                    row.delivery_count += 1
                    row.visible_at = now + timedelta(seconds=self.lock_seconds)
                    QueuedMessage.objects.filter(pk=row.pk).update(
                        lock_token=row.lock_token,
                        delivery_count=row.delivery_count,
                        visible_at=row.visible_at,
                    )
        except DatabaseError as exc:
            raise TransportError(f"database queue unavailable: {exc}") from exc
        return [
            ReceivedMessage(
                body=bytes(row.body) if row.body is not None else None,
                message_id=row.message_id,
                correlation_id=row.correlation_id or None,
                content_type=row.content_type or None,
                properties=dict(row.properties),
                delivery_count=row.delivery_count,
                queue=queue,
                handle=(row.pk, row.lock_token),
            )
            for row in rows
        ]

    def settle(self, message: ReceivedMessage, outcome: Outcome, *, reason: str = "") -> None:
        from ..models import QueuedMessage

        pk, token = message.handle
        mine = QueuedMessage.objects.filter(pk=pk, lock_token=token)
        try:
            if outcome is Outcome.COMPLETE:
                changed = mine.delete()[0]
            elif outcome is Outcome.ABANDON:
                changed = mine.update(lock_token=None, visible_at=timezone.now())
            else:
                changed = mine.update(
                    lock_token=None, visible_at=timezone.now(), dead_lettered=True, dead_letter_reason=reason
                )
        except DatabaseError as exc:
            raise TransportError(f"database queue unavailable: {exc}") from exc
        if not changed:
            # Same as Service Bus' MessageLockLostError: the lease expired and someone else owns it.
            raise TransportError(f"lock on message {message.message_id} was lost", permanent=True)
