"""An in-process AMQP 1.0 broker on python-qpid-proton that the azure-servicebus SDK accepts.

It exists so the ``azure-servicebus`` transport is tested with the real SDK (7.x, pure-Python
AMQP) on loopback, without Azure and without the Service Bus emulator's container. The SDK
connects with ``UseDevelopmentEmulator=true`` in its connection string (plain AMQP, the port
kept), so :attr:`ServiceBusTestBroker.connection_string` is all a test needs.

What it does, each point needed by SDK 7.15:

* answers the claims-based-security exchange: put-token requests arrive on a link to ``$cbs``
  without ``reply_to``; the answer goes out on the link the client attached *from* ``$cbs``,
  correlated by the request's message id, with ``status-code`` 202;
* names queues by the path of their address (``amqps://HOST:PORT/NAME``) and keeps dead letters
  in ``NAME/$DeadLetterQueue``;
* hands out deliveries with 16-byte tags (the SDK reads the tag as the lock token, a UUID);
* settles in receiver-settle-mode ``second``: the receiver's disposition is echoed and settled
  (accepted = complete; modified or released = abandon, the message goes back to the front of
  its queue with its delivery count raised; rejected = dead-letter, with the
  ``DeadLetterReason`` and ``DeadLetterErrorDescription`` the receiver gave);
* unpacks batches (``send_messages([...])`` sends one transfer whose data sections each hold a
  whole encoded message) into separate messages;
* returns the unsettled deliveries of a connection that goes away to their queue, so
  :meth:`stop` and :meth:`start` behave like a broker restart that loses nothing it accepted.

What it does not emulate: sessions (session-enabled queues, session locks), scheduled messages
and cancellation, deferral (``defer_message`` settles as modified and the message simply comes
back), the ``$management`` node (peek, lock renewal, receive-deferred, sequence-number
settlement), time-to-live and lock expiry (a lock lasts until the receiver settles or goes
away), duplicate detection, max-delivery-count dead-lettering, topics and subscriptions,
partitioning, size quotas, TLS and real token validation (any token is accepted).
"""

from __future__ import annotations

import collections
import itertools
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from proton import Condition, Data, Delivery, Described, Endpoint, Handler, Link, Message, symbol, timestamp
from proton.reactor import ApplicationEvent, Container, EventInjector

DEAD_LETTER_SUFFIX = "/$DeadLetterQueue"
_SECTION_DATA = 0x75
_MESSAGE_SECTIONS = range(0x70, 0x79)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queue_name(address: str | None) -> str:
    """``amqps://host:port/NAME`` (or plain ``NAME``) → ``NAME``; dead-letter suffix normalised."""
    address = address or ""
    if "://" in address:
        address = urlparse(address).path
    address = address.strip("/")
    lowered = address.lower()
    suffix = DEAD_LETTER_SUFFIX.lower()
    if lowered.endswith(suffix):
        address = address[: -len(suffix)] + DEAD_LETTER_SUFFIX
    return address


def _sections(raw: bytes) -> list[Any] | None:
    """The top-level AMQP values of ``raw`` when it is a sequence of message sections."""
    raw = bytes(raw)
    data = Data()
    values: list[Any] = []
    offset = 0
    try:
        while offset < len(raw):
            consumed = data.decode(raw[offset:])
            if consumed <= 0:
                return None
            offset += consumed
            data.rewind()
            data.next()
            value = data.get_object()
            if isinstance(value, Described) and isinstance(value.value, memoryview):
                value = Described(value.descriptor, bytes(value.value))  # it points into `data`
            data.clear()
            if not isinstance(value, Described) or int(value.descriptor) not in _MESSAGE_SECTIONS:
                return None
            values.append(value)
    except Exception:  # not AMQP sections: an ordinary payload
        return None
    return values


def unpack(raw: bytes) -> list[Message]:
    """One message, or the messages of a Service Bus batch transfer."""
    sections = _sections(raw)
    if sections:
        payloads = [bytes(s.value) for s in sections if int(s.descriptor) == _SECTION_DATA]
        if payloads and all(_sections(p) for p in payloads):
            messages = []
            for payload in payloads:
                inner = Message()
                inner.decode(payload)
                messages.append(_own_body(inner))
            return messages
    message = Message()
    message.decode(bytes(raw))
    return [_own_body(message)]


def _own_body(message: Message) -> Message:
    if isinstance(message.body, memoryview):
        message.body = bytes(message.body)
    return message


@dataclass
class StoredMessage:
    message: Message
    sequence: int
    enqueued_at: datetime
    delivery_count: int = 0


class _Handler(Handler):
    def __init__(self, broker: ServiceBusTestBroker) -> None:
        super().__init__()
        self.broker = broker

    # --- endpoints -----------------------------------------------------------------------------
    def on_connection_bound(self, event: Any) -> None:
        sasl = event.transport.sasl()
        sasl.allowed_mechs("ANONYMOUS PLAIN")
        sasl.allow_insecure_mechs = True
        event.connection.broker_key = uuid.uuid4().hex
        self.broker._connections.append(event.connection)

    def on_connection_remote_open(self, event: Any) -> None:
        if event.connection.state & Endpoint.LOCAL_UNINIT:
            event.connection.open()

    def on_session_remote_open(self, event: Any) -> None:
        if event.session.state & Endpoint.LOCAL_UNINIT:
            event.session.open()

    def on_link_remote_open(self, event: Any) -> None:
        link = event.link
        if not link.state & Endpoint.LOCAL_UNINIT:
            return
        link.broker_key = uuid.uuid4().hex
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = link.remote_rcv_settle_mode
        if link.is_sender:
            address = link.remote_source.address
            link.source.address = address
            link.target.copy(link.remote_target)
            link.open()
            if address == "$cbs" or address == "$management":
                self.broker._reply_links[(link.connection.broker_key, address)] = link
            else:
                self.broker._subscribers[queue_name(address)].append(link)
        else:
            link.target.address = link.remote_target.address
            link.source.copy(link.remote_source)
            link.open()
            link.flow(1000)

    def on_link_flow(self, event: Any) -> None:
        link = event.link
        if link.is_sender:
            self.broker._dispatch(queue_name(link.source.address))

    def on_link_remote_close(self, event: Any) -> None:
        link = event.link
        self.broker._forget_link(link)
        if link.state & Endpoint.LOCAL_ACTIVE:
            link.close()

    def on_session_remote_close(self, event: Any) -> None:
        if event.session.state & Endpoint.LOCAL_ACTIVE:
            event.session.close()

    def on_connection_remote_close(self, event: Any) -> None:
        self.broker._forget_connection(event.connection)
        if event.connection.state & Endpoint.LOCAL_ACTIVE:
            event.connection.close()

    def on_transport_closed(self, event: Any) -> None:
        if event.connection is not None:
            self.broker._forget_connection(event.connection)

    # --- deliveries ------------------------------------------------------------------------------
    def on_delivery(self, event: Any) -> None:
        delivery = event.delivery
        link = event.link
        if link.is_receiver:
            if delivery.partial or not delivery.readable:
                return
            raw = link.recv(delivery.pending)
            link.advance()
            self.broker._incoming(link, delivery, raw)
            if link.credit < 500:
                link.flow(1000)
        elif delivery.remote_state or delivery.settled:
            self.broker._outcome(delivery)

    # --- control from the test thread ----------------------------------------------------------------
    def on_broker_stop(self, event: Any) -> None:
        self.broker._shutdown()

    def on_broker_dispatch(self, event: Any) -> None:
        for name in list(self.broker._queues):
            self.broker._dispatch(name)


class ServiceBusTestBroker:
    """Start with :meth:`start` (or as a context manager); :meth:`stop` and :meth:`start` again
    simulate a broker restart on the same port with the queues' contents kept."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.RLock()
        self._queues: dict[str, collections.deque[StoredMessage]] = collections.defaultdict(collections.deque)
        self._subscribers: dict[str, list[Link]] = collections.defaultdict(list)
        self._reply_links: dict[tuple[int, str], Link] = {}
        self._in_flight: dict[bytes, tuple[str, StoredMessage, str, str]] = {}
        self._connections: list[Any] = []
        self._sequence = itertools.count(1)
        self._container: Container | None = None
        self._injector: EventInjector | None = None
        self._acceptor: Any = None
        self._thread: threading.Thread | None = None
        self.put_token_requests = 0

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def connection_string(self) -> str:
        return (
            f"Endpoint=sb://{self.host}:{self.port}/;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=dGVzdC1rZXk=;UseDevelopmentEmulator=true"
        )

    def start(self, timeout: float = 5.0) -> ServiceBusTestBroker:
        if self.running:
            return self
        container = Container(_Handler(self))
        injector = EventInjector()
        container.selectable(injector)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._acceptor = container.listen(f"{self.host}:{self.port}")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._container, self._injector = container, injector
        self._thread = threading.Thread(target=container.run, name=f"sb-test-broker:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Drop every connection and stop listening; unsettled deliveries go back to their queue."""
        if not self.running:
            return
        assert self._injector is not None
        self._injector.trigger(ApplicationEvent("broker_stop"))
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("test broker did not stop in time")
        self._thread = None
        self._container = None
        self._injector = None

    def __enter__(self) -> ServiceBusTestBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _shutdown(self) -> None:
        for connection in list(self._connections):
            self._forget_connection(connection)
            if connection.state & Endpoint.LOCAL_ACTIVE:
                connection.condition = Condition("amqp:connection:forced", "test broker stopping")
                connection.close()
            if connection.transport is not None:
                connection.transport.close_tail()
                connection.transport.close_head()
        self._connections.clear()
        self._subscribers.clear()
        self._reply_links.clear()
        if self._acceptor is not None:
            self._acceptor.close()
            self._acceptor = None
        if self._injector is not None:
            self._injector.close()
        assert self._container is not None
        self._container.stop()

    # --- inspection (any thread) ------------------------------------------------------------------
    def messages(self, queue: str) -> list[Message]:
        """A snapshot of the messages waiting in ``queue`` (not the ones locked by a receiver)."""
        with self._lock:
            return [stored.message for stored in self._queues.get(queue, ())]

    def depth(self, queue: str) -> int:
        with self._lock:
            waiting = len(self._queues.get(queue, ()))
            locked = sum(1 for entry in self._in_flight.values() if entry[0] == queue)
            return waiting + locked

    # --- broker logic (container thread) --------------------------------------------------------------
    def _enqueue(self, name: str, message: Message, *, delivery_count: int = 0) -> None:
        with self._lock:
            self._queues[name].append(
                StoredMessage(
                    message=message,
                    sequence=next(self._sequence),
                    enqueued_at=datetime.now(UTC),
                    delivery_count=delivery_count,
                )
            )
        self._dispatch(name)

    def _requeue(self, name: str, stored: StoredMessage) -> None:
        with self._lock:
            queue = self._queues[name]
            queue.append(stored)
            self._queues[name] = collections.deque(sorted(queue, key=lambda s: s.sequence))

    def _incoming(self, link: Link, delivery: Delivery, raw: bytes) -> None:
        address = link.target.address
        try:
            messages = unpack(raw)
        except Exception as exc:
            delivery.local.condition = Condition("amqp:decode-error", str(exc))
            delivery.update(Delivery.REJECTED)
            delivery.settle()
            return
        if address == "$cbs":
            for request in messages:
                self._answer_put_token(link, request)
        elif address == "$management":
            for request in messages:
                self._answer_management(link, request)
        else:
            name = queue_name(address)
            for message in messages:
                self._enqueue(name, message)
        delivery.update(Delivery.ACCEPTED)
        delivery.settle()

    def _answer_put_token(self, link: Link, request: Message) -> None:
        self.put_token_requests += 1
        self._reply(
            link,
            "$cbs",
            Message(
                correlation_id=request.id,
                properties={"status-code": 202, "status-description": "Accepted"},
            ),
        )

    def _answer_management(self, link: Link, request: Message) -> None:
        operation = (request.properties or {}).get("operation")
        self._reply(
            link,
            "$management",
            Message(
                correlation_id=request.id,
                properties={
                    "statusCode": 501,
                    "statusDescription": f"test broker does not emulate {operation}",
                },
            ),
        )

    def _reply(self, link: Link, node: str, reply: Message) -> None:
        sender = self._reply_links.get((link.connection.broker_key, node))
        if sender is not None:
            sender.send(reply, tag=uuid.uuid4().bytes)

    def _dispatch(self, name: str) -> None:
        for link in list(self._subscribers.get(name, ())):
            if not link.state & Endpoint.LOCAL_ACTIVE:
                continue
            while link.credit > 0:
                with self._lock:
                    queue = self._queues.get(name)
                    if not queue:
                        return
                    stored = queue.popleft()
                stored.delivery_count += 1
                message = stored.message
                message.delivery_count = stored.delivery_count - 1
                locked_until = datetime.now(UTC) + timedelta(minutes=5)
                message.annotations = {
                    **dict(message.annotations or {}),
                    symbol("x-opt-sequence-number"): stored.sequence,
                    symbol("x-opt-enqueued-time"): timestamp(int(stored.enqueued_at.timestamp() * 1000)),
                    symbol("x-opt-locked-until"): timestamp(int(locked_until.timestamp() * 1000)),
                }
                tag = uuid.uuid4().bytes  # 16 bytes: the SDK's lock token
                with self._lock:
                    self._in_flight[tag] = (name, stored, link.connection.broker_key, link.broker_key)
                delivery = link.send(message, tag=tag)
                delivery.broker_tag = tag  # proton reads tags back as text; binary ones fail

    def _outcome(self, delivery: Delivery) -> None:
        tag = getattr(delivery, "broker_tag", None)
        with self._lock:
            entry = self._in_flight.pop(tag, None)
        if entry is None:
            if not delivery.settled:
                delivery.settle()
            return
        name, stored = entry[0], entry[1]
        state = delivery.remote_state
        if state and not delivery.settled:
            delivery.update(state)  # echo the receiver's outcome: the SDK waits for it
        if state == Delivery.REJECTED:
            condition = delivery.remote.condition
            info = dict(condition.info or {}) if condition is not None else {}
            message = stored.message
            properties = dict(message.properties or {})
            for key in ("DeadLetterReason", "DeadLetterErrorDescription"):
                value = info.get(key) or info.get(symbol(key))
                if value is not None:
                    properties[key] = str(value)
            message.properties = properties
            self._enqueue(name + DEAD_LETTER_SUFFIX, message, delivery_count=stored.delivery_count)
        elif state in (Delivery.MODIFIED, Delivery.RELEASED) or state is None or not state:
            self._requeue(name, stored)
        # ACCEPTED: the message is done.
        if not delivery.settled:
            delivery.settle()
        self._dispatch(name)

    def _forget_link(self, link: Link) -> None:
        key = getattr(link, "broker_key", None)
        for links in self._subscribers.values():
            links[:] = [other for other in links if getattr(other, "broker_key", None) != key]
        self._requeue_unsettled(lambda entry: entry[3] == key)

    def _forget_connection(self, connection: Any) -> None:
        key = getattr(connection, "broker_key", None)
        for links in self._subscribers.values():
            links[:] = [link for link in links if getattr(link.connection, "broker_key", None) != key]
        for reply in [k for k in self._reply_links if k[0] == key]:
            del self._reply_links[reply]
        self._requeue_unsettled(lambda entry: entry[2] == key)

    def _requeue_unsettled(self, belongs: Any) -> None:
        with self._lock:
            mine = [tag for tag, entry in self._in_flight.items() if belongs(entry)]
            entries = [self._in_flight.pop(tag) for tag in mine]
        for entry in entries:
            self._requeue(entry[0], entry[1])
