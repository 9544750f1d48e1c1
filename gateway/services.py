"""Gateway business operations, shared by the API, the consumer, the commands and the tasks.

The transactional outbox: an accepted request, its per-ESN rows and the messages that announce
it (to the EAC's request queue, and the acknowledgement on the response queue) are written in
one database transaction. Nothing talks to a broker here; :mod:`gateway.relay` publishes the
outbox afterwards and retries while the broker is down, so a request that got its 202 is never
lost, and a failed transaction never leaks a message.

Decisions the seed leaves open:

* ``Itron-CorrelationId`` is unique across tenants (the EAC correlates on it alone); reusing
  one is a 409 and the original request is left untouched.
* No ``applicationVersion`` → ``version_policy = "latest"`` and the request message says so;
  no ``licenseSet`` → ``license_policy = "next-available"`` with
  ``license_min_remaining_days`` (7 by default): the choice is recorded and forwarded, the EAC
  (or app store) resolves it.
* The response-queue acknowledgement is emitted by the gateway when it accepts the request; its
  ``correlationId`` is the request's and its body is null, like the seed's sample.
* The app-store ping is answered by the gateway on the response queue with the received time.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from utilitarian.exceptions import Conflict

from . import conf
from .eac import (
    PROPERTY_COMPRESSED,
    PROPERTY_CORRELATION,
    PROPERTY_STATUS_CODE,
    PROPERTY_TENANT,
    PROPERTY_URI,
    PROPERTY_VERB,
    ParsedStatus,
    StatusParseError,
)
from .models import (
    STATE_RANK,
    EsnState,
    EsnStatus,
    GatewayRequest,
    OutboxKind,
    OutboxMessage,
    RequestKind,
    StatusEvent,
)

# Namespace of the notification message ids derived from EAC message ids (stable on redelivery).
_NOTIFICATION_NAMESPACE = uuid.UUID("5b0c3c2e-7f4a-4a57-9d0b-2f6a7c1e9a11")


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")


def itron_properties(request: GatewayRequest, status_code: str) -> dict[str, Any]:
    return {
        PROPERTY_TENANT: request.tenant_id,
        PROPERTY_CORRELATION: request.correlation_id,
        PROPERTY_COMPRESSED: False,
        PROPERTY_STATUS_CODE: status_code,
        PROPERTY_VERB: request.request_verb,
        PROPERTY_URI: request.request_uri,
    }


def _outbox(
    request: GatewayRequest,
    *,
    kind: str,
    destination: str,
    body: bytes | None,
    status_code: str,
    message_id: uuid.UUID | None = None,
    extra: dict[str, Any] | None = None,
) -> OutboxMessage:
    return OutboxMessage.objects.create(
        message_id=message_id or uuid.uuid4(),
        kind=kind,
        destination=destination,
        request=request,
        correlation_id=request.correlation_id,
        properties={**itron_properties(request, status_code), **(extra or {})},
        body=body,
    )


def request_message_body(request: GatewayRequest) -> dict[str, Any]:
    """What the EAC receives on the request queue."""
    return {
        "requestType": request.kind,
        "tenantId": request.tenant_id,
        "correlationId": request.correlation_id,
        "appId": request.app_id,
        "applicationId": request.application_id,
        "applicationVersion": request.application_version,
        "versionPolicy": request.version_policy,
        "esnList": [e.esn for e in request.esns.order_by("position")],
        "licenseSet": str(request.license_set) if request.license_set else None,
        "licensePolicy": request.license_policy,
        "licenseMinRemainingDays": request.license_min_remaining_days,
        "receivedAt": request.received_at.isoformat(),
    }


def _create_request(**fields: Any) -> GatewayRequest:
    correlation_id = fields["correlation_id"]
    if GatewayRequest.objects.filter(correlation_id=correlation_id).exists():
        raise Conflict(f"Itron-CorrelationId {correlation_id!r} was already used.")
    try:
        with transaction.atomic():
            return GatewayRequest.objects.create(**fields)
    except IntegrityError as exc:  # a concurrent request took it between the check and the insert
        raise Conflict(f"Itron-CorrelationId {correlation_id!r} was already used.") from exc


@transaction.atomic
def application_request_accept(
    *,
    kind: RequestKind,
    tenant_id: str,
    correlation_id: str,
    esn_list: list[str],
    application_id: int,
    app_id: str = "",
    application_version: str | None = None,
    license_set: uuid.UUID | None = None,
    request_uri: str,
    request_verb: str = "Post",
    client_id: str = "",
    body: dict[str, Any] | None = None,
) -> GatewayRequest:
    """Record an install or uninstall request and queue it for the EAC (outbox)."""
    install = kind == RequestKind.INSTALL
    request = _create_request(
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        kind=kind,
        app_id=app_id,
        application_id=application_id,
        application_version=application_version if install else None,
        version_policy=("explicit" if application_version else "latest") if install else "",
        license_set=license_set if install else None,
        license_policy=("explicit" if license_set else "next-available") if install else "",
        license_min_remaining_days=(
            None if (license_set or not install) else conf.get("GATEWAY_LICENSE_MIN_REMAINING_DAYS")
        ),
        request_verb=request_verb,
        request_uri=request_uri,
        client_id=client_id[:255],
        body=body or {},
    )
    EsnStatus.objects.bulk_create(
        [EsnStatus(request=request, esn=esn, position=i) for i, esn in enumerate(esn_list)]
    )
    _outbox(
        request,
        kind=OutboxKind.REQUEST,
        destination=conf.request_queue(),
        body=_json(request_message_body(request)),
        status_code="202",
    )
    _outbox(
        request, kind=OutboxKind.RESPONSE, destination=conf.response_queue(), body=None, status_code="202"
    )
    return request


@transaction.atomic
def appstore_ping(
    *, tenant_id: str, correlation_id: str | None, request_uri: str, client_id: str = ""
) -> GatewayRequest:
    """Answer the app-store ping on the response queue with the time the gateway received it."""
    request = _create_request(
        tenant_id=tenant_id,
        correlation_id=correlation_id or str(uuid.uuid4()),
        kind=RequestKind.PING,
        request_verb="Get",
        request_uri=request_uri,
        client_id=client_id[:255],
    )
    _outbox(
        request,
        kind=OutboxKind.RESPONSE,
        destination=conf.response_queue(),
        body=_json({"receivedTime": request.received_at.isoformat(), "status": "Healthy"}),
        status_code="200",
    )
    return request


class UnknownRequest(StatusParseError):
    """A status message for a correlation id the gateway never accepted (dead-lettered)."""


@dataclass
class StatusRecordResult:
    request: GatewayRequest
    duplicate: bool
    events: int


def notification_message_id(eac_message_id: str, esn: str) -> uuid.UUID:
    return uuid.uuid5(_NOTIFICATION_NAMESPACE, f"{eac_message_id}|{esn}")


def eac_status_record(*, parsed: ParsedStatus) -> StatusRecordResult:
    """Apply one EAC status message: events, latest state per ESN, notifications (outbox).

    Idempotent on the EAC message id: a redelivered message changes nothing and sends nothing.
    """
    request = GatewayRequest.objects.filter(correlation_id=parsed.correlation_id).first()
    if request is None:
        raise UnknownRequest(f"no request with Itron-CorrelationId {parsed.correlation_id!r}")
    if parsed.tenant_id and parsed.tenant_id.lower() != request.tenant_id.lower():
        raise UnknownRequest(
            f"Itron-Tenant-Id {parsed.tenant_id!r} does not match the request's tenant {request.tenant_id!r}"
        )
    if StatusEvent.objects.filter(message_id=parsed.message_id).exists():
        return StatusRecordResult(request=request, duplicate=True, events=0)
    try:
        with transaction.atomic():
            events = _apply(request, parsed)
    except IntegrityError:  # a concurrent consumer recorded the same message first
        return StatusRecordResult(request=request, duplicate=True, events=0)
    return StatusRecordResult(request=request, duplicate=False, events=events)


def _apply(request: GatewayRequest, parsed: ParsedStatus) -> int:
    now = timezone.now()
    rows = {row.esn: row for row in EsnStatus.objects.select_for_update().filter(request=request)}
    latest: dict[str, Any] = {}
    for update in parsed.updates:  # one event per ESN per message; the last word wins
        for esn in [update.esn] if update.esn else list(rows):
            latest.pop(esn, None)
            latest[esn] = update
    count = 0
    for esn, update in latest.items():
        row = rows.get(esn)
        StatusEvent.objects.create(
            request=request,
            message_id=parsed.message_id,
            esn=esn,
            status=update.status,
            status_code=parsed.status_code,
            reason=update.reason,
            raw_body=parsed.raw_body,
            raw_properties=parsed.raw_properties,
            received_at=now,
        )
        count += 1
        moves_forward = (
            STATE_RANK[EsnState(update.status)] >= STATE_RANK[EsnState(row.status)] if row else False
        )
        if moves_forward and update.status != EsnState.UNKNOWN:
            if row.status != EsnState.FAILED:
                row.status = update.status
                row.status_code = parsed.status_code
                row.reason = update.reason
                row.updated_at = now
                row.save(update_fields=["status", "status_code", "reason", "updated_at"])
        _notify(request, parsed, esn=esn, status=update.status, reason=update.reason, now=now)
    return count


def _notify(
    request: GatewayRequest, parsed: ParsedStatus, *, esn: str, status: str, reason: str, now: Any
) -> None:
    code = parsed.status_code or ("500" if status == EsnState.FAILED else "200")
    body = {
        "correlationId": request.correlation_id,
        "tenantId": request.tenant_id,
        "requestType": request.kind,
        "applicationId": request.application_id,
        "esn": esn,
        "status": status,
        "reason": reason or None,
        "statusCode": code,
        "eacMessageId": parsed.message_id,
        "receivedAt": now.isoformat(),
    }
    _outbox(
        request,
        kind=OutboxKind.NOTIFICATION,
        destination=conf.notification_queue(request.tenant_id),
        body=_json(body),
        status_code=code,
        message_id=notification_message_id(parsed.message_id, esn),
        extra={"Itron-Esn": esn, "Itron-Status": str(status)},
    )


def request_status(*, tenant_id: str, correlation_id: str) -> GatewayRequest | None:
    """The tenant's request with its ESNs, or None (another tenant's request is not found)."""
    return (
        GatewayRequest.objects.filter(tenant_id__iexact=tenant_id, correlation_id=correlation_id)
        .prefetch_related("esns")
        .first()
    )
