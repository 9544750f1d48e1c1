"""The outbox relay: nothing lost while the broker is down, order kept, at-least-once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from gateway.models import OutboxMessage
from gateway.relay import backoff_seconds, relay_outbox
from gateway.transports import TransportError
from gateway.transports.database import DatabaseTransport
from tests.gateway.conftest import install

pytestmark = pytest.mark.django_db


class Flaky(DatabaseTransport):
    """The embedded queue behind a switch: ``down`` makes every send fail like a dead broker."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.lose_ack = False
        self.sends: list[str] = []

    def send(self, queue, messages):
        if self.down:
            raise TransportError("broker unreachable (simulated)")
        super().send(queue, messages)
        self.sends.extend(m.message_id for m in messages)
        if self.lose_ack:  # the broker took it but the answer never came back
            raise TransportError("connection lost after send (simulated)")


def test_relay_publishes_and_marks_sent(portal, tenant_id, queues) -> None:
    install(portal, tenant_id)
    transport = Flaky()
    assert relay_outbox(transport=transport).sent == 2
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    assert len(transport.receive(queues["request"], timeout=0)) == 1
    assert len(transport.receive(queues["response"], timeout=0)) == 1
    assert relay_outbox(transport=transport).sent == 0


def drain(transport) -> None:
    """Relay passes as if every backoff had elapsed, until nothing is pending (bounded)."""
    later = timezone.now() + timedelta(hours=1)
    for _ in range(10):
        if not OutboxMessage.objects.filter(sent_at__isnull=True).exists():
            return
        relay_outbox(transport=transport, now=later)


def test_broker_down_keeps_messages_and_backs_off(portal, tenant_id) -> None:
    install(portal, tenant_id)
    transport = Flaky()
    transport.down = True
    result = relay_outbox(transport=transport)
    assert result.sent == 0 and result.failed >= 1
    row = OutboxMessage.objects.filter(attempts=1).first()
    assert row is not None and row.sent_at is None and "unreachable" in row.last_error
    assert row.next_attempt_at > row.created_at
    transport.down = False
    assert relay_outbox(transport=transport).waiting >= 1  # not retried before its backoff
    drain(transport)
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def test_backoff_doubles_up_to_the_cap(settings) -> None:
    settings.GATEWAY_RELAY_BACKOFF_SECONDS = 1
    settings.GATEWAY_RELAY_BACKOFF_MAX_SECONDS = 5
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_order_per_queue_survives_a_failed_message(portal, tenant_id, queues) -> None:
    for _ in range(3):
        install(portal, tenant_id)
    transport = Flaky()
    transport.down = True
    relay_outbox(transport=transport)
    transport.down = False
    drain(transport)
    expected = list(
        OutboxMessage.objects.filter(destination=queues["request"])
        .order_by("id")
        .values_list("message_id", flat=True)
    )
    received = [m.message_id for m in transport.receive(queues["request"], max_messages=10, timeout=0)]
    assert received == [str(mid) for mid in expected]


def test_lost_acknowledgement_sends_again_with_the_same_message_id(portal, tenant_id, queues) -> None:
    install(portal, tenant_id, correlation_id=str(uuid.uuid4()))
    transport = Flaky()
    transport.lose_ack = True
    relay_outbox(transport=transport)
    transport.lose_ack = False
    drain(transport)
    first = transport.sends[0]
    assert transport.sends.count(first) == 2  # at-least-once: a duplicate, same id


def test_a_rolled_back_request_leaves_no_message(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    install(portal, tenant_id, correlation_id=correlation_id)
    install(portal, tenant_id, {"applicationId": 2, "esnList": ["X"]}, correlation_id=correlation_id)  # 409
    assert OutboxMessage.objects.filter(correlation_id=correlation_id).count() == 2
