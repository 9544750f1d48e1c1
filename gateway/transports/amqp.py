"""AMQP 1.0 through python-qpid-proton, for any AMQP 1.0 broker (RabbitMQ with its AMQP 1.0
plugin, ActiveMQ Artemis, Qpid, Service Bus without its token exchange…).

Blocking proton API (``BlockingConnection``), one connection per transport instance, opened on
first use and dropped on any error, so the next call reconnects: the relay's retry loop is the
reconnection policy. Every wait is bounded by ``GATEWAY_TRANSPORT_TIMEOUT_SECONDS``.

Peek-lock maps onto unsettled deliveries: complete = accepted, abandon = released (the broker
redelivers; RabbitMQ 3.10 drops a ``modified`` delivery instead of requeueing it, so released is
the portable choice, at the price of no delivery-count increment), dead-letter = rejected (the
broker's policy decides where it goes: RabbitMQ drops it unless the queue has a dead-letter
exchange). A settlement is fire-and-forget in AMQP: if the connection drops before the broker
sees it, the message comes back, which the consumers' deduplication absorbs. Queue names become
addresses through ``GATEWAY_AMQP_ADDRESS_PATTERN`` (``/queue/{queue}`` for RabbitMQ).
"""

from __future__ import annotations

import logging
from typing import Any

from proton import Delivery, ProtonException, Timeout
from proton.handlers import MessagingHandler
from proton.utils import BlockingConnection, BlockingReceiver, BlockingSender, SendException

from .. import conf
from ._proton import body_bytes, plain, text_id, to_proton
from .base import Outcome, OutgoingMessage, ReceivedMessage, Transport, TransportError

log = logging.getLogger(__name__)

# After the first message of a batch arrives, how long to wait for the rest.
_BATCH_LINGER_SECONDS = 0.05


class _Inbox(MessagingHandler):
    """Collects deliveries without settling them (the caller settles with its outcome)."""

    def __init__(self) -> None:
        super().__init__(prefetch=0, auto_accept=False)
        self.items: list[tuple[Any, Delivery]] = []

    def on_message(self, event: Any) -> None:
        self.items.append((event.message, event.delivery))


class AmqpTransport(Transport):
    name = "amqp"

    def __init__(self, *, url: str, address_pattern: str = "{queue}", timeout: float = 10.0) -> None:
        self.url = url
        self.address_pattern = address_pattern
        self.timeout = timeout
        self._conn: BlockingConnection | None = None
        self._senders: dict[str, BlockingSender] = {}
        self._receivers: dict[str, tuple[BlockingReceiver, _Inbox]] = {}

    @classmethod
    def from_settings(cls) -> AmqpTransport:
        return cls(
            url=conf.get("GATEWAY_AMQP_URL"),
            address_pattern=conf.get("GATEWAY_AMQP_ADDRESS_PATTERN"),
            timeout=conf.get("GATEWAY_TRANSPORT_TIMEOUT_SECONDS"),
        )

    def address(self, queue: str) -> str:
        return self.address_pattern.format(queue=queue)

    # --- connection management -------------------------------------------------------------
    def _connection(self) -> BlockingConnection:
        if self._conn is None:
            self._conn = BlockingConnection(self.url, timeout=self.timeout, heartbeat=max(self.timeout, 5))
        return self._conn

    def _fail(self, action: str, exc: BaseException) -> TransportError:
        self.close()
        return TransportError(f"AMQP {action} failed on {self.url}: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._senders.clear()
        self._receivers.clear()
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a dead connection may raise; it is gone either way
                log.debug("closing AMQP connection", exc_info=True)

    def _pump(self, seconds: float = 0.01) -> None:
        """Let proton write pending frames (settlements) without waiting for anything."""
        container = self._connection().container
        saved = container.timeout
        container.timeout = seconds
        try:
            container.process()
        finally:
            container.timeout = saved

    # --- operations --------------------------------------------------------------------------
    def send(self, queue: str, messages: list[OutgoingMessage]) -> None:
        address = self.address(queue)
        try:
            sender = self._senders.get(address)
            if sender is None:
                sender = self._connection().create_sender(address)
                self._senders[address] = sender
            for message in messages:
                sender.send(to_proton(message), timeout=self.timeout)
        except SendException as exc:
            raise self._fail(f"send to {address} (refused: state {exc.state})", exc) from exc
        except (ProtonException, OSError) as exc:
            raise self._fail(f"send to {address}", exc) from exc

    def receive(self, queue: str, *, max_messages: int = 10, timeout: float = 1.0) -> list[ReceivedMessage]:
        address = self.address(queue)
        try:
            conn = self._connection()
            entry = self._receivers.get(address)
            if entry is None:
                inbox = _Inbox()
                receiver = conn.create_receiver(address, handler=inbox)
                entry = self._receivers[address] = (receiver, inbox)
            receiver, inbox = entry
            wanted = max_messages - len(inbox.items) - receiver.link.credit
            if wanted > 0:
                receiver.link.flow(wanted)
            try:
                conn.wait(lambda: bool(inbox.items), timeout=max(timeout, 0.01))
                conn.wait(lambda: len(inbox.items) >= max_messages, timeout=_BATCH_LINGER_SECONDS)
            except Timeout:
                pass
        except (ProtonException, OSError) as exc:
            raise self._fail(f"receive from {address}", exc) from exc
        taken, inbox.items[:] = inbox.items[:max_messages], inbox.items[max_messages:]
        return [self._received(queue, message, delivery) for message, delivery in taken]

    def _received(self, queue: str, message: Any, delivery: Delivery) -> ReceivedMessage:
        return ReceivedMessage(
            body=body_bytes(message.body),
            message_id=text_id(message.id),
            correlation_id=text_id(message.correlation_id),
            content_type=str(message.content_type) if message.content_type else None,
            properties=plain(dict(message.properties or {})),
            delivery_count=int(message.delivery_count or 0) + 1,
            queue=queue,
            handle=(self._conn, delivery),
        )

    def settle(self, message: ReceivedMessage, outcome: Outcome, *, reason: str = "") -> None:
        conn, delivery = message.handle
        if conn is not self._conn or conn is None:
            raise TransportError("the connection that received this message is gone; it will be redelivered")
        try:
            if outcome is Outcome.COMPLETE:
                delivery.update(Delivery.ACCEPTED)
            elif outcome is Outcome.ABANDON:
                delivery.update(Delivery.RELEASED)
            else:
                delivery.local.condition = None
                delivery.update(Delivery.REJECTED)
            delivery.settle()
            self._pump()
            self._pump()
        except (ProtonException, OSError) as exc:
            raise self._fail("settle", exc) from exc
