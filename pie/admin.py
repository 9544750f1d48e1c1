"""Read-mostly admin for the PiE copy: everything here comes from PiE and is overwritten by it."""

from __future__ import annotations

from django.contrib import admin, messages

from .models import Comment, Event, Ticket
from .tasks import backfill_ticket


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    can_delete = False
    fields = ["external_id", "author", "text", "remote_created_at"]
    readonly_fields = fields
    show_change_link = True


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "title", "status", "organization", "remote_created_at", "fetched_at"]
    list_filter = ["status", "organization"]
    search_fields = ["external_id", "title", "description"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [CommentInline]
    actions = ["backfill"]

    @admin.action(description="Fetch again from PiE (with comments)")
    def backfill(self, request, queryset) -> None:
        for ticket in queryset:
            backfill_ticket.delay(ticket.external_id, str(ticket.organization_id))
        self.message_user(request, f"{queryset.count()} ticket(s) queued for a back-fill.", messages.SUCCESS)


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "ticket_external_id", "author", "organization", "remote_created_at"]
    list_filter = ["organization"]
    search_fields = ["external_id", "ticket_external_id", "author", "text"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "kind", "status", "attempts", "deliveries", "organization", "created_at"]
    list_filter = ["status", "kind", "organization"]
    search_fields = ["message_id", "ticket_external_id", "comment_external_id", "last_error"]
