"""Local copies of PiE tickets and comments, and the notifications that announced them.

``payload`` keeps the REST body exactly as PiE sent it; the other columns are what we could
extract tolerantly (PiE's schema is not public), so nothing is lost when our guess of a field
name is wrong. ``external_id`` is PiE's id, unique per organization (the subscription's).
"""

from __future__ import annotations

import uuid

from django.db import models

from utilitarian.models import Organization, TimestampedModel


class Ticket(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pie_tickets")
    external_id = models.CharField(max_length=128)
    title = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    remote_created_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["-remote_created_at", "-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="pie_ticket_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"PiE ticket {self.external_id}"


class Comment(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pie_comments")
    external_id = models.CharField(max_length=128)
    #: The ticket, once it is stored locally; ``ticket_external_id`` is kept either way.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="comments"
    )
    ticket_external_id = models.CharField(max_length=128, blank=True, default="")
    author = models.CharField(max_length=255, blank=True, default="")
    text = models.TextField(blank=True, default="")
    remote_created_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["remote_created_at", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="pie_comment_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"PiE comment {self.external_id}"


class EventKind(models.TextChoices):
    TICKET_CREATED = "ticket_created", "Ticket created"
    COMMENT_CREATED = "comment_created", "Comment created"
    UNKNOWN = "unknown", "Unknown"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received, not yet stored"
    RETRYING = "retrying", "Fetch failed, released for redelivery"
    STORED = "stored", "Stored and accepted"
    REJECTED = "rejected", "Rejected (poison)"


class Event(TimestampedModel):
    """One broker message, recorded before anything else happens (dedup key: the message id)."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pie_events")
    message_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, choices=EventKind.choices, default=EventKind.UNKNOWN)
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    ticket_external_id = models.CharField(max_length=128, blank=True, default="")
    comment_external_id = models.CharField(max_length=128, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    properties = models.JSONField(default=dict)
    body = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "message_id"], name="pie_event_unique_message_id")
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"PiE {self.kind} {self.message_id} ({self.status})"
