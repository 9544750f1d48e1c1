"""Serializers of the PowerBox API.

Public (EnergyGrid): :class:`BindPayloadSerializer` validates ``POST /v1/powerbox/bind`` strictly
(JSON types as the contract gives them: no numbers for strings, no ``true`` or ``"1"`` for the
integer ``actionCode``). The customer answer is built by ``services.customer_response``.

Staff (CIS sync): :class:`CustomerSyncSerializer` takes objects shaped like the contract's
``CustomerResponse`` plus ``organization``; ``customerSites`` and each site's ``meters`` are the
customer's *complete* current state (required, possibly empty), because what they leave out is
detached. It validates and shapes; ``services.customers_sync`` writes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from utilitarian.tenancy import TenantModelSerializer

from .. import han, services
from ..models import BindAction, BindRequest, Customer, CustomerMeter, MeterType

MAX_BULK = 1000


# --- public ------------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A CharField that accepts JSON strings only (DRF's turns 123 into "123")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "integer", "enum": [0, 1]})
class StrictChoiceIntegerField(serializers.Field):
    default_error_messages = {"invalid": "Must be one of {choices}."}

    def __init__(self, *, choices: tuple[int, ...], **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or data not in self.choices:
            self.fail("invalid", choices=", ".join(map(str, self.choices)))
        return data

    def to_representation(self, value: int) -> int:
        return value


class BindPayloadSerializer(serializers.Serializer):
    hemProfileId = StrictCharField(max_length=128)
    macAddress = StrictCharField(max_length=64)
    installCode = StrictCharField(max_length=128)
    meterId = StrictCharField(max_length=64)
    actionCode = StrictChoiceIntegerField(choices=(BindAction.UNBIND.value, BindAction.BIND.value))

    def validate_macAddress(self, value: str) -> str:
        try:
            return han.normalize_mac(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_installCode(self, value: str) -> str:
        try:
            return han.normalize_install_code(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


# --- staff: CIS sync ---------------------------------------------------------------------------


class MeterSyncSerializer(serializers.Serializer):
    meterId = serializers.CharField(source="meter_id", max_length=64)
    meterType = serializers.ChoiceField(source="meter_type", choices=MeterType.choices)
    unitOfMeasure = serializers.CharField(
        source="unit_of_measure", max_length=16, default="", allow_blank=True
    )
    isAMI = serializers.BooleanField(source="is_ami", default=False)
    rateCode = serializers.CharField(source="rate_code", max_length=32, default="", allow_blank=True)
    billingCycleId = serializers.IntegerField(
        source="billing_cycle_id",
        default=None,
        allow_null=True,
        min_value=-2147483648,
        max_value=2147483647,
    )


class SiteSyncSerializer(serializers.Serializer):
    externalSiteId = serializers.CharField(source="external_site_id", max_length=64)
    isPrimary = serializers.BooleanField(source="is_primary", default=False)
    address1 = serializers.CharField(max_length=200, default="", allow_blank=True)
    city = serializers.CharField(max_length=100, default="", allow_blank=True)
    state = serializers.CharField(max_length=50, default="", allow_blank=True)
    postalCode = serializers.CharField(source="postal_code", max_length=20, default="", allow_blank=True)
    meters = MeterSyncSerializer(many=True, allow_empty=True)


def _duplicates(values: list[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


class CustomerSyncListSerializer(serializers.ListSerializer):
    def validate(self, attrs: list[dict]) -> list[dict]:
        keys = [(str(item["organization"].pk), item["client_id"]) for item in attrs]
        sites = [
            (str(item["organization"].pk), site["external_site_id"])
            for item in attrs
            for site in item["sites"]
        ]
        meters = [
            (str(item["organization"].pk), meter["meter_id"])
            for item in attrs
            for site in item["sites"]
            for meter in site["meters"]
        ]
        errors = {}
        for name, values in (("clientId", keys), ("externalSiteId", sites), ("meterId", meters)):
            repeated = _duplicates([f"{org}/{value}" for org, value in values])
            if repeated:
                errors[name] = [f"sent more than once in this request: {', '.join(repeated)}"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CustomerSyncSerializer(TenantModelSerializer):
    """One customer as the CIS knows it: the contract's CustomerResponse plus ``organization``."""

    clientId = serializers.CharField(source="client_id", max_length=64)
    firstName = serializers.CharField(source="first_name", max_length=100, default="", allow_blank=True)
    lastName = serializers.CharField(source="last_name", max_length=100, default="", allow_blank=True)
    AcctStatus = serializers.CharField(source="acct_status", max_length=8)
    customerSites = SiteSyncSerializer(source="sites", many=True, allow_empty=True)

    class Meta:
        model = Customer
        fields = ["id", "organization", "clientId", "firstName", "lastName", "AcctStatus", "customerSites"]
        read_only_fields = ["id"]
        validators: list = []  # an upsert: an existing (organization, clientId) is updated, not refused
        list_serializer_class = CustomerSyncListSerializer

    def validate_clientId(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("may not be blank")
        return value

    def validate_AcctStatus(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("may not be blank")
        return value

    def validate(self, attrs: dict) -> dict:
        sites = attrs["sites"]
        site_ids = [site["external_site_id"] for site in sites]
        meter_ids = [meter["meter_id"] for site in sites for meter in site["meters"]]
        errors: dict[str, list[str]] = {}
        if repeated := _duplicates(site_ids):
            errors["customerSites"] = [f"externalSiteId sent more than once: {', '.join(repeated)}"]
        if repeated := _duplicates(meter_ids):
            errors.setdefault("customerSites", []).append(
                f"meterId sent more than once: {', '.join(repeated)}"
            )
        devices = services.meter_devices_by_name(organization=attrs["organization"], names=meter_ids)
        missing = sorted(set(meter_ids) - set(devices))
        if missing:
            errors.setdefault("customerSites", []).append(
                "meterId must name a meter device of the organization; unknown: " + ", ".join(missing)
            )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_representation(self, instance: Customer) -> dict:
        return {
            "id": str(instance.pk),
            "organization": str(instance.organization_id),
            **services.customer_response(instance),
        }


# --- staff: read-only views of meters and bind history ------------------------------------------


class CustomerMeterSerializer(serializers.ModelSerializer):
    meterId = serializers.CharField(source="meter_id", read_only=True)
    clientId = serializers.SerializerMethodField()
    externalSiteId = serializers.CharField(source="site.external_site_id", read_only=True, default=None)

    class Meta:
        model = CustomerMeter
        fields = [
            "id",
            "organization",
            "meterId",
            "meter_device",
            "externalSiteId",
            "clientId",
            "meter_type",
            "unit_of_measure",
            "is_ami",
            "rate_code",
            "billing_cycle_id",
            "bind_state",
            "bound_mac_address",
            "bind_state_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_clientId(self, obj: CustomerMeter) -> str | None:
        site = obj.site
        return site.customer.client_id if site is not None and site.customer is not None else None


class BindRequestSerializer(serializers.ModelSerializer):
    meterId = serializers.CharField(source="meter.meter_id", read_only=True)

    class Meta:
        model = BindRequest
        # never the install code: it is the device's join secret
        fields = [
            "id",
            "organization",
            "meter",
            "meterId",
            "customer",
            "client_id",
            "hem_profile_id",
            "action",
            "mac_address",
            "state",
            "detail",
            "amr_job_id",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
            "expires_at",
        ]
        read_only_fields = fields
