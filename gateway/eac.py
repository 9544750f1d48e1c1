"""Reading the EAC's status messages, whose exact format is not public.

So parsing is tolerant and loses nothing: the raw body and properties are kept on every event;
the request is found by ``Itron-CorrelationId`` (property, then the AMQP correlation id, then a
``correlationId`` in the body); a body flagged ``IsCompressed`` is gunzipped (zlib accepted too);
the ESN state comes from a status word in the body when there is one (``status``, ``state``,
``result``… in any case), otherwise from ``Itron-Status-Code`` (202 → received, 4xx/5xx →
failed). A body may describe one ESN, a list of ESNs with one status, or a list of per-ESN
results; a status without an ESN applies to every ESN of the request.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from .models import EsnState
from .transports.base import ReceivedMessage

PROPERTY_TENANT = "Itron-Tenant-Id"
PROPERTY_CORRELATION = "Itron-CorrelationId"
PROPERTY_COMPRESSED = "IsCompressed"
PROPERTY_STATUS_CODE = "Itron-Status-Code"
PROPERTY_VERB = "Itron-Request-Verb"
PROPERTY_URI = "Itron-Request-Uri"

_WORDS: dict[str, EsnState] = {
    "accepted": EsnState.RECEIVED,
    "received": EsnState.RECEIVED,
    "queued": EsnState.RECEIVED,
    "pending": EsnState.RECEIVED,
    "submitted": EsnState.RECEIVED,
    "downloading": EsnState.DOWNLOADING,
    "downloadstarted": EsnState.DOWNLOADING,
    "downloaded": EsnState.DOWNLOADING,
    "inprogress": EsnState.DOWNLOADING,
    "installing": EsnState.DOWNLOADING,
    "installed": EsnState.INSTALLED,
    "installcomplete": EsnState.INSTALLED,
    "licensed": EsnState.LICENSED,
    "licenseapplied": EsnState.LICENSED,
    "completed": EsnState.LICENSED,
    "succeeded": EsnState.LICENSED,
    "success": EsnState.LICENSED,
    "uninstalled": EsnState.UNINSTALLED,
    "removed": EsnState.UNINSTALLED,
    "failed": EsnState.FAILED,
    "failure": EsnState.FAILED,
    "error": EsnState.FAILED,
    "rejected": EsnState.FAILED,
    "timedout": EsnState.FAILED,
}
_ESN_KEYS = ("esn", "esnid", "deviceid", "meterid", "endpointid", "device")
_ESN_LIST_KEYS = ("esnlist", "esns")
_RESULT_LIST_KEYS = ("results", "devices", "items", "statuses", "details")
_STATUS_KEYS = ("status", "state", "installstatus", "jobstatus", "result", "statusname")
_REASON_KEYS = ("reason", "failurereason", "errormessage", "error", "message", "description", "detail")


class StatusParseError(Exception):
    """The message cannot be tied to a request; it is dead-lettered with this reason."""


@dataclass
class EsnUpdate:
    esn: str  # "" = every ESN of the request
    status: EsnState
    reason: str = ""


@dataclass
class ParsedStatus:
    message_id: str
    correlation_id: str
    tenant_id: str | None
    status_code: str
    updates: list[EsnUpdate]
    raw_body: str
    raw_properties: dict[str, Any] = field(default_factory=dict)


def _lower_keys(mapping: dict[str, Any]) -> dict[str, Any]:
    return {re.sub(r"[^a-z0-9]", "", str(k).lower()): v for k, v in mapping.items()}


def _first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value not in (None, ""):
            return value
    return None


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def decode_body(body: bytes | None, compressed: bool) -> str:
    if not body:
        return ""
    if compressed:
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            try:
                body = zlib.decompress(body)
            except zlib.error as exc:
                raise StatusParseError(f"IsCompressed is set but the body is not gzip/zlib: {exc}") from exc
    return body.decode("utf-8", "replace")


def state_from_word(word: Any) -> EsnState | None:
    if word is None:
        return None
    if isinstance(word, dict):
        word = _first(_lower_keys(word), ("name", "value", "code", "status"))
    key = re.sub(r"[^a-z]", "", str(word).lower())
    return _WORDS.get(key)


def state_from_code(code: str) -> EsnState | None:
    if not code or not code.strip().isdigit():
        return None
    number = int(code)
    if number >= 400:
        return EsnState.FAILED
    if number == 202:
        return EsnState.RECEIVED
    return None


def _updates_from(item: dict[str, Any], code: str, default_esns: list[str]) -> list[EsnUpdate]:
    lowered = _lower_keys(item)
    word = _first(lowered, _STATUS_KEYS)
    status = state_from_word(word) or state_from_code(code)
    reason = _first(lowered, _REASON_KEYS)
    if status is None:
        status = EsnState.UNKNOWN
        reason = reason or f"unrecognised status {word!r} (code {code or 'none'})"
    if status is EsnState.FAILED and not reason:
        reason = f"EAC reported failure (code {code or 'none'})"
    reason_text = "" if reason is None else (reason if isinstance(reason, str) else json.dumps(reason))
    esn = _first(lowered, _ESN_KEYS)
    esns = [str(esn)] if esn is not None else None
    if esns is None:
        listed = _first(lowered, _ESN_LIST_KEYS)
        esns = [str(e) for e in listed] if isinstance(listed, list) else default_esns
    return [EsnUpdate(esn=e, status=status, reason=reason_text[:2000]) for e in esns]


def parse_status_message(message: ReceivedMessage) -> ParsedStatus:
    properties = dict(message.properties)
    props = {str(k).lower(): v for k, v in properties.items()}
    code = str(props.get(PROPERTY_STATUS_CODE.lower()) or "").strip()
    text = decode_body(message.body, truthy(props.get(PROPERTY_COMPRESSED.lower())))
    try:
        payload: Any = json.loads(text) if text.strip() else {}
    except ValueError:
        payload = {"message": text}
    top = _lower_keys(payload) if isinstance(payload, dict) else {}
    correlation = (
        props.get(PROPERTY_CORRELATION.lower()) or message.correlation_id or top.get("correlationid") or ""
    )
    if not correlation:
        raise StatusParseError("no Itron-CorrelationId (property, correlation id or body)")
    tenant = props.get(PROPERTY_TENANT.lower()) or top.get("tenantid")

    updates: list[EsnUpdate] = []
    if isinstance(payload, list):
        items = payload
    else:
        nested = _first(top, _RESULT_LIST_KEYS)
        items = nested if isinstance(nested, list) else [payload if isinstance(payload, dict) else {}]
    for item in items:
        if isinstance(item, dict):
            updates.extend(_updates_from(item, code, [""]))
    if not updates:
        updates = _updates_from({}, code, [""])
    message_id = message.message_id
    if not message_id:
        # Without an id, identical content is the best identity there is for deduplication.
        digest = hashlib.sha256(f"{correlation}|{text}|{sorted(properties.items())}".encode()).hexdigest()
        message_id = f"sha256:{digest[:64]}"
    return ParsedStatus(
        message_id=str(message_id)[:128],
        correlation_id=str(correlation),
        tenant_id=None if tenant in (None, "") else str(tenant),
        status_code=code[:8],
        updates=updates,
        raw_body=text,
        raw_properties=properties,
    )
