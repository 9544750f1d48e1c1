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
