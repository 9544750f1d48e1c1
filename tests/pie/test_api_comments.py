"""Comments: read-only, tenant-scoped, filterable by ticket."""

from __future__ import annotations

from tests.support.api import APIViewTestCases
from tests.support.personas import Personas

from .factories import CommentFactory, TicketFactory

URL = "/api/v1/pie/comments/"


class TestComments(APIViewTestCases.List, APIViewTestCases.Retrieve):
    url = URL
    filters = {
        "external_id": lambda c: c.external_id,
        "ticket": lambda c: c.ticket_id,
        "ticket_external_id": lambda c: c.ticket_external_id,
    }

    def make_object(self, organization):
        return CommentFactory(ticket=TicketFactory(organization=organization))


def test_viewer_cannot_write_comments(personas: Personas) -> None:
    assert personas.client("viewer_a").post(URL, {"text": "x"}).status_code in (403, 405)
    assert personas.client("staff").post(URL, {"text": "x"}).status_code == 405
