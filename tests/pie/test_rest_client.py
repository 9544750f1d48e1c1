"""The REST client against a real loopback PiE server: bearer auth, retries, token refresh."""

from __future__ import annotations

import time

import pytest

from pie.client import PieClient, PieNotFound, PieUnavailable


@pytest.fixture
def client(pie_settings_for) -> PieClient:
    return PieClient(pie_settings_for())


def test_fetches_the_three_endpoints(client, pie_server) -> None:
    pie_server.comment_ticket = {"C-1": "T-9", "C-2": "T-9", "C-3": "T-1"}
    assert client.ticket("T-9")["subject"] == "Ticket T-9"
    assert {c["id"] for c in client.ticket_comments("T-9")} == {"C-1", "C-2"}
    assert client.comment("C-3")["ticketId"] == "T-1"


def test_5xx_is_retried(client, pie_server) -> None:
    pie_server.fail(r"/tickets/T-1$", 503, times=1)
    assert client.ticket("T-1")["id"] == "T-1"
    assert pie_server.count(r"/tickets/T-1$") == 2


def test_429_is_retried_honouring_retry_after(client, pie_server) -> None:
    pie_server.fail(r"/tickets/T-1$", 429, times=1, headers={"Retry-After": "0"})
    assert client.ticket("T-1")["id"] == "T-1"


def test_persistent_5xx_raises_unavailable(client, pie_server) -> None:
    pie_server.fail(r"/tickets/T-1$", 502)
    with pytest.raises(PieUnavailable):
        client.ticket("T-1")
    assert pie_server.count(r"/tickets/T-1$") == 2  # one try and PIE_HTTP_RETRIES=1 retry


def test_404_is_not_found(client, pie_server) -> None:
    pie_server.fail(r"/comments/C-404$", 404)
    with pytest.raises(PieNotFound):
        client.comment("C-404")


def test_expired_token_is_refreshed_once(client, pie_server, token_server) -> None:
    client.ticket("T-1")
    token_server.revoke_all()
    assert client.ticket("T-2")["id"] == "T-2"
    assert token_server.issued == 2 and pie_server.unauthorized == 1


def test_slow_server_hits_the_read_timeout(pie_settings_for, pie_server) -> None:
    client = PieClient(pie_settings_for(PIE_HTTP_READ_TIMEOUT=0.2, PIE_HTTP_RETRIES=0))
    client.tokens.get()
    pie_server.delay = 1.0
    started = time.monotonic()
    with pytest.raises(PieUnavailable):
        client.ticket("T-1")
    assert time.monotonic() - started < 1.0
