"""Admin for the metering inventory and (read-only) its readings, events and DLMS counters.

Rules the API enforces hold here too: references stay within the object's organization, and the
DLMS master key is write-only: the forms have a password-style field that is never filled in,
the pages only say whether a master key is set. Readings, staged readings and events are listed
read-only (they are written by the API and AMR jobs); a meter device page shows its latest 20,
a chart of every series over a chosen period (meters/charts.py) and its latest AMR jobs.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from utilitarian.admin_deletion import BulkRowsDeleteMixin

from .charts import MAX_CHARTS, MAX_POINTS, PERIODS, chart_period, meter_series_charts, render_chart_svg
from .models import (
    DlmsInvocationCounter,
    MeterDevice,
    MeterDeviceConfig,
    MeterDeviceType,
    MeterReading,
    MeterReadingSeries,
    MeterSecurityKeyCollection,
    MeterSystemEvent,
    NetworkInterface,
    SimCard,
    StagedMeterReading,
    dlms_key_validator,
)
from .services.network import network_interface_unblock

LATEST_INLINE_ROWS = 20


class SameOrganizationForm(forms.ModelForm):
    """Refuses references (FK or M2M) to objects of another organization than the object's."""

    same_organization_fields: tuple[str, ...] = ()

    def clean(self) -> dict:
        cleaned = super().clean()
        if "organization" in self.fields:
            organization = cleaned.get("organization")
        else:
            organization = getattr(self.instance, "organization", None)
        org_id = organization.pk if organization is not None else None
        for name in self.same_organization_fields:
            value = cleaned.get(name)
            objects = list(value) if isinstance(value, QuerySet | list | tuple) else [value]
            foreign = [obj for obj in objects if obj is not None and obj.organization_id != org_id]
            if foreign:
                self.add_error(name, f"{', '.join(map(str, foreign))}: belongs to another organization.")
        return cleaned


def form_for(model_class, fields_rule: tuple[str, ...]) -> type[SameOrganizationForm]:
    meta = type("Meta", (), {"model": model_class, "fields": "__all__"})
    return type(
        f"{model_class.__name__}AdminForm",
        (SameOrganizationForm,),
        {"Meta": meta, "same_organization_fields": fields_rule},
    )


# --- SIM cards, network interfaces ----------------------------------------------------------------


@admin.register(SimCard)
class SimCardAdmin(admin.ModelAdmin):
    list_display = ["iccid", "imsi", "ip_address", "phone_number", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["iccid", "imsi", "ip_address", "phone_number"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(NetworkInterface)
class NetworkInterfaceAdmin(admin.ModelAdmin):
    form = form_for(NetworkInterface, ("sim",))
    list_display = [
        "__str__",
        "organization",
        "fqdn",
        "static_ip_address",
        "port",
        "sim",
        "can_block",
        "is_blocked",
        "blocked_by",
        "block_expires_at",
    ]
    list_filter = ["is_blocked", "can_block", "organization"]
    search_fields = ["fqdn", "static_ip_address", "sim__iccid", "sim__ip_address", "id"]
    autocomplete_fields = ["organization", "sim"]
    readonly_fields = [
        "id",
        "host",
        "is_blocked",
        "block_time",
        "block_expires_at",
        "blocked_by",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["organization", "sim"]
    actions = ["unblock"]

    @admin.action(description="Unblock the selected network interfaces")
    def unblock(self, request: HttpRequest, queryset: QuerySet) -> None:
        released = sum(
            network_interface_unblock(interface_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{released} network interface(s) unblocked.", messages.SUCCESS)


# --- Series, configs, types ---------------------------------------------------------------------


@admin.register(MeterReadingSeries)
class MeterReadingSeriesAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "unit",
        "si_multiplier",
        "organization",
        "affected_by_ct_ratio",
        "affected_by_vt_ratio",
    ]
    list_filter = ["organization", "unit", "affected_by_ct_ratio", "affected_by_vt_ratio"]
    search_fields = ["name", "unit", "description"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization"]


@admin.register(MeterDeviceConfig)
class MeterDeviceConfigAdmin(admin.ModelAdmin):
    form = form_for(MeterDeviceConfig, ("series",))
    list_display = ["name", "timezone", "organization", "created_at"]
    list_filter = ["organization", "timezone"]
    search_fields = ["name"]
    autocomplete_fields = ["organization", "series"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization"]


@admin.register(MeterDeviceType)
class MeterDeviceTypeAdmin(admin.ModelAdmin):
    form = form_for(MeterDeviceType, ("config",))
    list_display = ["name", "manufacturer", "manufacturer_model", "config", "organization"]
    list_filter = ["organization", "manufacturer"]
    search_fields = ["name", "manufacturer", "manufacturer_model"]
    autocomplete_fields = ["organization", "config"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization", "config"]


# --- Security keys ------------------------------------------------------------------------------


class SecurityKeysForm(forms.ModelForm):
    """Key material form. The stored master key is never loaded into it: ``new_dlms_master_key``
    is a separate, empty password field that only replaces the key when something is typed."""

    new_dlms_master_key = forms.CharField(
        label="Master key (KEK)",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: leave empty to keep the current master key. 32 or 64 hex characters.",
    )
    clear_dlms_master_key = forms.BooleanField(label="Remove the master key", required=False)

    class Meta:
        model = MeterSecurityKeyCollection
        fields = [
            "meter",
            "iec62056_21_password",
            "dlms_global_unicast_encryption_key",
            "dlms_global_broadcast_encryption_key",
            "dlms_global_authentication_key",
        ]
        widgets = {
            name: forms.TextInput(attrs={"size": 70, "autocomplete": "off"})
            for name in (
                "iec62056_21_password",
                "dlms_global_unicast_encryption_key",
                "dlms_global_broadcast_encryption_key",
                "dlms_global_authentication_key",
            )
        }

    def _clean_key(self, name: str) -> str | None:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value:
            return None
        try:
            dlms_key_validator(value)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None  # never echo the value
        return value

    def clean_dlms_global_unicast_encryption_key(self):
        return self._clean_key("dlms_global_unicast_encryption_key")

    def clean_dlms_global_broadcast_encryption_key(self):
        return self._clean_key("dlms_global_broadcast_encryption_key")

    def clean_dlms_global_authentication_key(self):
        return self._clean_key("dlms_global_authentication_key")

    def clean_new_dlms_master_key(self):
        return self._clean_key("new_dlms_master_key")

    def clean_iec62056_21_password(self):
        value = self.cleaned_data.get("iec62056_21_password") or None
        if value is not None and len(value) > 8:
            raise ValidationError("At most 8 characters.")
        return value

    def save(self, commit: bool = True):
        instance = super().save(commit=False)
        if self.cleaned_data.get("new_dlms_master_key"):
            instance.dlms_master_key = self.cleaned_data["new_dlms_master_key"]
        elif self.cleaned_data.get("clear_dlms_master_key"):
            instance.dlms_master_key = None
        if commit:
            instance.save()
            self.save_m2m()
        return instance


@admin.display(boolean=True, description="master key set")
def master_key_set(obj: MeterSecurityKeyCollection) -> bool:
    return bool(obj.pk and obj.dlms_master_key)


class SecurityKeysInline(admin.StackedInline):
    model = MeterSecurityKeyCollection
    form = SecurityKeysForm
    extra = 0
    max_num = 1
    can_delete = True
    fields = [
        "iec62056_21_password",
        "dlms_global_unicast_encryption_key",
        "dlms_global_broadcast_encryption_key",
        "dlms_global_authentication_key",
        master_key_set,
        "new_dlms_master_key",
        "clear_dlms_master_key",
    ]
    readonly_fields = [master_key_set]


@admin.register(MeterSecurityKeyCollection)
class MeterSecurityKeyCollectionAdmin(admin.ModelAdmin):
    form = SecurityKeysForm
    list_display = ["meter", "organization", master_key_set, "created_at", "updated_at"]
    list_filter = ["meter__organization"]
    search_fields = [
        "meter__name",
        "meter__external_system_reference",
        "meter__manufacturer_serial",
        "meter__dlms_system_title",
    ]
    autocomplete_fields = ["meter"]
    list_select_related = ["meter__organization"]
    fields = [
        "meter",
        "iec62056_21_password",
        "dlms_global_unicast_encryption_key",
        "dlms_global_broadcast_encryption_key",
        "dlms_global_authentication_key",
        master_key_set,
        "new_dlms_master_key",
        "clear_dlms_master_key",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [master_key_set, "created_at", "updated_at"]

    @admin.display(ordering="meter__organization__name")
    def organization(self, obj: MeterSecurityKeyCollection):
        return obj.meter.organization


# --- Meter devices ------------------------------------------------------------------------------


class LatestRowsFormSet(BaseInlineFormSet):
    """Only the newest rows of the parent meter (readings tables are large)."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_queryset"):
            queryset = super().get_queryset()
            ids = list(queryset.order_by("-timestamp").values_list("pk", flat=True)[:LATEST_INLINE_ROWS])
            self._queryset = queryset.model.objects.filter(pk__in=ids).order_by("-timestamp")
        return self._queryset


class ReadOnlyInline(admin.TabularInline):
    formset = LatestRowsFormSet
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class LatestReadingsInline(ReadOnlyInline):
    model = MeterReading
    fields = readonly_fields = ["timestamp", "series", "value", "created_at"]
    verbose_name_plural = f"latest {LATEST_INLINE_ROWS} meter readings"


class LatestEventsInline(ReadOnlyInline):
    model = MeterSystemEvent
    fields = readonly_fields = ["timestamp", "title", "content"]
    verbose_name_plural = f"latest {LATEST_INLINE_ROWS} meter system events"


@admin.register(MeterDevice)
class MeterDeviceAdmin(BulkRowsDeleteMixin, admin.ModelAdmin):
    form = form_for(MeterDevice, ("type", "network_interface", "task_groups", "meter_tasks"))
    list_display = [
        "name",
        "organization",
        "protocol",
        "manufacturer_serial",
        "external_system_reference",
        "type",
        "network_interface",
        "has_security_keys",
    ]
    list_filter = ["protocol", "organization", "has_disconnector", "task_groups"]
    search_fields = [
        "name",
        "external_system_reference",
        "manufacturer_serial",
        "dlms_system_title",
        "dlms_logical_device_name",
        "id",
    ]
    autocomplete_fields = ["organization", "type", "network_interface", "task_groups", "meter_tasks"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization", "type", "network_interface__sim", "security_keys"]
    inlines = [SecurityKeysInline, LatestReadingsInline, LatestEventsInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "organization",
                    "name",
                    "external_system_reference",
                    "manufacturer_serial",
                    "protocol",
                    "type",
                ]
            },
        ),
        (
            "Communication",
            {
                "fields": [
                    "network_interface",
                    "iec62056_21_address",
                    "dlms_logical_device_name",
                    "dlms_system_title",
                ]
            },
        ),
        ("AMR tasks", {"fields": ["task_groups", "meter_tasks"]}),
        (
            "Measurement loop",
            {
                "fields": [
                    "has_current_transformer",
                    "current_transformer_ratio",
                    "has_voltage_transformer",
                    "voltage_transformer_ratio",
                    "has_disconnector",
                    "disconnector_status",
                ]
            },
        ),
        (
            "Driver addressing (extensions)",
            {
                "classes": ["collapse"],
                "fields": list(MeterDevice.DRIVER_FIELDS),
            },
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(boolean=True, description="keys")
    def has_security_keys(self, obj: MeterDevice) -> bool:
        return hasattr(obj, "security_keys")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """Adds a chart of every series over the period chosen by GET parameters (see
        meters/charts.py) and the meter's latest AMR jobs, above the form."""
        extra_context = dict(extra_context or {})
        try:
            meter_id = uuid.UUID(str(object_id))
        except ValueError:
            meter_id = None
        if meter_id is not None and self.has_view_or_change_permission(request):
            extra_context.update(meter_overview_context(request, meter_id))
        return super().change_view(request, object_id, form_url, extra_context)


JOB_ROWS = 10


def meter_overview_context(request: HttpRequest, meter_id: uuid.UUID) -> dict:
    """Charts and latest jobs for the change page. The chart query reads the readings table by
    meter id only, so another organization's readings can never be drawn on this meter."""
    from amr.models import AmrJob  # amr imports this module (SameOrganizationForm)

    period = chart_period(request.GET)
    charts = meter_series_charts(meter_device_id=meter_id, start=period.start, end=period.end)
    shown = [
        {"chart": chart, "svg": render_chart_svg(chart, start=period.start, end=period.end)}
        for chart in charts[:MAX_CHARTS]
    ]
    jobs = list(
        AmrJob.objects.filter(meter_device_id=meter_id)
        .select_related("task")
        .order_by("-created_at")[:JOB_ROWS]
    )
    return {
        "chart_period": period,
        "chart_periods": [(key, label) for key, (label, _span) in PERIODS.items()],
        "chart_start_value": period.start.strftime("%Y-%m-%d") if period.key == "custom" else "",
        "chart_end_value": period.end.strftime("%Y-%m-%d") if period.key == "custom" else "",
        "series_charts": shown,
        "series_charts_hidden": max(len(charts) - MAX_CHARTS, 0),
        "chart_max_points": MAX_POINTS,
        "latest_jobs": jobs,
    }


# --- Readings, staged readings, events, counters (read-only lists) ----------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the API and AMR jobs; staff may look and delete, not edit."""

    show_full_result_count = False  # COUNT(*) over millions of readings on every page is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(MeterReading)
class MeterReadingAdmin(ReadOnlyAdmin):
    list_display = ["meter_device", "series", "timestamp", "value", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["meter_device__name", "series__name"]
    autocomplete_fields = ["organization", "meter_device", "series"]
    list_select_related = ["meter_device", "series", "organization"]
    date_hierarchy = "timestamp"


@admin.register(StagedMeterReading)
class StagedMeterReadingAdmin(ReadOnlyAdmin):
    list_display = ["meter_device_name", "series_name", "timestamp", "value", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["meter_device_name", "series_name"]
    autocomplete_fields = ["organization"]
    list_select_related = ["organization"]


@admin.register(MeterSystemEvent)
class MeterSystemEventAdmin(ReadOnlyAdmin):
    list_display = ["meter_device", "timestamp", "title", "content", "organization"]
    list_filter = ["organization", "title"]
    search_fields = ["meter_device__name", "title", "content"]
    autocomplete_fields = ["organization", "meter_device"]
    list_select_related = ["meter_device", "organization"]


@admin.register(DlmsInvocationCounter)
class DlmsInvocationCounterAdmin(ReadOnlyAdmin):
    """Counters only move forward (AES-GCM nonce reuse breaks security): never edited by hand."""

    list_display = ["meter", "key_name", "counter", "updated_at"]
    search_fields = ["meter__name", "key_name"]
    autocomplete_fields = ["meter"]
    list_select_related = ["meter"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
