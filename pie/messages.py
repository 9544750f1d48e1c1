"""Reading PiE notifications tolerantly (no Django here).

PiE does not publish its message schema, so a notification is read by meaning rather than by
exact shape: the ids may sit in the application properties or in the body (JSON text, bytes or
an AMQP map), at the top level or one level down (``{"data": {...}}``), spelt ``ticketId``,
``ticket_id``, ``TicketID`` or as a nested ``{"ticket": {"id": ...}}``. Key comparison ignores
case, ``_`` and ``-``. The kind comes from a type-like property (``type``, ``eventType``,
``subject``…) when there is one, else from which ids are present. The message id is the AMQP
message-id, else an id-like property, else a hash of the content (so an identical redelivery of
an id-less message still deduplicates).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

TICKET_CREATED = "ticket_created"
COMMENT_CREATED = "comment_created"

_KIND_KEYS = ("type", "eventtype", "messagetype", "event", "eventname", "notificationtype", "kind", "subject")
_MESSAGE_ID_KEYS = ("messageid", "eventid", "notificationid")
_NESTING_KEYS = ("data", "payload", "body", "event", "message", "notification", "content")


class UnparseableMessage(ValueError):
    """The notification names no ticket or comment we could fetch."""

    def __init__(self, reason: str, notification: Notification) -> None:
        super().__init__(reason)
        self.reason = reason
        self.notification = notification


@dataclass(frozen=True)
class Notification:
    message_id: str
    kind: str
    ticket_id: str | None
    comment_id: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    body_text: str = ""


def _norm(key: Any) -> str:
    return str(key).lower().replace("_", "").replace("-", "")


def _scalar_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) or type(value).__name__ == "UUID":
        text = str(value).strip()
        return text or None
    if isinstance(value, dict):
        return _scalar_id(lookup(value, "id"))
    return None


def lookup(mapping: dict[str, Any], *names: str) -> Any:
    """The value of the first key matching one of ``names`` (normalised), or None."""
    normalised = {_norm(k): v for k, v in mapping.items()}
    for name in names:
        value = normalised.get(_norm(name))
        if value not in (None, ""):
            return value
    return None


def _decode_body(body: Any) -> tuple[dict[str, Any], str]:
    if isinstance(body, memoryview):
        body = body.tobytes()
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return {}, body.hex()
    if isinstance(body, dict):
        mapping = {str(k): v for k, v in body.items()}
        return mapping, json.dumps(mapping, default=str, sort_keys=True)
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return {}, body
        return (parsed if isinstance(parsed, dict) else {}), body
    if body is None:
        return {}, ""
    return {}, repr(body)


def _layers(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    layers = [mapping]
    for key in _NESTING_KEYS:
        inner = lookup(mapping, key)
        if isinstance(inner, str):
            try:
                inner = json.loads(inner)
            except ValueError:
                inner = None
        if isinstance(inner, dict):
            layers.append(inner)
    return layers


def _first_id(layers: list[dict[str, Any]], *names: str) -> str | None:
    for layer in layers:
        value = _scalar_id(lookup(layer, *names))
        if value:
            return value
    return None


def _kind(layers: list[dict[str, Any]], ticket_id: str | None, comment_id: str | None) -> str:
    for layer in layers:
        value = lookup(layer, *_KIND_KEYS)
        if isinstance(value, str):
            text = value.lower()
            if "comment" in text:
                return COMMENT_CREATED
            if "ticket" in text:
                return TICKET_CREATED
    return COMMENT_CREATED if comment_id else TICKET_CREATED


def message_id_of(amqp_id: Any, properties: dict[str, Any], body_text: str) -> str:
    if amqp_id not in (None, ""):
        return str(amqp_id)
    found = _scalar_id(lookup(properties, *_MESSAGE_ID_KEYS))
    if found:
        return found
    digest = hashlib.sha256(json.dumps(properties, default=str, sort_keys=True).encode() + body_text.encode())
    return f"sha256:{digest.hexdigest()}"


def parse_notification(
    *, amqp_id: Any, properties: dict[str, Any] | None, body: Any, subject: Any = None
) -> Notification:
    """Read a broker message; raises :class:`UnparseableMessage` with the reason when it names nothing."""
    # Round-trip through JSON: AMQP symbols, ulongs, UUIDs and binaries become plain values.
    props = json.loads(json.dumps({str(k): v for k, v in (properties or {}).items()}, default=str))
    if subject and "subject" not in {_norm(k) for k in props}:
        props["subject"] = str(subject)
    mapping, body_text = _decode_body(body)
    message_id = message_id_of(amqp_id, props, body_text)
    layers = [props, *_layers(mapping)]
    ticket_id = _first_id(layers, "ticketId", "ticketNumber", "ticket")
    comment_id = _first_id(layers, "commentId", "comment")
    kind = _kind(layers, ticket_id, comment_id)
    # A bare "id" is the object the message is about once the kind is known.
    if kind == COMMENT_CREATED and not comment_id:
        comment_id = _first_id(layers[1:], "id")
    if kind == TICKET_CREATED and not ticket_id:
        ticket_id = _first_id(layers[1:], "id")
    notification = Notification(
        message_id=message_id,
        kind=kind,
        ticket_id=ticket_id,
        comment_id=comment_id if kind == COMMENT_CREATED else None,
        properties=props,
        body_text=body_text,
    )
    if kind == COMMENT_CREATED and not comment_id:
        raise UnparseableMessage(
            f"comment notification without a comment id: {body_text[:200]!r}", notification
        )
    if kind == TICKET_CREATED and not ticket_id:
        raise UnparseableMessage(
            f"notification names no ticket or comment: {body_text[:200]!r}", notification
        )
    return notification
