"""``/api/v1/amr/jobs/``: the history of AMR jobs (read-only), tenant-scoped, filterable by
meter device, task, state and kind. Each job lists its attempts."""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers

from utilitarian.tenancy import TenantScopedViewSet

from ..models import AmrJob, AmrJobAttempt, JobKind, JobState


class AmrJobFilterSet(django_filters.FilterSet):
    meter_device = django_filters.UUIDFilter()
    task = django_filters.UUIDFilter()
    state = django_filters.ChoiceFilter(choices=JobState.choices)
    kind = django_filters.ChoiceFilter(choices=JobKind.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AmrJob
        fields = ["meter_device", "task", "state", "kind"]


class AmrJobAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = AmrJobAttempt
        fields = ["number", "outcome", "error", "readings_count", "events_count", "started_at", "finished_at"]


class AmrJobSerializer(serializers.ModelSerializer):
    attempt_history = AmrJobAttemptSerializer(source="attempt_set", many=True, read_only=True)

    class Meta:
        model = AmrJob
        fields = [
            "id",
            "organization",
            "meter_device",
            "task",
            "kind",
            "schedule",
            "planned_for",
            "due_at",
            "meter_execution_type",
            "task_call",
            "task_kwargs",
            "state",
            "attempts",
            "busy_waits",
            "error",
            "readings_count",
            "events_count",
            "info",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "attempt_history",
        ]
        read_only_fields = fields


class AmrJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = AmrJob.objects.prefetch_related("attempt_set").order_by("-created_at", "id")
    serializer_class = AmrJobSerializer
    filterset_class = AmrJobFilterSet
