"""Gateway state: requests, per-ESN status, the outbox and the embedded queue.

Gateway tenants are the identity service's tenant ids (GUID strings in the URL and in the token),
not Utilitarian organizations: the portal's bearer token proves the tenant, and every query is
filtered by it in the views. ``tenant_path`` is therefore ``None`` (no organization scope).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class RequestKind(models.TextChoices):
    INSTALL = "install"
    UNINSTALL = "uninstall"
    PING = "ping"


class EsnState(models.TextChoices):
    # Accepted by the gateway; the EAC has not reported yet.
    ACCEPTED = "accepted"
    RECEIVED = "received"
    DOWNLOADING = "downloading"
    INSTALLED = "installed"
    LICENSED = "licensed"
    UNINSTALLED = "uninstalled"
    FAILED = "failed"
    # The EAC said something we could not map; the raw message is kept on the event.
    UNKNOWN = "unknown"


# How far along an ESN is. A status never moves back (a redelivered "downloading" arriving after
# "installed" is recorded as an event but does not regress the ESN); failure is final.
STATE_RANK = {
    EsnState.ACCEPTED: 0,
    EsnState.UNKNOWN: 0,
    EsnState.RECEIVED: 1,
    EsnState.DOWNLOADING: 2,
    EsnState.INSTALLED: 3,
    EsnState.LICENSED: 4,
    EsnState.UNINSTALLED: 4,
    EsnState.FAILED: 5,
}


class GatewayRequest(models.Model):
    tenant_path = None

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant_id = models.CharField(max_length=64, db_index=True)
    # Unique across tenants: the EAC correlates its notifications on it alone.
    correlation_id = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    app_id = models.CharField(max_length=128, blank=True, help_text="appId of the URL")
    application_id = models.BigIntegerField(null=True, blank=True)
    application_version = models.CharField(max_length=64, null=True, blank=True)
    # "explicit" when the portal named a version, "latest" when the EAC picks the latest relevant one.
    version_policy = models.CharField(max_length=16, blank=True)
    license_set = models.UUIDField(null=True, blank=True)
    # "explicit" or "next-available": the EAC picks the next license with enough remaining time.
    license_policy = models.CharField(max_length=16, blank=True)
    license_min_remaining_days = models.PositiveSmallIntegerField(null=True, blank=True)
    request_verb = models.CharField(max_length=8)
    request_uri = models.CharField(max_length=512)
    client_id = models.CharField(max_length=255, blank=True)
    body = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.kind} {self.correlation_id}"


class EsnStatus(models.Model):
    """The latest known state of one ESN of one request."""

    tenant_path = None

    request = models.ForeignKey(GatewayRequest, on_delete=models.CASCADE, related_name="esns")
    esn = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=EsnState.choices, default=EsnState.ACCEPTED)
    status_code = models.CharField(max_length=8, blank=True)
    reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("request", "position")
        constraints = [
            models.UniqueConstraint(fields=("request", "esn"), name="gateway_esn_once_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.esn}: {self.status}"


class StatusEvent(models.Model):
    """One EAC status message as received; ``message_id`` makes redeliveries no-ops."""

    tenant_path = None

    request = models.ForeignKey(GatewayRequest, on_delete=models.CASCADE, related_name="events")
    message_id = models.CharField(max_length=128)
    esn = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=EsnState.choices)
    status_code = models.CharField(max_length=8, blank=True)
    reason = models.TextField(blank=True)
    raw_body = models.TextField(blank=True)
    raw_properties = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)
        constraints = [
            # One event per ESN per EAC message: a redelivered message adds nothing.
            models.UniqueConstraint(fields=("message_id", "esn"), name="gateway_event_once_per_message")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.esn} {self.status}"


class OutboxKind(models.TextChoices):
    REQUEST = "request"
    RESPONSE = "response"
    NOTIFICATION = "notification"


class OutboxMessage(models.Model):
    """A message written in the same transaction as the state it announces; the relay sends it."""

    tenant_path = None

    id = models.BigAutoField(primary_key=True)
    message_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    destination = models.CharField(max_length=255, help_text="queue name")
    request = models.ForeignKey(
        GatewayRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="outbox"
    )
    correlation_id = models.CharField(max_length=128, blank=True)
    content_type = models.CharField(max_length=64, default="application/json")
    properties = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=("sent_at", "id"), name="gateway_outbox_pending")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.destination} ({'sent' if self.sent_at else 'pending'})"


class QueuedMessage(models.Model):
    """The ``database`` transport's queue: a row per message, leased on receive (peek-lock)."""

    tenant_path = None

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=255)
    message_id = models.CharField(max_length=128)
    correlation_id = models.CharField(max_length=128, blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(null=True, blank=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    visible_at = models.DateTimeField(default=timezone.now)
    lock_token = models.UUIDField(null=True, blank=True)
    delivery_count = models.PositiveIntegerField(default=0)
    dead_lettered = models.BooleanField(default=False)
    dead_letter_reason = models.TextField(blank=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=("queue", "dead_lettered", "visible_at", "id"), name="gateway_q_ready")
        ]

    def __str__(self) -> str:
        return f"{self.queue}: {self.message_id}"
