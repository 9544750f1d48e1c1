"""AMR tasks and the groups that bundle them (the contract's AmrTask and AmrTaskGroup).

A task says what to call (``meter_execution_type`` + ``task_call`` + ``task_kwargs``) and how often
(``schedule`` in UTC, delayed by ``run_offset_seconds``, never more than one period). Meter devices
get tasks through their task groups and their own ``meter_tasks`` (see meters.MeterDevice).
"""

from __future__ import annotations

import uuid

from django.core.validators import MinLengthValidator
from django.db import models

from utilitarian.models import Organization, TimestampedModel

from .environments import ENVIRONMENT_CHOICES


class Schedule(models.TextChoices):
    QUARTERLY = "quarterly", "Every 15 minutes (:00, :15, :30, :45)"
    HOURLY = "hourly", "Hourly at :00"
    DAILY = "daily", "Daily at 00:00"
    WEEKLY = "weekly", "Weekly on Monday 00:00"
    MONTHLY = "monthly", "Monthly on the 1st 00:00"
    YEARLY = "yearly", "Yearly on 1 January 00:00"


#: The longest period of each schedule in seconds; ``run_offset_seconds`` may not exceed it.
SCHEDULE_MAX_OFFSET_SECONDS = {
    Schedule.QUARTERLY: 15 * 60,
    Schedule.HOURLY: 3600,
    Schedule.DAILY: 86400,
    Schedule.WEEKLY: 7 * 86400,
    Schedule.MONTHLY: 28 * 86400,  # the shortest month bounds the offset, so a run never skips one
    Schedule.YEARLY: 365 * 86400,
}


class AmrTask(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="amr_tasks")
    name = models.CharField(max_length=150, validators=[MinLengthValidator(1)])
    description = models.CharField(max_length=500, blank=True, default="")
    is_active = models.BooleanField(default=True)
    schedule = models.CharField(max_length=16, choices=Schedule.choices)
    run_offset_seconds = models.IntegerField(default=0)
    meter_execution_type = models.CharField(max_length=40, choices=ENVIRONMENT_CHOICES)
    task_call = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    task_kwargs = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "AMR task"

    def __str__(self) -> str:
        return f"{self.name} ({self.schedule} {self.meter_execution_type}.{self.task_call})"


class AmrTaskGroup(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=150, validators=[MinLengthValidator(1)])
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="amr_task_groups")
    description = models.CharField(max_length=500, blank=True, default="")
    tasks = models.ManyToManyField(AmrTask, related_name="groups", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "AMR task group"

    def __str__(self) -> str:
        return self.name


# --- Jobs: what ran, when, and how it went (the AMR engineer's part) ---------------------------


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    RETRYING = "retrying", "Retrying"


class JobKind(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ON_DEMAND = "on_demand", "On demand"


class AmrJob(models.Model):
    """One run of a call against one meter device: a scheduled (task, meter, slot) or an invoke.

    The call is copied from the task when the job is planned, so history says what really ran
    even after the task changes. ``planned_for`` is the schedule slot; the unique constraint on
    (task, meter device, slot) is what makes enqueuing a slot twice impossible, even with two
    beats running by mistake (on-demand jobs have no task and no slot, and NULLs never collide).
    """

    tenant_path = "organization"
    bulk_rows = True  # counted, not listed, on the admin's delete pages (utilitarian.admin_deletion)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="amr_jobs")
    meter_device = models.ForeignKey("meters.MeterDevice", on_delete=models.CASCADE, related_name="amr_jobs")
    task = models.ForeignKey(AmrTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices, default=JobKind.ON_DEMAND)
    schedule = models.CharField(max_length=16, choices=Schedule.choices, blank=True, default="")
    planned_for = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField()
    meter_execution_type = models.CharField(max_length=40, choices=ENVIRONMENT_CHOICES)
    task_call = models.CharField(max_length=50)
    task_kwargs = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    #: Times the job found its network interface blocked by another job and was put back.
    busy_waits = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    readings_count = models.PositiveIntegerField(default=0)
    events_count = models.PositiveIntegerField(default=0)
    info = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = "AMR job"
        constraints = [
            models.UniqueConstraint(
                fields=["task", "meter_device", "planned_for"], name="unique_job_per_task_meter_slot"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="amrjob_org_created_idx"),
            models.Index(fields=["meter_device", "-created_at"], name="amrjob_meter_created_idx"),
            models.Index(fields=["state", "created_at"], name="amrjob_state_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_execution_type}.{self.task_call} on {self.meter_device_id} [{self.state}]"

    def save(self, *args, **kwargs) -> None:
        from django.utils import timezone

        now = timezone.now()
        if self.created_at is None:
            self.created_at = now
        if self.due_at is None:
            self.due_at = self.created_at
        self.updated_at = now
        super().save(*args, **kwargs)


class AttemptOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    RETRY = "retry", "Will be retried"


class AmrJobAttempt(models.Model):
    """One try of a job (every attempt is recorded, with what it read and why it stopped)."""

    tenant_path = "job__organization"

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(AmrJob, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    error = models.TextField(blank=True, default="")
    readings_count = models.PositiveIntegerField(default=0)
    events_count = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        verbose_name = "AMR job attempt"
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="unique_attempt_number_per_job")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.job_id}: {self.outcome}"


class AmrScheduleCursor(models.Model):
    """How far the beat has planned: the next tick plans runs due after ``planned_until``.

    One row (``name="beat"``); the tick locks it (SELECT FOR UPDATE), so a second beat started
    by mistake waits and then finds nothing left to plan."""

    tenant_path = None

    name = models.CharField(max_length=32, primary_key=True)
    planned_until = models.DateTimeField()

    class Meta:
        verbose_name = "AMR schedule cursor"

    def __str__(self) -> str:
        return f"{self.name}: planned until {self.planned_until.isoformat()}"
