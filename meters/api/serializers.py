"""Serializers of the metering inventory (contract ``utilitarian-api-1.3.0``).

Field names, lengths, patterns and enums are the contract's. Decisions where it is silent:

* **Same organization.** Every referenced object (type, network interface, task groups, tasks,
  config, series, SIM) must belong to the organization of the object that references it. For JWT
  users the scoped related querysets already reject foreign ids ("does not exist"); for staff,
  who see every organization, :meth:`InventorySerializer.validate` checks it, also for the
  references an object already has when staff give it an organization.
* **Organization is write-once.** An object never moves to another organization (its readings,
  keys and references would leak across tenants); an object created without one (staff-only
  stock of meter devices and SIM cards, as the contract allows) may be given one later.
* **Names are unique per organization** (meter devices, series): a clash is a 400 on ``name``,
  not an IntegrityError (a concurrent clash that slips through is a 409 by the exception handler).
* **Key material.** ``dlms_master_key`` is write-only everywhere. The other keys are returned in
  clear to staff tokens only; for JWT users (whatever their role) every key value is ``null``.
* ``host`` and ``block_time`` of a network interface are ``null`` when unknown / not blocked.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from utilitarian.auth import request_tenant
from utilitarian.fields import parse_exact_decimal
from utilitarian.tenancy import TenantModelSerializer

from ..models import (
    MeterDevice,
    MeterDeviceConfig,
    MeterDeviceType,
    MeterReadingSeries,
    MeterSecurityKeyCollection,
    NetworkInterface,
    SimCard,
)

#: The contract's spelling of the patterns (same languages as the model's validators), so the
#: published schema is the contract's character for character.
HEX_PATTERN = r"^[abcdefABCDEF1234567890]*$"
DIGITS_PATTERN = r"^[0123456789]*$"
hex_validator = RegexValidator(HEX_PATTERN, "Only hexadecimal characters (0-9, a-f) are allowed.")
digits_validator = RegexValidator(DIGITS_PATTERN, "Only digits are allowed.")

DLMS_KEY_FIELDS = (
    "dlms_global_unicast_encryption_key",
    "dlms_global_broadcast_encryption_key",
    "dlms_global_authentication_key",
)
#: Key values shown to staff only (the master key is never shown to anyone).
READABLE_KEY_FIELDS = ("iec62056_21_password", *DLMS_KEY_FIELDS)


def dlms_key_length_validator(value: str) -> None:
    # The message never repeats the value: it may be (part of) a secret.
    if value and len(value) not in (32, 64):
        raise serializers.ValidationError(
            "A DLMS key is 32 or 64 hexadecimal characters (AES-128 or AES-256)."
        )


def is_staff_request(context: dict) -> bool:
    request = context.get("request")
    return request is not None and request_tenant(request).is_global


@extend_schema_field({"type": "string", "format": "decimal"})
class ExactDecimalField(serializers.Field):
    """A decimal number as a string, digit for digit (utilitarian.fields.ExactDecimalField)."""

    default_error_messages = {"invalid": "{reason}"}

    def to_internal_value(self, data: Any):
        try:
            return parse_exact_decimal(data)
        except ValueError as exc:
            self.fail("invalid", reason=str(exc))

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        # A model default ("1") is still a str on an instance that was just created.
        return format(parse_exact_decimal(value), "f")


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """A JSON object (or null): lists, strings and numbers are refused."""

    def to_internal_value(self, data: Any):
        if data is not None and not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object (or null).")
        return super().to_internal_value(data)


class InventorySerializer(TenantModelSerializer):
    """Adds the same-organization, write-once organization and unique-name rules."""

    #: Related fields whose objects must belong to this object's organization.
    same_organization_fields: tuple[str, ...] = ()
    #: Model field unique within an organization, checked here to answer 400 on that field.
    unique_name_field: str | None = None

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        instance = self.instance
        org_field = self.organization_field
        if not org_field or org_field not in self.fields:
            return attrs
        old_org_id = getattr(instance, f"{org_field}_id", None) if instance is not None else None
        if org_field in attrs:
            new_org = attrs[org_field]
            new_org_id = new_org.pk if new_org is not None else None
        else:
            new_org_id = old_org_id
        if instance is not None and old_org_id is not None and new_org_id != old_org_id:
            raise serializers.ValidationError({org_field: ["An object cannot move to another organization."]})
        org_changed = instance is not None and new_org_id != old_org_id
        errors: dict[str, list[str]] = {}
        for name in self.same_organization_fields:
            if name in attrs:
                value = attrs[name]
            elif org_changed:
                value = getattr(instance, name)
                value = list(value.all()) if hasattr(value, "all") else value
            else:
                continue
            for obj in value if isinstance(value, (list, tuple, set)) else [value]:
                if obj is not None and getattr(obj, "organization_id", None) != new_org_id:
                    errors.setdefault(name, []).append(
                        f'Object "{obj.pk}" belongs to another organization than this one.'
                    )
        if self.unique_name_field and (self.unique_name_field in attrs or org_changed):
            name_value = attrs.get(self.unique_name_field, getattr(instance, self.unique_name_field, None))
            clash = self.Meta.model.objects.filter(
                **{f"{org_field}_id": new_org_id, self.unique_name_field: name_value}
            )
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                errors.setdefault(self.unique_name_field, []).append(
                    f"This organization already has a {self.Meta.model._meta.verbose_name} with this name."
                )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def info_string(objects) -> str:
    return ", ".join(str(obj) for obj in objects)


# --- SIM cards and network interfaces -----------------------------------------------------------


class SimCardSerializer(InventorySerializer):
    class Meta:
        model = SimCard
        fields = [
            "id",
            "organization",
            "iccid",
            "imsi",
            "ip_address",
            "phone_number",
            "external_system_link",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "iccid": {"validators": [digits_validator]},
            "imsi": {"validators": [digits_validator]},
            # The contract says [1 .. n] characters or null: "" is refused, not stored.
            "phone_number": {"min_length": 1, "allow_blank": False},
            "external_system_link": {"min_length": 1, "allow_blank": False},
        }


class NetworkInterfaceSerializer(InventorySerializer):
    same_organization_fields = ("sim",)

    host = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="FQDN if set, else the static IP address, else the SIM card's IP; null when none is known.",
    )

    class Meta:
        model = NetworkInterface
        fields = [
            "id",
            "organization",
            "static_ip_address",
            "host",
            "fqdn",
            "port",
            "sim",
            "can_block",
            "is_blocked",
            "block_time",
            "block_expires_at",
            "blocked_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_blocked", "block_time", "block_expires_at", "blocked_by"]
        extra_kwargs = {
            "static_ip_address": {
                "help_text": "Will override any IP that might be incurred from SIM. Could be used on physical "
                "connections such as LAN or when not storing SIMs in Utilitarian."
            },
            "fqdn": {
                "help_text": "Will override any set IP and use DNS to lookup IP of meters. "
                "Ex: meter098765.mydomain.com ."
            },
            "port": {"help_text": "Port used for IP communication."},
            "can_block": {"help_text": "It is possible to block the network interface."},
            "is_blocked": {"help_text": "Indicates if the network interface is currently blocked"},
            "block_time": {"help_text": "Time when block was initiated (null when not blocked)"},
            "block_expires_at": {
                "help_text": "When the block lapses by itself (a block is a lease, so a crashed job cannot "
                "leave the interface blocked)."
            },
            "blocked_by": {"help_text": "Who holds the block: a job id, or operator:<username>."},
        }


class NetworkInterfaceBlockSerializer(serializers.Serializer):
    lease_seconds = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=7 * 86400,
        help_text="How long the block lasts unless unblocked (default AMR_BLOCK_LEASE_SECONDS).",
    )


# --- Series, configs, types ---------------------------------------------------------------------


class MeterReadingSeriesSerializer(InventorySerializer):
    unique_name_field = "name"
    si_multiplier = ExactDecimalField(
        required=False, help_text="Multiplier to get series unit in SI unit. Ex  1 kPa = 1000 * 1 Pa."
    )

    class Meta:
        model = MeterReadingSeries
        fields = [
            "id",
            "organization",
            "name",
            "description",
            "unit",
            "unit_description",
            "si_multiplier",
            "affected_by_ct_ratio",
            "affected_by_vt_ratio",
            "created_at",
            "updated_at",
        ]
        validators: list = []  # unique name per organization: a field error from validate()
        extra_kwargs = {
            "name": {"help_text": "Used to group meter readings."},
            "unit": {"help_text": "Unit characters of the series, ex: kWh"},
            "unit_description": {
                "min_length": 1,
                "allow_blank": False,
                "help_text": "Longer name of unit or more info about the unit, Ex Celsius or Bar, Atmospheric.",
            },
            "affected_by_ct_ratio": {
                "help_text": "Indicates if series is affected by the current transformer of the meter. "
                "Is used for calculations."
            },
            "affected_by_vt_ratio": {
                "help_text": "Indicates if series is affected by the voltage transformer of the meter. "
                "Is used in calculations."
            },
        }


class MeterDeviceConfigSerializer(InventorySerializer):
    same_organization_fields = ("series",)
    series_info = serializers.SerializerMethodField()

    class Meta:
        model = MeterDeviceConfig
        fields = [
            "id",
            "organization",
            "name",
            "series",
            "series_info",
            "timezone",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "series": {
                "required": True,
                "allow_empty": True,
                "help_text": "Choose meter readings series that will be allowed for this meter device config.",
            },
            "timezone": {
                "help_text": "Name of timezone the meter operates in. For fixed offset constructed zones "
                "(ex. 'Etc/GMT-1') take notice that we are following standard conventions and the sign "
                "is inverted. See more at https://en.wikipedia.org/wiki/List_of_tz_database_time_zones"
            },
        }

    def get_series_info(self, obj: MeterDeviceConfig) -> str:
        return info_string(obj.series.all())


class MeterDeviceTypeSerializer(InventorySerializer):
    same_organization_fields = ("config",)

    class Meta:
        model = MeterDeviceType
        fields = [
            "id",
            "organization",
            "name",
            "description",
            "manufacturer",
            "manufacturer_model",
            "config",
            "created_at",
            "updated_at",
        ]


# --- Meter devices ------------------------------------------------------------------------------

METER_DEVICE_CONTRACT_FIELDS = [
    "id",
    "organization",
    "name",
    "external_system_reference",
    "manufacturer_serial",
    "protocol",
    "iec62056_21_address",
    "dlms_logical_device_name",
    "dlms_system_title",
    "type",
    "task_groups",
    "meter_tasks",
    "network_interface",
    "network_interface_info",
    "has_current_transformer",
    "current_transformer_ratio",
    "has_voltage_transformer",
    "voltage_transformer_ratio",
    "has_disconnector",
    "disconnector_status",
    "created_at",
    "updated_at",
]
METER_DEVICE_EXTRA_KWARGS = {
    "name": {"help_text": "Unique name or identification of the meter within its organization."},
    "dlms_logical_device_name": {
        "validators": [hex_validator],
        "help_text": "Only used for DLMS communication",
    },
    "dlms_system_title": {"validators": [hex_validator], "help_text": "Only used for DLMS communication"},
    "iec62056_21_address": {"help_text": "Only used for IEC62056-21 communication"},
    "task_groups": {"help_text": "Choose AMR Task Groups the meter device should be a part of."},
    "meter_tasks": {"help_text": "Choose AMR Tasks that are just for this meter device."},
    "has_current_transformer": {
        "help_text": "Indicates if the meter has a current transformer in its measurement loop."
    },
    "current_transformer_ratio": {"help_text": "The ratio of the current transformer, Ex: 150/5 = 30"},
    "has_voltage_transformer": {
        "help_text": "Indicates if the meter has a voltage transformer in its measurement loop."
    },
    "voltage_transformer_ratio": {"help_text": "The ratio of the voltage transformer, Ex: 150/5 = 30"},
    "has_disconnector": {"help_text": "indicates if the meter device has a disconnector"},
    # Driver addressing the contract lacks: optional extensions of this server.
    "serial_port": {
        "help_text": "Extension. Serial device (e.g. /dev/ttyUSB0) or RFC 2217 URL for meters read over a "
        "serial line or optical probe instead of IP."
    },
    "serial_baudrate": {"help_text": "Extension. Baud rate of the serial line (driver default when null)."},
    "mbus_primary_address": {"help_text": "Extension. M-Bus primary address 0..250."},
    "mbus_secondary_address": {
        "help_text": "Extension. M-Bus secondary address: 8 hex digits (identification) or 16 (with "
        "manufacturer, version and medium)."
    },
    "modbus_unit_id": {"help_text": "Extension. Modbus unit (slave) id 0..247."},
    "dlms_client_address": {"help_text": "Extension. DLMS client SAP (e.g. 16 public, 1 management)."},
    "dlms_server_address": {"help_text": "Extension. DLMS server (logical device) address."},
    "dlms_authentication": {"help_text": "Extension. DLMS authentication mechanism."},
    "dlms_transport": {"help_text": "Extension. DLMS transport: TCP wrapper or HDLC."},
}


class MeterDeviceSerializer(InventorySerializer):
    same_organization_fields = ("type", "network_interface", "task_groups", "meter_tasks")
    unique_name_field = "name"
    network_interface_info = serializers.SerializerMethodField()

    class Meta:
        model = MeterDevice
        fields = METER_DEVICE_CONTRACT_FIELDS + list(MeterDevice.DRIVER_FIELDS)
        validators: list = []  # unique name per organization: a field error from validate()
        extra_kwargs = METER_DEVICE_EXTRA_KWARGS

    def get_network_interface_info(self, obj: MeterDevice) -> str:
        return str(obj.network_interface) if obj.network_interface_id else ""


class NestedMeterDeviceSerializer(serializers.ModelSerializer):
    """The meter as the security key collection's OUT shape nests it (read-only)."""

    class Meta:
        model = MeterDevice
        fields = [
            "id",
            "created_at",
            "updated_at",
            "name",
            "external_system_reference",
            "manufacturer_serial",
            "protocol",
            "iec62056_21_address",
            "dlms_logical_device_name",
            "dlms_system_title",
            "has_current_transformer",
            "current_transformer_ratio",
            "has_voltage_transformer",
            "voltage_transformer_ratio",
            "has_disconnector",
            "disconnector_status",
            "organization",
            "type",
            "network_interface",
            "task_groups",
            "meter_tasks",
        ]
        # Only ever used read-only (the parent field is); the inner fields keep their constraints
        # so the schema documents them as the contract does.
        extra_kwargs = {
            "dlms_logical_device_name": {"validators": [hex_validator]},
            "dlms_system_title": {"validators": [hex_validator]},
        }


# --- Security keys ------------------------------------------------------------------------------

KEY_HELP = "Used in DLMS communication"


def dlms_key_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_null=True,
        max_length=64,
        validators=[hex_validator, dlms_key_length_validator],
        help_text=KEY_HELP + " (32 or 64 hexadecimal characters).",
        **kwargs,
    )


class SecurityKeyValuesMixin(serializers.Serializer):
    """Key fields common to the IN and OUT shapes; values are hidden from non-staff callers."""

    iec62056_21_password = serializers.CharField(
        required=False,
        allow_null=True,
        min_length=1,
        max_length=8,
        label="IEC62056-21 Password",
        help_text="Used in IEC 62056-21 communication",
    )
    dlms_global_unicast_encryption_key = dlms_key_field(label="Global Unicast Encryption Key, GUEK")
    dlms_global_broadcast_encryption_key = dlms_key_field(label="Global Broadcast Encryption Key, GBEK")
    dlms_global_authentication_key = dlms_key_field(label="Global Authentication Key, GAK")

    def to_representation(self, instance: Model) -> dict:
        data = super().to_representation(instance)
        data.pop("dlms_master_key", None)  # belt and braces: it is write-only anyway
        if not is_staff_request(self.context):
            for name in READABLE_KEY_FIELDS:
                if name in data:
                    data[name] = None
        return data


class MeterSecurityKeyCollectionInSerializer(SecurityKeyValuesMixin, TenantModelSerializer):
    organization_field = None
    dlms_master_key = dlms_key_field(
        label="Master Key or Key Encrypting Key, KEK",
        write_only=True,
        style={"input_type": "password"},
    )

    class Meta:
        model = MeterSecurityKeyCollection
        fields = [
            "id",
            "meter",
            "iec62056_21_password",
            "dlms_global_unicast_encryption_key",
            "dlms_global_broadcast_encryption_key",
            "dlms_master_key",
            "dlms_global_authentication_key",
            "created_at",
            "updated_at",
        ]
        validators: list = []
        extra_kwargs = {"meter": {"validators": []}}

    def validate_meter(self, meter: MeterDevice) -> MeterDevice:
        clash = MeterSecurityKeyCollection.objects.filter(meter=meter)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                "This meter already has a security key collection; delete it first to replace the keys."
            )
        return meter


class MeterSecurityKeyCollectionOutSerializer(SecurityKeyValuesMixin, serializers.ModelSerializer):
    meter = NestedMeterDeviceSerializer(read_only=True)

    class Meta:
        model = MeterSecurityKeyCollection
        fields = [
            "id",
            "created_at",
            "updated_at",
            "iec62056_21_password",
            "dlms_global_unicast_encryption_key",
            "dlms_global_broadcast_encryption_key",
            "dlms_global_authentication_key",
            "meter",
        ]
        read_only_fields = fields
