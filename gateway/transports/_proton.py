"""Conversions between :mod:`gateway.transports.base` messages and proton messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

from proton import Message

from .base import OutgoingMessage


def to_proton(message: OutgoingMessage) -> Message:
    # A bytes body goes in a data section (what Service Bus and most brokers expect); no body is
    # an AMQP null value, which is what "body is null" means on the wire.
    proton_message = Message(
        body=message.body,
        id=message.message_id,
        correlation_id=message.correlation_id,
        content_type=message.content_type,
        properties={str(k): _property_value(v) for k, v in message.properties.items()},
        inferred=message.body is not None,
        durable=True,
    )
    return proton_message


def _property_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def body_bytes(body: Any) -> bytes | None:
    """Whatever body section a peer used, as bytes (text as UTF-8, structured values as JSON)."""
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, default=str).encode("utf-8")


def plain(value: Any) -> Any:
    """proton's typed values (symbol, ulong, UUID…) as plain JSON-friendly Python values."""
    if value is None or isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or isinstance(value, bool) else int(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def text_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
