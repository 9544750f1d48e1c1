from __future__ import annotations

from utilitarian.tenancy import TenantModelSerializer

from ..models import Comment, Ticket


class TicketSerializer(TenantModelSerializer):
    class Meta:
        model = Ticket
        fields = [
            "id",
            "organization",
            "external_id",
            "title",
            "status",
            "description",
            "remote_created_at",
            "remote_updated_at",
            "payload",
            "fetched_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CommentSerializer(TenantModelSerializer):
    class Meta:
        model = Comment
        fields = [
            "id",
            "organization",
            "external_id",
            "ticket",
            "ticket_external_id",
            "author",
            "text",
            "remote_created_at",
            "payload",
            "fetched_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
