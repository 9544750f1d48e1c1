"""Raw pushed frames, as received, and what became of them.

A row is created from the spool (``state = pending``) before anything is parsed, so a frame that
fails later is still here with its bytes, and one left pending by a database outage is retried.
``organization`` / ``meter`` are filled once the system title has identified the sender; they
stay empty for frames rejected before that (unknown system title), which only staff see.
"""

from __future__ import annotations

from django.db import models

from meters.models import MeterDevice
from utilitarian.models import Organization


class FrameState(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    REJECTED = "rejected"


class RawPushFrame(models.Model):
    tenant_path = "organization"

    id = models.BigAutoField(primary_key=True)
    spool_key = models.CharField(max_length=64, unique=True, help_text="segment:offset in the spool")
    received_at = models.DateTimeField()
    transport = models.CharField(max_length=8)
    peer = models.CharField(max_length=64, blank=True, default="")
    raw = models.BinaryField()
    state = models.CharField(max_length=16, choices=FrameState.choices, default=FrameState.PENDING)
    reason = models.CharField(max_length=500, blank=True, default="")
    system_title = models.CharField(max_length=16, blank=True, default="", db_index=True)
    invocation_counter = models.BigIntegerField(null=True, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    meter = models.ForeignKey(
        MeterDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="push_frames"
    )
    readings = models.PositiveIntegerField(default=0, help_text="values stored (or already stored)")
    report = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "id"], name="push_frame_state_idx"),
            models.Index(fields=["received_at"], name="push_frame_received_idx"),
        ]

    def __str__(self) -> str:
        return f"push frame {self.pk} ({self.state})"
