from django.contrib import admin

from .models import EsnStatus, GatewayRequest, OutboxMessage, QueuedMessage, StatusEvent


class EsnStatusInline(admin.TabularInline):
    model = EsnStatus
    extra = 0
    readonly_fields = ("esn", "position", "status", "status_code", "reason", "updated_at")
    can_delete = False


@admin.register(GatewayRequest)
class GatewayRequestAdmin(admin.ModelAdmin):
    list_display = ("correlation_id", "tenant_id", "kind", "application_id", "received_at")
    list_filter = ("kind",)
    search_fields = ("correlation_id", "tenant_id", "esns__esn")
    readonly_fields = [f.name for f in GatewayRequest._meta.fields]
    inlines = [EsnStatusInline]


@admin.register(StatusEvent)
class StatusEventAdmin(admin.ModelAdmin):
    list_display = ("message_id", "request", "esn", "status", "status_code", "received_at")
    list_filter = ("status",)
    search_fields = ("message_id", "esn", "request__correlation_id")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "destination", "correlation_id", "sent_at", "attempts", "next_attempt_at")
    list_filter = ("kind", "destination")
    search_fields = ("correlation_id", "message_id")


@admin.register(QueuedMessage)
class QueuedMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "queue", "message_id", "delivery_count", "dead_lettered", "visible_at")
    list_filter = ("queue", "dead_lettered")
