"""Admin of AMR jobs (history, filters, attempts) and the "run now" actions on meter devices and
AMR tasks. Imported at the end of amr/admin.py; the actions are added to the admins the
metering app registers for MeterDevice and AmrTask, so those stay in their own files."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from meters.models import MeterDevice

from .models import AmrJob, AmrJobAttempt, AmrTask
from .services import jobs_run_now


class AttemptsInline(admin.TabularInline):
    model = AmrJobAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "number",
        "outcome",
        "error",
        "readings_count",
        "events_count",
        "worker",
        "started_at",
        "finished_at",
    ]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AmrJob)
class AmrJobAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "meter_device",
        "task",
        "meter_execution_type",
        "task_call",
        "kind",
        "state",
        "attempts",
        "readings_count",
        "finished_at",
    ]
    list_filter = ["state", "kind", "schedule", "meter_execution_type", "organization", "created_at"]
    search_fields = ["meter_device__name", "task__name", "task_call", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["meter_device", "task"]
    readonly_fields = [f.name for f in AmrJob._meta.fields]
    inlines = [AttemptsInline]
    show_full_result_count = False  # the history grows large; COUNT(*) on every page is not free

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.action(description="Run their AMR tasks now (on-demand queue)")
def run_meter_tasks_now(modeladmin, request: HttpRequest, queryset) -> None:
    jobs = jobs_run_now(meter_devices=list(queryset))
    modeladmin.message_user(request, f"{len(jobs)} job(s) sent to the on-demand queue.", messages.SUCCESS)


@admin.action(description="Run now on all their meter devices (on-demand queue)")
def run_tasks_now(modeladmin, request: HttpRequest, queryset) -> None:
    jobs = jobs_run_now(tasks=list(queryset))
    modeladmin.message_user(request, f"{len(jobs)} job(s) sent to the on-demand queue.", messages.SUCCESS)


def _add_action(model, action) -> None:
    model_admin = admin.site._registry.get(model)
    if model_admin is not None:
        model_admin.actions = [*(model_admin.actions or []), action]


_add_action(MeterDevice, run_meter_tasks_now)
_add_action(AmrTask, run_tasks_now)
