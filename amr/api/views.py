"""CRUD of AMR tasks and task groups. The contract serves them under /api/v1/metering/, so they
are registered on the metering router (meters/api/views.py). Scheduling and direct invocation
(``amr-tasks/invoke``) are added here as actions by the AMR scheduling work."""

from __future__ import annotations

from django.db.models import Prefetch

from utilitarian.api.views import CrudViewSet

from ..models import AmrTask, AmrTaskGroup
from .serializers import AmrTaskGroupSerializer, AmrTaskSerializer


class AmrTaskViewSet(CrudViewSet):
    queryset = AmrTask.objects.order_by("name", "id")
    serializer_class = AmrTaskSerializer


class AmrTaskGroupViewSet(CrudViewSet):
    queryset = AmrTaskGroup.objects.prefetch_related(
        Prefetch("tasks", queryset=AmrTask.objects.order_by("name", "id"))
    ).order_by("name", "id")
    serializer_class = AmrTaskGroupSerializer
