"""Every transport honours the same contract, each against its real broker.

``database``: the embedded table queue. ``amqp``: RabbitMQ's AMQP 1.0 plugin on loopback.
``azure-servicebus``: the real SDK against the in-process proton test broker.
"""

from __future__ import annotations

import time
import uuid

import pytest

from gateway.transports import OutgoingMessage, TransportError, transport_class
from tests.gateway.conftest import BACKENDS

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


def receive_all(transport, queue: str, count: int, timeout: float = 10.0):
    """Poll until ``count`` messages have arrived or the deadline passes."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(transport.receive(queue, max_messages=count - len(got), timeout=0.5))
    return got


@pytest.fixture
def queue() -> str:
    return f"gateway-test-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("transport_factory", BACKENDS, indirect=True)
def test_sent_messages_arrive_in_order_with_their_metadata(transport_factory, queue) -> None:
    sender, receiver = transport_factory(), transport_factory()
    messages = [
        OutgoingMessage(
            body=f'{{"n": {i}}}'.encode(),
            correlation_id=f"corr-{i}",
            properties={"Itron-Status-Code": "202", "IsCompressed": False, "n": i},
        )
        for i in range(3)
    ]
    sender.send(queue, messages)
    got = receive_all(receiver, queue, 3)
    assert [m.message_id for m in got] == [m.message_id for m in messages]
    assert [m.body for m in got] == [m.body for m in messages]
    assert got[1].correlation_id == "corr-1" and got[1].content_type == "application/json"
    assert got[2].properties["Itron-Status-Code"] == "202"
    assert got[2].properties["IsCompressed"] is False and got[2].properties["n"] == 2
    for message in got:
        receiver.complete(message)
    assert receiver.receive(queue, timeout=0.3) == []


@pytest.mark.parametrize("transport_factory", BACKENDS, indirect=True)
def test_null_body_is_empty(transport_factory, queue) -> None:
    transport = transport_factory()
    transport.send(queue, [OutgoingMessage(body=None)])
    [message] = receive_all(transport, queue, 1)
    assert not message.body
    transport.complete(message)


@pytest.mark.parametrize("transport_factory", BACKENDS, indirect=True)
def test_abandoned_message_is_delivered_again(transport_factory, queue) -> None:
    transport = transport_factory()
    transport.send(queue, [OutgoingMessage(body=b"again")])
    [first] = receive_all(transport, queue, 1)
    transport.abandon(first)
    [second] = receive_all(transport, queue, 1)
    assert second.message_id == first.message_id
    transport.complete(second)
    assert transport.receive(queue, timeout=0.3) == []


@pytest.mark.parametrize("transport_factory", BACKENDS, indirect=True)
def test_unsettled_message_returns_when_the_receiver_goes_away(transport_factory, queue) -> None:
    sender = transport_factory()
    sender.send(queue, [OutgoingMessage(body=b"orphan")])
    crashed = transport_factory()
    [taken] = receive_all(crashed, queue, 1)
    crashed.close()  # dies without settling
    if transport_factory.backend == "database":
        from gateway.models import QueuedMessage

        QueuedMessage.objects.update(visible_at=QueuedMessage.objects.get().enqueued_at)  # lease expired
    [again] = receive_all(sender, queue, 1)
    assert again.message_id == taken.message_id
    sender.complete(again)


@pytest.mark.parametrize("transport_factory", ["database", "azure-servicebus"], indirect=True)
def test_dead_lettered_message_moves_to_the_dead_letter_queue(transport_factory, queue) -> None:
    transport = transport_factory()
    transport.send(queue, [OutgoingMessage(body=b"poison")])
    [message] = receive_all(transport, queue, 1)
    transport.dead_letter(message, "cannot be parsed")
    assert transport.receive(queue, timeout=0.3) == []
    [dead] = receive_all(transport, queue + "/$DeadLetterQueue", 1)
    assert dead.body == b"poison"
    if transport_factory.backend == "azure-servicebus":
        assert dead.properties["DeadLetterReason"] == "cannot be parsed"
    transport.complete(dead)


@pytest.mark.parametrize("transport_factory", ["amqp"], indirect=True)
def test_amqp_dead_letter_is_a_rejection_the_broker_does_not_redeliver(transport_factory, queue) -> None:
    transport = transport_factory()
    transport.send(queue, [OutgoingMessage(body=b"poison")])
    [message] = receive_all(transport, queue, 1)
    transport.dead_letter(message, "cannot be parsed")
    assert transport.receive(queue, timeout=0.5) == []


def test_unknown_backend_is_a_permanent_error() -> None:
    with pytest.raises(TransportError) as caught:
        transport_class("carrier-pigeon")
    assert caught.value.permanent


def test_broker_sdks_are_imported_only_when_their_backend_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'utilitarian.settings');"
        "django.setup(); import gateway.services, gateway.relay, gateway.consumer, gateway.api.views;"
        "from gateway.transports import get_transport; get_transport('database');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('proton', 'azure')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
