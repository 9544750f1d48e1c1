"""The transport interface the relay, the consumer and the simulator speak.

Semantics are Service Bus peek-lock, which every backend can offer: ``receive`` hands out
messages that stay owned by the receiver until it settles each one with an :class:`Outcome`:
``COMPLETE`` removes it, ``ABANDON`` makes it available again (delivery count + 1),
``DEAD_LETTER`` moves it aside with a reason. A receiver that disappears without settling gets
its messages redelivered. Delivery is therefore at-least-once and consumers deduplicate on
``message_id``.

Failures raise :class:`TransportError`; ``permanent`` says whether retrying can help (a broker
that is down: retry; a queue name the broker refuses or a bad configuration: do not).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Outcome(enum.Enum):
    COMPLETE = "complete"
    ABANDON = "abandon"
    DEAD_LETTER = "dead-letter"


@dataclass
class OutgoingMessage:
    body: bytes | None
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    correlation_id: str | None = None
    content_type: str | None = "application/json"
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReceivedMessage:
    body: bytes | None
    message_id: str | None
    correlation_id: str | None
    content_type: str | None
    properties: dict[str, Any]
    delivery_count: int = 1
    queue: str = ""
    #: Backend-specific handle used to settle the message; opaque to callers.
    handle: Any = field(default=None, repr=False)


class Transport:
    """Base class of the backends. Instances are not thread-safe; use one per thread."""

    name = ""

    @classmethod
    def from_settings(cls) -> Transport:
        raise NotImplementedError

    def send(self, queue: str, messages: list[OutgoingMessage]) -> None:
        """Send ``messages`` to ``queue`` in order; returns once the broker has accepted them all."""
        raise NotImplementedError

    def receive(self, queue: str, *, max_messages: int = 10, timeout: float = 1.0) -> list[ReceivedMessage]:
        """Up to ``max_messages`` messages, waiting at most ``timeout`` seconds for the first."""
        raise NotImplementedError

    def settle(self, message: ReceivedMessage, outcome: Outcome, *, reason: str = "") -> None:
        raise NotImplementedError

    def complete(self, message: ReceivedMessage) -> None:
        self.settle(message, Outcome.COMPLETE)

    def abandon(self, message: ReceivedMessage) -> None:
        self.settle(message, Outcome.ABANDON)

    def dead_letter(self, message: ReceivedMessage, reason: str) -> None:
        self.settle(message, Outcome.DEAD_LETTER, reason=reason)

    def close(self) -> None:
        """Release connections; the transport reconnects on next use."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Appended to a queue name to read its dead letters (the Service Bus convention, used by all).
DEAD_LETTER_SUFFIX = "/$DeadLetterQueue"
