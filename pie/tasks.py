"""Celery tasks of the PiE feed: thin wrappers around services."""

from __future__ import annotations

import uuid

from celery import shared_task

from . import services
from .client import PieClient
from .conf import pie_settings


@shared_task(name="pie.backfill_ticket")
def backfill_ticket(ticket_id: str, organization_id: str | None = None) -> str:
    """Fetch one ticket and all its comments now (e.g. one the feed missed); returns the local id."""
    conf = pie_settings()
    org = uuid.UUID(organization_id) if organization_id else conf.require_organization()
    ticket = services.ticket_sync(
        organization_id=org, ticket_id=str(ticket_id), client=PieClient(conf), with_comments=True
    )
    return str(ticket.pk)
