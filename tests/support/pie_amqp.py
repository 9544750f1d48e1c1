"""A tiny proton publisher for the PiE tests (the gateway tests have their own helpers).

RabbitMQ with its AMQP 1.0 plugin on 127.0.0.1:5672 (guest/guest) is a real peer of these
tests; ``/queue/NAME`` addresses are declared on first use, so each test uses its own
``pie-test-<random>`` queue. When the broker is not reachable the tests skip with a reason, or
fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable

import pytest
from proton import Message
from proton.utils import BlockingConnection

RABBITMQ_HOST = os.environ.get("PIE_TEST_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("PIE_TEST_RABBITMQ_PORT", "5672"))
RABBITMQ_URL = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}"


def require_rabbitmq() -> None:
    try:
        with socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=1):
            return
    except OSError as exc:
        message = f"RabbitMQ (AMQP 1.0) not reachable at {RABBITMQ_HOST}:{RABBITMQ_PORT}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_queue_address() -> str:
    return f"/queue/pie-test-{uuid.uuid4().hex[:12]}"


test_queue_address.__test__ = False  # a helper, not a test


def publish(address: str, messages: Iterable[Message], url: str = RABBITMQ_URL) -> None:
    """Send messages and wait until the broker has accepted each (bounded)."""
    connection = BlockingConnection(url, timeout=10)
    try:
        sender = connection.create_sender(address)
        for message in messages:
            sender.send(message, timeout=10)
    finally:
        connection.close()


def drain(address: str, *, timeout: float = 0.5, url: str = RABBITMQ_URL) -> list[Message]:
    """Take (and accept) whatever is left on a queue; stops after ``timeout`` seconds of silence."""
    connection = BlockingConnection(url, timeout=10)
    taken: list[Message] = []
    try:
        receiver = connection.create_receiver(address, credit=50)
        while True:
            try:
                message = receiver.receive(timeout=timeout)
            except Exception:  # proton.Timeout: the queue is empty
                break
            taken.append(message)
            receiver.accept()
    finally:
        connection.close()
    return taken


def ticket_created(ticket_id: str, *, message_id: str | None = None) -> Message:
    return Message(
        id=message_id or str(uuid.uuid4()),
        properties={"type": "TicketCreated"},
        body=f'{{"ticketId": "{ticket_id}"}}',
        content_type="application/json",
    )


def comment_created(comment_id: str, ticket_id: str, *, message_id: str | None = None) -> Message:
    return Message(
        id=message_id or str(uuid.uuid4()),
        properties={"eventType": "CommentCreated", "ticketId": ticket_id},
        body={"commentId": comment_id},
    )
