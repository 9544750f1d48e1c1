"""PiE business operations shared by the consumer, the Celery task, the admin and the command.

The consumer's order of work per message is: :func:`event_record` (dedup by message id), then
:func:`event_process` (fetch over REST, upsert), then :func:`event_mark_stored`; only after that
does the consumer accept the delivery. A failure goes through :func:`event_mark_failed`, which
counts attempts so the consumer can tell a passing outage from a poison message.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .client import PieClient
from .messages import COMMENT_CREATED, TICKET_CREATED, Notification, lookup
from .models import Comment, Event, EventKind, EventStatus, Ticket

logger = logging.getLogger(__name__)


# --- extracting fields from PiE's payloads (names are guesses; the payload is kept whole) -----
def _text(payload: dict[str, Any], *names: str, limit: int | None = None) -> str:
    value = lookup(payload, *names)
    if isinstance(value, dict):
        value = lookup(value, "name", "displayName", "fullName", "email", "id")
    text = "" if value is None or isinstance(value, dict | list) else str(value)
    return text[:limit] if limit else text


def _moment(payload: dict[str, Any], *names: str) -> datetime | None:
    value = lookup(payload, *names)
    moment: datetime | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def _external_id(payload: dict[str, Any], *names: str) -> str | None:
    value = lookup(payload, *names)
    if isinstance(value, dict):
        value = lookup(value, "id")
    if value in (None, "") or isinstance(value, bool | list):
        return None
    return str(value)


# --- upserts -------------------------------------------------------------------------------
def ticket_upsert(
    *, organization_id: uuid.UUID, payload: dict[str, Any], external_id: str | None = None
) -> Ticket:
    external_id = external_id or _external_id(payload, "id", "ticketId", "ticketNumber")
    if not external_id:
        raise ValueError("ticket payload without an id")
    fields = {
        "title": _text(payload, "title", "subject", "name", "summary", limit=500),
        "status": _text(payload, "status", "state", limit=64),
        "description": _text(payload, "description", "body", "text", "details"),
        "remote_created_at": _moment(
            payload, "createdAt", "created", "creationDate", "createdOn", "dateCreated"
        ),
        "remote_updated_at": _moment(
            payload, "updatedAt", "modifiedAt", "lastModified", "updated", "modified"
        ),
        "payload": payload,
        "fetched_at": timezone.now(),
    }
    ticket, _ = _upsert(Ticket, organization_id, str(external_id), fields)
    # Comments that arrived before their ticket now find it.
    Comment.objects.filter(
        organization_id=organization_id, ticket_external_id=ticket.external_id, ticket=None
    ).update(ticket=ticket)
    return ticket


def comment_upsert(
    *,
    organization_id: uuid.UUID,
    payload: dict[str, Any],
    external_id: str | None = None,
    ticket_external_id: str | None = None,
) -> Comment:
    external_id = external_id or _external_id(payload, "id", "commentId")
    if not external_id:
        raise ValueError("comment payload without an id")
    ticket_external_id = (
        _external_id(payload, "ticketId", "ticket", "ticketNumber") or ticket_external_id or ""
    )
    ticket = (
        Ticket.objects.filter(organization_id=organization_id, external_id=ticket_external_id).first()
        if ticket_external_id
        else None
    )
    fields = {
        "ticket": ticket,
        "ticket_external_id": ticket_external_id,
        "author": _text(payload, "author", "createdBy", "user", "authorName", "owner", limit=255),
        "text": _text(payload, "text", "body", "content", "message", "comment", "description"),
        "remote_created_at": _moment(
            payload, "createdAt", "created", "creationDate", "createdOn", "dateCreated"
        ),
        "payload": payload,
        "fetched_at": timezone.now(),
    }
    comment, _ = _upsert(Comment, organization_id, str(external_id), fields)
    return comment


def _upsert(model, organization_id: uuid.UUID, external_id: str, fields: dict[str, Any]):
    try:
        with transaction.atomic():
            return model.objects.update_or_create(
                organization_id=organization_id, external_id=external_id, defaults=fields
            )
    except IntegrityError:
        # A concurrent writer (task and consumer) inserted it first: update that row.
        return model.objects.update_or_create(
            organization_id=organization_id, external_id=external_id, defaults=fields
        )


# --- fetch + store -------------------------------------------------------------------------
def ticket_sync(
    *, organization_id: uuid.UUID, ticket_id: str, client: PieClient, with_comments: bool = False
) -> Ticket:
    """Fetch one ticket (and optionally all its comments) and store it."""
    ticket = ticket_upsert(
        organization_id=organization_id, payload=client.ticket(ticket_id), external_id=ticket_id
    )
    if with_comments:
        for payload in client.ticket_comments(ticket_id):
            comment_upsert(organization_id=organization_id, payload=payload, ticket_external_id=ticket_id)
    return ticket


def comment_sync(
    *, organization_id: uuid.UUID, comment_id: str, ticket_id: str | None, client: PieClient
) -> Comment:
    """Fetch one comment and store it; its ticket is fetched too when we do not have it yet."""
    payload = client.comment(comment_id, ticket_id=ticket_id)
    ticket_id = _external_id(payload, "ticketId", "ticket", "ticketNumber") or ticket_id
    if (
        ticket_id
        and not Ticket.objects.filter(organization_id=organization_id, external_id=ticket_id).exists()
    ):
        ticket_sync(organization_id=organization_id, ticket_id=ticket_id, client=client)
    return comment_upsert(
        organization_id=organization_id, payload=payload, external_id=comment_id, ticket_external_id=ticket_id
    )


# --- events --------------------------------------------------------------------------------
_KINDS = {TICKET_CREATED: EventKind.TICKET_CREATED, COMMENT_CREATED: EventKind.COMMENT_CREATED}


def event_record(*, organization_id: uuid.UUID, notification: Notification) -> Event:
    """The event row for a delivery: created on first sight, its delivery count bumped after."""
    defaults = {
        "kind": _KINDS.get(notification.kind, EventKind.UNKNOWN),
        "ticket_external_id": notification.ticket_id or "",
        "comment_external_id": notification.comment_id or "",
        "properties": notification.properties,
        "body": notification.body_text[:100_000],
    }
    try:
        with transaction.atomic():
            event, _ = Event.objects.get_or_create(
                organization_id=organization_id, message_id=notification.message_id[:255], defaults=defaults
            )
    except IntegrityError:
        event = Event.objects.get(organization_id=organization_id, message_id=notification.message_id[:255])
    Event.objects.filter(pk=event.pk).update(deliveries=event.deliveries + 1)
    event.deliveries += 1
    return event


def event_process(*, event: Event, client: PieClient) -> None:
    """Fetch and store what the event announces. Raises PieError (from the client) on failure."""
    if event.kind == EventKind.COMMENT_CREATED:
        comment_sync(
            organization_id=event.organization_id,
            comment_id=event.comment_external_id,
            ticket_id=event.ticket_external_id or None,
            client=client,
        )
    else:
        ticket_sync(organization_id=event.organization_id, ticket_id=event.ticket_external_id, client=client)


def event_mark_stored(*, event: Event) -> None:
    event.status = EventStatus.STORED
    event.processed_at = timezone.now()
    event.last_error = ""
    event.save(update_fields=["status", "processed_at", "last_error", "updated_at"])


def event_mark_failed(*, event: Event, error: str) -> int:
    """Count a failed attempt; returns the number of attempts so far."""
    event.attempts += 1
    event.status = EventStatus.RETRYING
    event.last_error = error[:2000]
    event.save(update_fields=["attempts", "status", "last_error", "updated_at"])
    return event.attempts


def event_mark_rejected(*, event: Event, reason: str) -> None:
    event.status = EventStatus.REJECTED
    event.processed_at = timezone.now()
    event.last_error = reason[:2000]
    event.save(update_fields=["status", "processed_at", "last_error", "updated_at"])


def rejected_event_record(*, organization_id: uuid.UUID, notification: Notification, reason: str) -> Event:
    event = event_record(organization_id=organization_id, notification=notification)
    event_mark_rejected(event=event, reason=reason)
    return event


# --- catching up ---------------------------------------------------------------------------
def reconcile(*, organization_id: uuid.UUID, client: PieClient, days: int) -> dict[str, int]:
    """Bring recent tickets up to date over REST, for a consumer that was away too long.

    The broker keeps notifications for one day only. PiE's three endpoints cannot list tickets,
    so this re-fetches (with all their comments): tickets we stored in the last ``days``, tickets
    named by events that never got stored (rejected after too many failures), and, when
    ``PIE_TICKETS_LIST_PATH`` is configured, the tickets PiE lists as changed since then.
    Failures are logged and counted, never raised: the consumer starts regardless.
    """
    since = timezone.now() - timedelta(days=days)
    wanted: set[str] = set(
        Ticket.objects.filter(organization_id=organization_id, fetched_at__gte=since).values_list(
            "external_id", flat=True
        )
    )
    wanted |= set(
        Event.objects.filter(organization_id=organization_id, created_at__gte=since)
        .exclude(status=EventStatus.STORED)
        .exclude(ticket_external_id="")
        .values_list("ticket_external_id", flat=True)
    )
    counts = {"tickets": 0, "failed": 0}
    try:
        for payload in client.recent_tickets(since.isoformat()):
            external_id = _external_id(payload, "id", "ticketId", "ticketNumber")
            if external_id:
                wanted.add(external_id)
    except Exception as exc:  # a listing failure must not stop the per-ticket reconcile
        logger.warning("pie: listing recent tickets failed: %s", exc)
    for ticket_id in sorted(wanted):
        try:
            ticket_sync(
                organization_id=organization_id, ticket_id=ticket_id, client=client, with_comments=True
            )
            counts["tickets"] += 1
        except Exception as exc:
            counts["failed"] += 1
            logger.warning("pie: reconciling ticket %s failed: %s", ticket_id, exc)
    logger.info("pie: reconciled %(tickets)d tickets, %(failed)d failed", counts)
    return counts
