"""Fetch-and-store services, the start-up reconciliation and the back-fill task (real REST peer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pie import services
from pie.client import PieClient
from pie.messages import parse_notification
from pie.models import Comment, Event, EventStatus, Ticket
from pie.tasks import backfill_ticket
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory()


@pytest.fixture
def client(pie_settings_for, org) -> PieClient:
    return PieClient(pie_settings_for(org))


def test_ticket_fields_are_extracted_and_the_payload_kept(client, org) -> None:
    ticket = services.ticket_sync(organization_id=org.pk, ticket_id="T-1", client=client)
    assert (ticket.external_id, ticket.title, ticket.status) == ("T-1", "Ticket T-1", "OPEN")
    assert ticket.remote_created_at.isoformat() == "2025-03-01T10:00:00+00:00"
    assert ticket.payload["customFields"] == {"ean": "871234567890123456"}


def test_upsert_updates_instead_of_duplicating(client, org) -> None:
    services.ticket_sync(organization_id=org.pk, ticket_id="T-1", client=client)
    services.ticket_upsert(organization_id=org.pk, payload={"id": "T-1", "status": "CLOSED"})
    assert Ticket.objects.get(external_id="T-1").status == "CLOSED"
    assert Ticket.objects.count() == 1


def test_comment_brings_its_ticket_along(client, org, pie_server) -> None:
    pie_server.comment_ticket["C-1"] = "T-7"
    comment = services.comment_sync(organization_id=org.pk, comment_id="C-1", ticket_id=None, client=client)
    assert comment.ticket.external_id == "T-7" and comment.author == "Grid operator"
    assert comment.text == "Comment C-1"


def test_duplicate_notification_records_one_event(org) -> None:
    n = parse_notification(amqp_id="m-1", properties={}, body='{"ticketId": "T-1"}')
    services.event_record(organization_id=org.pk, notification=n)
    event = services.event_record(organization_id=org.pk, notification=n)
    assert Event.objects.count() == 1 and event.deliveries == 2


def test_reconcile_refetches_recent_tickets_with_their_comments(client, org, pie_server) -> None:
    services.ticket_upsert(organization_id=org.pk, payload={"id": "T-1", "status": "OPEN"})
    stale = services.ticket_upsert(organization_id=org.pk, payload={"id": "T-old"})
    Ticket.objects.filter(pk=stale.pk).update(fetched_at=timezone.now() - timedelta(days=30))
    rejected = parse_notification(amqp_id="m-9", properties={}, body='{"ticketId": "T-lost"}')
    services.rejected_event_record(organization_id=org.pk, notification=rejected, reason="gave up")
    pie_server.comment_ticket.update({"C-1": "T-1", "C-2": "T-1", "C-3": "T-lost"})

    counts = services.reconcile(organization_id=org.pk, client=client, days=7)

    assert counts == {"tickets": 2, "failed": 0}
    assert pie_server.count(r"/tickets/T-old") == 0
    assert set(Comment.objects.values_list("external_id", flat=True)) == {"C-1", "C-2", "C-3"}
    assert Ticket.objects.get(external_id="T-lost").title == "Ticket T-lost"


def test_reconcile_survives_a_failing_pie(client, org, pie_server) -> None:
    services.ticket_upsert(organization_id=org.pk, payload={"id": "T-1"})
    pie_server.fail(r"/tickets/", 503)
    assert services.reconcile(organization_id=org.pk, client=client, days=7) == {"tickets": 0, "failed": 1}


def test_backfill_task_stores_ticket_and_comments(pie_settings_for, org, pie_server) -> None:
    pie_settings_for(org)
    pie_server.comment_ticket.update({"C-1": "T-5", "C-2": "T-5"})
    local_id = backfill_ticket.apply(args=["T-5"]).get(timeout=10)
    ticket = Ticket.objects.get(pk=local_id)
    assert ticket.organization == org and ticket.comments.count() == 2


def test_events_start_as_received(org) -> None:
    n = parse_notification(amqp_id="m-2", properties={"commentId": "C"}, body=None)
    event = services.event_record(organization_id=org.pk, notification=n)
    assert event.status == EventStatus.RECEIVED and event.kind == "comment_created"
