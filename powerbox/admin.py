"""Admin for PowerBox: customers with their sites and meters, meters with their bind history.

Customers, sites and meters belong to the CIS: the sync overwrites what is edited here, so the
admin is for looking (and for a quick fix the next sync will confirm). Bind requests are history
and read only; the install code never shows.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from .models import BindRequest, Customer, CustomerMeter, CustomerSite


class CustomerSiteInline(admin.TabularInline):
    model = CustomerSite
    extra = 0
    fields = ["external_site_id", "is_primary", "address1", "city", "state", "postal_code", "meter_list"]
    readonly_fields = ["meter_list"]
    show_change_link = True

    @admin.display(description="meters")
    def meter_list(self, obj: CustomerSite) -> str:
        if obj.pk is None:
            return "-"
        meters = list(obj.meters.order_by("meter_id"))
        if not meters:
            return "-"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (
                    reverse("admin:powerbox_customermeter_change", args=[m.pk]),
                    m.meter_id,
                    m.get_bind_state_display(),
                )
                for m in meters
            ),
        )


class CustomerMeterInline(admin.TabularInline):
    model = CustomerMeter
    extra = 0
    fields = [
        "meter_id",
        "meter_device",
        "meter_type",
        "unit_of_measure",
        "is_ami",
        "rate_code",
        "bind_state",
    ]
    readonly_fields = ["bind_state"]
    raw_id_fields = ["meter_device"]
    show_change_link = True


class BindRequestInline(admin.TabularInline):
    model = BindRequest
    extra = 0
    fields = [
        "created_at",
        "action",
        "mac_address",
        "state",
        "client_id",
        "finished_at",
        "detail",
        "amr_job_id",
    ]
    readonly_fields = fields
    can_delete = False
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["client_id", "first_name", "last_name", "acct_status", "organization", "site_count"]
    list_filter = ["acct_status", "organization"]
    search_fields = [
        "client_id",
        "first_name",
        "last_name",
        "sites__external_site_id",
        "sites__meters__meter_id",
    ]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["organization"]
    inlines = [CustomerSiteInline]

    @admin.display(description="sites")
    def site_count(self, obj: Customer) -> int:
        return obj.sites.count()


@admin.register(CustomerSite)
class CustomerSiteAdmin(admin.ModelAdmin):
    list_display = ["external_site_id", "customer", "is_primary", "address1", "city", "organization"]
    list_filter = ["organization", "is_primary"]
    search_fields = ["external_site_id", "address1", "city", "postal_code", "customer__client_id"]
    raw_id_fields = ["customer"]
    readonly_fields = ["id", "created_at", "updated_at"]
    list_select_related = ["customer", "organization"]
    inlines = [CustomerMeterInline]


@admin.register(CustomerMeter)
class CustomerMeterAdmin(admin.ModelAdmin):
    list_display = [
        "meter_id",
        "meter_device",
        "site",
        "meter_type",
        "is_ami",
        "bind_state",
        "bound_mac_address",
    ]
    list_filter = ["bind_state", "meter_type", "is_ami", "organization"]
    search_fields = ["meter_id", "bound_mac_address", "site__external_site_id", "site__customer__client_id"]
    raw_id_fields = ["site", "meter_device"]
    readonly_fields = [
        "id",
        "bind_state",
        "bound_mac_address",
        "bind_state_changed_at",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["meter_device", "site"]
    inlines = [BindRequestInline]


@admin.register(BindRequest)
class BindRequestAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "meter",
        "action",
        "mac_address",
        "state",
        "client_id",
        "finished_at",
        "job",
    ]
    list_filter = ["state", "action", "organization"]
    search_fields = ["meter__meter_id", "mac_address", "client_id", "hem_profile_id", "amr_job_id"]
    date_hierarchy = "created_at"
    list_select_related = ["meter"]
    exclude = ["install_code"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in BindRequest._meta.fields if f.name != "install_code"] + ["job"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="AMR job")
    def job(self, obj: BindRequest) -> str:
        if not obj.amr_job_id:
            return "-"
        try:
            url = reverse("admin:amr_amrjob_change", args=[obj.amr_job_id])
        except NoReverseMatch:  # the AMR admin may not register jobs
            return str(obj.amr_job_id)
        return format_html('<a href="{}">{}</a>', url, obj.amr_job_id)
