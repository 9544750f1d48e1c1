"""Admin for AMR tasks and task groups, with the API's rules: the offset within one period of
the schedule, kwargs a JSON object, tasks of a group in the group's organization."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from meters.admin import SameOrganizationForm
from meters.models import MeterDevice

from .models import SCHEDULE_MAX_OFFSET_SECONDS, AmrTask, AmrTaskGroup


class AmrTaskForm(forms.ModelForm):
    class Meta:
        model = AmrTask
        fields = [
            "organization",
            "name",
            "description",
            "is_active",
            "schedule",
            "run_offset_seconds",
            "meter_execution_type",
            "task_call",
            "task_kwargs",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        schedule = cleaned.get("schedule")
        offset = cleaned.get("run_offset_seconds")
        if schedule in SCHEDULE_MAX_OFFSET_SECONDS and offset is not None:
            limit = SCHEDULE_MAX_OFFSET_SECONDS[schedule]
            if not 0 <= offset <= limit:
                self.add_error(
                    "run_offset_seconds", f"Must be between 0 and {limit} seconds for a {schedule} schedule."
                )
        kwargs = cleaned.get("task_kwargs")
        if kwargs is not None and not isinstance(kwargs, dict):
            self.add_error("task_kwargs", "Must be a JSON object (or empty).")
        return cleaned


class AmrTaskGroupForm(SameOrganizationForm):
    same_organization_fields = ("tasks",)

    class Meta:
        model = AmrTaskGroup
        fields = ["organization", "name", "description", "tasks"]


class MeterDevicesInline(admin.TabularInline):
    """The meter devices in a group (read-only here: assign groups on the meter device)."""

    model = MeterDevice.task_groups.through
    extra = 0
    verbose_name = "meter device"
    verbose_name_plural = "meter devices in this group"
    fields = readonly_fields = ["meterdevice"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AmrTask)
class AmrTaskAdmin(admin.ModelAdmin):
    form = AmrTaskForm
    list_display = [
        "name",
        "organization",
        "schedule",
        "run_offset_seconds",
        "meter_execution_type",
        "task_call",
        "is_active",
    ]
    list_filter = ["is_active", "schedule", "meter_execution_type", "organization"]
    search_fields = ["name", "task_call", "description"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization"]


@admin.register(AmrTaskGroup)
class AmrTaskGroupAdmin(admin.ModelAdmin):
    form = AmrTaskGroupForm
    list_display = ["name", "organization", "task_count", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["organization", "tasks"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization"]
    inlines = [MeterDevicesInline]

    @admin.display(description="tasks")
    def task_count(self, obj: AmrTaskGroup) -> int:
        return obj.tasks.count()


from . import admin_jobs  # noqa: E402,F401  (AMR jobs admin and the "run now" actions)
