"""Tickets: read-only, tenant-scoped like every resource."""

from __future__ import annotations

from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import TicketFactory

URL = "/api/v1/pie/tickets/"


class TestTickets(APIViewTestCases.List, APIViewTestCases.Retrieve):
    url = URL
    filters = {"external_id": lambda t: t.external_id}

    def make_object(self, organization):
        return TicketFactory(organization=organization)


def test_tickets_are_read_only(personas: Personas) -> None:
    ticket = TicketFactory(organization=personas.org_a)
    client = personas.client("staff")
    assert client.post(URL, {"external_id": "x"}).status_code == 405
    assert client.patch(detail_url(URL, ticket.pk), {"title": "x"}).status_code == 405
    assert client.delete(detail_url(URL, ticket.pk)).status_code == 405


def test_ticket_exposes_the_raw_payload(personas: Personas) -> None:
    ticket = TicketFactory(organization=personas.org_a, payload={"id": "T-x", "custom": {"ean": "1"}})
    body = personas.client("viewer_a").get(detail_url(URL, ticket.pk)).json()
    assert body["payload"] == {"id": "T-x", "custom": {"ean": "1"}}
    assert body["organization"] == str(personas.org_a.pk)
