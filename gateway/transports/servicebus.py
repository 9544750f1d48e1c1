"""Azure Service Bus through the official ``azure-servicebus`` SDK (7.x, its pure-Python AMQP).

Queues are plain (no sessions): the gateway needs no per-key ordering beyond what one queue gives.
Messages are received in peek-lock mode and settled with complete, abandon or dead-letter.

The SDK can block far longer than asked when the broker refuses it or is gone (connection
retries, a 60 s operation timeout on settlement). Every SDK call therefore runs on this
transport's own worker thread and is waited for at most ``GATEWAY_TRANSPORT_TIMEOUT_SECONDS``;
on timeout or error the client is discarded (closed in the background) and the next call starts
afresh, so the relay's retry loop is the reconnection policy. The SDK's own retries are kept
short for the same reason.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any

from .. import conf
from .base import DEAD_LETTER_SUFFIX, Outcome, OutgoingMessage, ReceivedMessage, Transport, TransportError

log = logging.getLogger(__name__)


class ServiceBusTransport(Transport):
    name = "azure-servicebus"

    def __init__(self, *, connection_string: str, timeout: float = 10.0) -> None:
        if not connection_string:
            raise TransportError("GATEWAY_SERVICEBUS_CONNECTION_STRING is not set", permanent=True)
        self.connection_string = connection_string
        self.timeout = timeout
        self._client: Any = None
        self._senders: dict[str, Any] = {}
        self._receivers: dict[str, Any] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls) -> ServiceBusTransport:
        return cls(
            connection_string=conf.get("GATEWAY_SERVICEBUS_CONNECTION_STRING"),
            timeout=conf.get("GATEWAY_TRANSPORT_TIMEOUT_SECONDS"),
        )

    # --- the worker thread -------------------------------------------------------------------
    def _call(self, action: str, fn: Any, *, extra_wait: float = 0.0) -> Any:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gateway-servicebus")
        future = self._executor.submit(fn)
        try:
            return future.result(timeout=self.timeout + extra_wait)
        except concurrent.futures.TimeoutError as exc:
            self._discard()
            raise TransportError(
                f"Service Bus {action} timed out after {self.timeout + extra_wait:.1f}s"
            ) from exc
        except TransportError:
            raise
        except Exception as exc:
            self._discard()
            raise TransportError(f"Service Bus {action} failed: {type(exc).__name__}: {exc}") from exc

    def _discard(self) -> None:
        """Drop the client and its worker; a hung SDK call is left to finish on its own thread."""
        client, senders, receivers = (
            self._client,
            list(self._senders.values()),
            list(self._receivers.values()),
        )
        executor = self._executor
        self._client, self._senders, self._receivers, self._executor = None, {}, {}, None

        def close_quietly() -> None:
            for handler in [*senders, *receivers, client]:
                if handler is None:
                    continue
                try:
                    handler.close()
                except Exception:
                    log.debug("closing a Service Bus handler", exc_info=True)

        threading.Thread(target=close_quietly, name="gateway-servicebus-close", daemon=True).start()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is None:
            return
        try:
            self._call("close", self._close_handlers)
        except TransportError:
            log.debug("closing the Service Bus client", exc_info=True)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _close_handlers(self) -> None:
        for handler in [*self._senders.values(), *self._receivers.values(), self._client]:
            if handler is not None:
                handler.close()
        self._client, self._senders, self._receivers = None, {}, {}

    # --- SDK objects (worker thread only) -------------------------------------------------------
    def _sdk_client(self) -> Any:
        if self._client is None:
            from azure.servicebus import ServiceBusClient

            self._client = ServiceBusClient.from_connection_string(
                self.connection_string,
                retry_total=1,
                retry_backoff_factor=0.2,
                retry_backoff_max=1,
                socket_timeout=self.timeout,
            )
        return self._client

    def _sender(self, queue: str) -> Any:
        if queue not in self._senders:
            sender = self._sdk_client().get_queue_sender(queue_name=queue)
            self._senders[queue] = sender.__enter__()  # open the link now, with the SDK's own budget
        return self._senders[queue]

    def _receiver(self, queue: str) -> Any:
        if queue not in self._receivers:
            from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

            name, sub_queue = queue, None
            if queue.endswith(DEAD_LETTER_SUFFIX):
                name, sub_queue = queue.removesuffix(DEAD_LETTER_SUFFIX), ServiceBusSubQueue.DEAD_LETTER
            receiver = self._sdk_client().get_queue_receiver(
                queue_name=name,
                sub_queue=sub_queue,
                receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                prefetch_count=0,
            )
            # Open the link before receiving: receive_messages() spends its short max_wait_time on
            # opening the link otherwise, and a brand-new receiver then times out every time.
            self._receivers[queue] = receiver.__enter__()
        return self._receivers[queue]

    # --- operations ------------------------------------------------------------------------------
    def send(self, queue: str, messages: list[OutgoingMessage]) -> None:
        from azure.servicebus import ServiceBusMessage

        def run() -> None:
            batch = [
                ServiceBusMessage(
                    body=m.body if m.body is not None else b"",
                    message_id=m.message_id,
                    correlation_id=m.correlation_id,
                    content_type=m.content_type,
                    application_properties={str(k): _property(v) for k, v in m.properties.items()},
                )
                for m in messages
            ]
            self._sender(queue).send_messages(batch, timeout=self.timeout)

        if messages:
            self._call(f"send to {queue}", run)

    def receive(self, queue: str, *, max_messages: int = 10, timeout: float = 1.0) -> list[ReceivedMessage]:
        wait = max(timeout, 0.1)

        def run() -> list[Any]:
            return self._receiver(queue).receive_messages(max_message_count=max_messages, max_wait_time=wait)

        fresh = queue not in self._receivers
        received = self._call(f"receive from {queue}", run, extra_wait=wait + (self.timeout if fresh else 0))
        return [self._convert(queue, message) for message in received]

    def _convert(self, queue: str, message: Any) -> ReceivedMessage:
        properties = {
            (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): _plain(v)
            for k, v in (message.application_properties or {}).items()
        }
        return ReceivedMessage(
            body=_body(message),
            message_id=_text(message.message_id),
            correlation_id=_text(message.correlation_id),
            content_type=_text(message.content_type),
            properties=properties,
            delivery_count=max(int(message.delivery_count or 0), 1),
            queue=queue,
            handle=(self._receivers.get(queue), message),
        )

    def settle(self, message: ReceivedMessage, outcome: Outcome, *, reason: str = "") -> None:
        receiver, sdk_message = message.handle
        if receiver is None or self._receivers.get(message.queue) is not receiver:
            raise TransportError("the receiver of this message is gone; it will be redelivered")

        def run() -> None:
            if outcome is Outcome.COMPLETE:
                receiver.complete_message(sdk_message)
            elif outcome is Outcome.ABANDON:
                receiver.abandon_message(sdk_message)
            else:
                receiver.dead_letter_message(
                    sdk_message, reason=reason[:200], error_description=reason[:1000]
                )

        self._call(f"{outcome.value} on {message.queue}", run)


def _property(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _body(message: Any) -> bytes | None:
    from azure.servicebus.amqp import AmqpMessageBodyType

    body_type = message.body_type
    if body_type == AmqpMessageBodyType.DATA:
        return b"".join(bytes(part) for part in message.body)
    value = message.body
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    import json

    return json.dumps(value, default=str).encode("utf-8")
