"""Read-only API of the local PiE copy (writes come from the feed only)."""

from __future__ import annotations

from rest_framework import mixins

from utilitarian.tenancy import TenantScopedViewSet

from ..models import Comment, Ticket
from .serializers import CommentSerializer, TicketSerializer


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    pass


class TicketViewSet(ReadOnlyViewSet):
    queryset = Ticket.objects.order_by("-remote_created_at", "-created_at", "id")
    serializer_class = TicketSerializer
    filterset_fields = ["external_id", "status", "organization"]


class CommentViewSet(ReadOnlyViewSet):
    queryset = Comment.objects.order_by("remote_created_at", "created_at", "id")
    serializer_class = CommentSerializer
    filterset_fields = ["external_id", "ticket", "ticket_external_id", "organization"]
