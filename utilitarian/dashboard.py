"""The operators' dashboard in the admin (``/admin/dashboard/``): what needs attention now.

Every figure is one set-based query over indexed columns (a handful in all, whatever the fleet
size): meters by protocol, AMR jobs by state over the last 24 hours, failing meters (those whose
latest finished job in that window failed), blocked network interfaces (a live lease, or one that
lapsed and awaits the cleanup task) and staged readings waiting for their meter device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Max, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

WINDOW = timedelta(hours=24)
LIST_LIMIT = 20


@dataclass
class DashboardCounts:
    since: datetime
    now: datetime
    meters_by_protocol: list[dict[str, Any]] = field(default_factory=list)
    meters_total: int = 0
    jobs_by_state: list[dict[str, Any]] = field(default_factory=list)
    jobs_total: int = 0
    readings_by_jobs: int = 0
    failing_meters: list[dict[str, Any]] = field(default_factory=list)
    failing_meters_total: int = 0
    blocked_interfaces: list[dict[str, Any]] = field(default_factory=list)
    blocked_total: int = 0
    blocked_lapsed: int = 0
    staged_total: int = 0
    staged_names: int = 0
    staged_oldest: datetime | None = None


def _with_share(rows: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    for row in rows:
        row["percent"] = round(100 * row["count"] / total) if total else 0
    return rows


def dashboard_counts(*, now: datetime | None = None) -> DashboardCounts:
    """The dashboard's figures (7 queries)."""
    from amr.models import AmrJob, JobState
    from meters.models import MeterDevice, NetworkInterface, Protocol, StagedMeterReading

    now = now or timezone.now()
    since = now - WINDOW
    counts = DashboardCounts(since=since, now=now)

    labels = dict(Protocol.choices)
    protocols = list(MeterDevice.objects.order_by().values("protocol").annotate(count=Count("id")))
    counts.meters_total = sum(row["count"] for row in protocols)
    counts.meters_by_protocol = _with_share(
        sorted(
            ({**row, "label": labels.get(row["protocol"], row["protocol"])} for row in protocols),
            key=lambda row: -row["count"],
        ),
        counts.meters_total,
    )

    recent = AmrJob.objects.filter(created_at__gte=since).order_by()
    states = {
        row["state"]: row
        for row in recent.values("state").annotate(count=Count("id"), readings=Sum("readings_count"))
    }
    counts.jobs_total = sum(row["count"] for row in states.values())
    counts.readings_by_jobs = sum(row["readings"] or 0 for row in states.values())
    counts.jobs_by_state = _with_share(
        [
            {"state": value, "label": label, "count": states.get(value, {}).get("count", 0)}
            for value, label in JobState.choices
        ],
        counts.jobs_total,
    )

    failing = (
        recent.filter(finished_at__isnull=False)
        .values(
            "meter_device",
            "meter_device__name",
            "meter_device__protocol",
            "meter_device__organization__name",
        )
        .annotate(
            last_failed=Max("finished_at", filter=Q(state=JobState.FAILED)),
            last_succeeded=Max("finished_at", filter=Q(state=JobState.SUCCEEDED)),
            failures=Count("id", filter=Q(state=JobState.FAILED)),
        )
        .filter(last_failed__isnull=False)
        .filter(Q(last_succeeded__isnull=True) | Q(last_succeeded__lt=F("last_failed")))
    )
    counts.failing_meters_total = failing.count()
    rows = list(failing.order_by("-last_failed")[:LIST_LIMIT])
    last_errors: dict[Any, str] = {}
    if rows:
        for meter_id, error in (
            recent.filter(meter_device__in=[r["meter_device"] for r in rows], state=JobState.FAILED)
            .order_by("meter_device", "-finished_at")
            .values_list("meter_device", "error")
        ):
            last_errors.setdefault(meter_id, error)
    counts.failing_meters = [
        {
            "id": r["meter_device"],
            "name": r["meter_device__name"],
            "protocol": labels.get(r["meter_device__protocol"], r["meter_device__protocol"]),
            "organization": r["meter_device__organization__name"],
            "last_failed": r["last_failed"],
            "failures": r["failures"],
            "error": last_errors.get(r["meter_device"], ""),
        }
        for r in rows
    ]

    blocked = NetworkInterface.objects.filter(is_blocked=True).order_by()
    totals = blocked.aggregate(total=Count("id"), lapsed=Count("id", filter=Q(block_expires_at__lte=now)))
    counts.blocked_total, counts.blocked_lapsed = totals["total"], totals["lapsed"]
    counts.blocked_interfaces = list(
        blocked.order_by("block_time").values(
            "id", "static_ip_address", "fqdn", "port", "blocked_by", "block_time", "block_expires_at"
        )[:LIST_LIMIT]
    )
    for row in counts.blocked_interfaces:
        row["host"] = row["fqdn"] or row["static_ip_address"] or "?"
        row["lapsed"] = row["block_expires_at"] is not None and row["block_expires_at"] <= now

    staged = StagedMeterReading.objects.order_by().aggregate(
        total=Count("id"), names=Count("meter_device_name", distinct=True), oldest=Min("created_at")
    )
    counts.staged_total, counts.staged_names, counts.staged_oldest = (
        staged["total"],
        staged["names"],
        staged["oldest"],
    )
    return counts


#: The dashboard summarises these models across every organization: a staff user who may not
#: view them in the admin does not see their figures either.
REQUIRED_PERMISSIONS = ("meters.view_meterdevice", "amr.view_amrjob")


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Staff only (wrapped in ``admin.site.admin_view`` in utilitarian/urls.py), and only for
    staff allowed to view meter devices and jobs."""
    if not request.user.has_perms(REQUIRED_PERMISSIONS):
        raise PermissionDenied("Viewing meter devices and AMR jobs is needed for the dashboard.")
    counts = dashboard_counts()
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "subtitle": None,
        "counts": counts,
        "since_param": counts.since.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
