"""Admin for received push frames: what came in, from whom, and why a frame was refused.

Everything is read-only (frames are evidence). The raw bytes are shown as hex; no key material
is ever shown or loaded here (the meter's keys stay in ``MeterSecurityKeyCollection``).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from .models import RawPushFrame


@admin.register(RawPushFrame)
class RawPushFrameAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "received_at",
        "state",
        "system_title",
        "meter",
        "invocation_counter",
        "readings",
        "reason",
    ]
    list_filter = ["state", "transport", "organization"]
    search_fields = ["system_title", "reason", "peer", "spool_key"]
    list_select_related = ["meter"]
    date_hierarchy = "received_at"
    fields = [
        "id",
        "spool_key",
        "received_at",
        "transport",
        "peer",
        "state",
        "reason",
        "system_title",
        "invocation_counter",
        "organization",
        "meter",
        "readings",
        "attempts",
        "processed_at",
        "report",
        "raw_hex",
    ]
    readonly_fields = fields

    @admin.display(description="raw frame (hex)")
    def raw_hex(self, obj: RawPushFrame) -> str:
        data = bytes(obj.raw or b"")
        lines = [data[i : i + 32].hex(" ") for i in range(0, len(data), 32)]
        return format_html("<pre>{}</pre>", "\n".join(lines))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
