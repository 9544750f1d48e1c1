from __future__ import annotations

import factory
from django.utils import timezone

from pie.models import Comment, Ticket
from tests.support.factories import OrganizationFactory


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    organization = factory.SubFactory(OrganizationFactory)
    external_id = factory.Sequence(lambda n: f"T-{n}")
    title = factory.Sequence(lambda n: f"Ticket {n}")
    status = "OPEN"
    payload = factory.LazyAttribute(lambda t: {"id": t.external_id, "subject": t.title})
    fetched_at = factory.LazyFunction(timezone.now)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    organization = factory.SelfAttribute("ticket.organization")
    ticket = factory.SubFactory(TicketFactory)
    external_id = factory.Sequence(lambda n: f"C-{n}")
    ticket_external_id = factory.SelfAttribute("ticket.external_id")
    text = "A comment"
    payload = factory.LazyAttribute(lambda c: {"id": c.external_id, "ticketId": c.ticket_external_id})
    fetched_at = factory.LazyFunction(timezone.now)
