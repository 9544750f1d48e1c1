"""An organization's meter inventory and its readings.

Field names, lengths and enums follow the contract (``utilitarian-api-1.3.0``). Fields a driver
needs that the contract lacks (M-Bus and Modbus addressing, DLMS client/server addresses and
authentication, serial-port settings, a Modbus register map) are optional extras.

Readings are the hot path. ``MeterReading`` references its meter device and series WITHOUT
database foreign-key constraints (``db_constraint=False``): measured, three FKs cut bulk COPY
throughput by about 4x, and every write path resolves the ids by name within the organization
first, so the references are valid by construction; deletes cascade in the ORM (meter device,
organization) or are refused (a series with readings, see ``protect_series_with_readings``). The
organization is stored on the row (denormalized from the meter device) so tenant scoping never
needs a join. Uniqueness of (meter device, series, timestamp) is a real unique index: re-sent
readings are duplicates, never errors.
"""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import ProtectedError

from utilitarian.fields import EncryptedTextField, ExactDecimalField
from utilitarian.models import Organization, TimestampedModel

from .timezones import TIMEZONES

hex_validator = RegexValidator(r"^[0-9a-fA-F]*$", "Only hexadecimal characters (0-9, a-f) are allowed.")
digits_validator = RegexValidator(r"^[0-9]*$", "Only digits are allowed.")


def dlms_key_validator(value: str) -> None:
    from django.core.exceptions import ValidationError

    hex_validator(value)
    if len(value) not in (32, 64):
        raise ValidationError("A DLMS key is 32 or 64 hexadecimal characters (AES-128 or AES-256).")


class Protocol(models.TextChoices):
    DLMS = "dlms-cosem", "DLMS/COSEM"
    IEC62056_21 = "iec62056-21", "IEC 62056-21"
    IFLAG = "i-flag", "I-FLAG (Corus)"
    MBUS = "mbus", "M-Bus"
    MODBUS = "modbus", "Modbus"
    LIS200 = "lis-200", "LIS-200"


class DisconnectorStatus(models.IntegerChoices):
    DISCONNECTED = 0, "Disconnected"
    CONNECTED = 1, "Connected"
    READY_FOR_RECONNECTION = 2, "Ready for reconnection"


class DlmsAuthentication(models.TextChoices):
    NONE = "none", "None"
    LOW = "low", "Low (password)"
    HIGH_GMAC = "high-gmac", "High (GMAC)"


class DlmsTransport(models.TextChoices):
    WRAPPER = "wrapper", "TCP wrapper (IEC 62056-47)"
    HDLC = "hdlc", "HDLC"


class SimCard(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sim_cards", null=True, blank=True
    )
    iccid = models.CharField(max_length=20, validators=[MinLengthValidator(1), digits_validator])
    imsi = models.CharField(max_length=15, validators=[MinLengthValidator(1), digits_validator])
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    phone_number = models.CharField(max_length=30, null=True, blank=True)
    external_system_link = models.URLField(max_length=200, null=True, blank=True)

    class Meta:
        ordering = ["iccid"]
        verbose_name = "SIM card"

    def __str__(self) -> str:
        return self.iccid


class NetworkInterface(TimestampedModel):
    """How a meter is reached over IP. Blocking serializes access: a modem (or an M-Bus gateway)
    talks to one client at a time, so AMR jobs block the interface while they use it. A block is
    a lease: it expires at ``block_expires_at`` so a crashed worker cannot leave it blocked."""

    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="network_interfaces"
    )
    static_ip_address = models.GenericIPAddressField(null=True, blank=True)
    fqdn = models.CharField(max_length=200, null=True, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(65535)])
    sim = models.ForeignKey(
        SimCard, on_delete=models.SET_NULL, null=True, blank=True, related_name="network_interfaces"
    )
    can_block = models.BooleanField(default=True)
    is_blocked = models.BooleanField(default=False, editable=False)
    block_time = models.DateTimeField(null=True, blank=True, editable=False)
    block_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    blocked_by = models.CharField(max_length=100, blank=True, default="", editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["is_blocked", "block_expires_at"], name="netif_block_lease_idx")]

    def __str__(self) -> str:
        return f"{self.host or '?'}:{self.port or '?'}"

    @property
    def host(self) -> str | None:
        """FQDN wins, then the static IP, then the SIM's IP."""
        if self.fqdn:
            return self.fqdn
        if self.static_ip_address:
            return self.static_ip_address
        if self.sim_id and self.sim and self.sim.ip_address:
            return self.sim.ip_address
        return None


class MeterReadingSeries(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="series")
    name = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    description = models.CharField(max_length=250, blank=True, default="")
    unit = models.CharField(max_length=10, validators=[MinLengthValidator(1)])
    unit_description = models.CharField(max_length=250, null=True, blank=True)
    si_multiplier = ExactDecimalField(default="1")
    affected_by_ct_ratio = models.BooleanField(default=False)
    affected_by_vt_ratio = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "meter reading series"
        verbose_name_plural = "meter reading series"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="unique_series_name_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.unit}]"


class MeterDeviceConfig(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="device_configs")
    name = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    series = models.ManyToManyField(MeterReadingSeries, related_name="configs", blank=True)
    timezone = models.CharField(max_length=64, choices=[(tz, tz) for tz in TIMEZONES], default="UTC")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MeterDeviceType(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="device_types")
    name = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    description = models.CharField(max_length=500, blank=True, default="")
    manufacturer = models.CharField(max_length=100, validators=[MinLengthValidator(1)])
    manufacturer_model = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    config = models.ForeignKey(
        MeterDeviceConfig, on_delete=models.SET_NULL, null=True, blank=True, related_name="device_types"
    )
    #: Modbus register map (see protocols.modbus): list of {series, address, data_type, ...}.
    modbus_register_map = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.manufacturer_model} ({self.name})"


class MeterDevice(TimestampedModel):
    tenant_path = "organization"
    #: Addressing fields the drivers need that the API contract lacks (the API and the admin
    #: show them as extensions).
    DRIVER_FIELDS = (
        "serial_port",
        "serial_baudrate",
        "mbus_primary_address",
        "mbus_secondary_address",
        "modbus_unit_id",
        "dlms_client_address",
        "dlms_server_address",
        "dlms_authentication",
        "dlms_transport",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="meter_devices", null=True, blank=True
    )
    name = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    external_system_reference = models.CharField(max_length=50, null=True, blank=True)
    manufacturer_serial = models.CharField(max_length=50, null=True, blank=True)
    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    iec62056_21_address = models.CharField(max_length=8, null=True, blank=True)
    dlms_logical_device_name = models.CharField(
        max_length=32, null=True, blank=True, validators=[hex_validator]
    )
    dlms_system_title = models.CharField(max_length=16, null=True, blank=True, validators=[hex_validator])
    type = models.ForeignKey(
        MeterDeviceType, on_delete=models.SET_NULL, null=True, blank=True, related_name="meter_devices"
    )
    task_groups = models.ManyToManyField("amr.AmrTaskGroup", related_name="meter_devices", blank=True)
    meter_tasks = models.ManyToManyField("amr.AmrTask", related_name="meter_devices", blank=True)
    network_interface = models.ForeignKey(
        NetworkInterface, on_delete=models.SET_NULL, null=True, blank=True, related_name="meter_devices"
    )
    has_current_transformer = models.BooleanField(default=False)
    current_transformer_ratio = models.IntegerField(
        default=1, validators=[MinValueValidator(-2147483648), MaxValueValidator(2147483647)]
    )
    has_voltage_transformer = models.BooleanField(default=False)
    voltage_transformer_ratio = models.IntegerField(
        default=1, validators=[MinValueValidator(-2147483648), MaxValueValidator(2147483647)]
    )
    has_disconnector = models.BooleanField(default=False)
    disconnector_status = models.IntegerField(choices=DisconnectorStatus.choices, null=True, blank=True)

    # --- driver addressing the contract lacks (all optional) ---
    serial_port = models.CharField(max_length=200, null=True, blank=True)
    serial_baudrate = models.PositiveIntegerField(null=True, blank=True)
    mbus_primary_address = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(250)]
    )
    mbus_secondary_address = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        validators=[RegexValidator(r"^[0-9a-fA-F]{8}([0-9a-fA-F]{8})?$")],
    )
    modbus_unit_id = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(247)]
    )
    dlms_client_address = models.PositiveIntegerField(null=True, blank=True)
    dlms_server_address = models.PositiveIntegerField(null=True, blank=True)
    dlms_authentication = models.CharField(
        max_length=16, choices=DlmsAuthentication.choices, null=True, blank=True
    )
    dlms_transport = models.CharField(max_length=16, choices=DlmsTransport.choices, null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="unique_meter_name_per_org")
        ]
        indexes = [
            models.Index(fields=["dlms_system_title"], name="meter_system_title_idx"),
            models.Index(fields=["external_system_reference"], name="meter_ext_ref_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class MeterSecurityKeyCollection(TimestampedModel):
    """One per meter. All key material is encrypted at rest; the master key (KEK) is write-only
    everywhere (API, admin, logs): it is only used for key transfer to the meter."""

    tenant_path = "meter__organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    meter = models.OneToOneField(MeterDevice, on_delete=models.CASCADE, related_name="security_keys")
    iec62056_21_password = EncryptedTextField(null=True, blank=True)
    dlms_global_unicast_encryption_key = EncryptedTextField(null=True, blank=True)
    dlms_global_broadcast_encryption_key = EncryptedTextField(null=True, blank=True)
    dlms_master_key = EncryptedTextField(null=True, blank=True)
    dlms_global_authentication_key = EncryptedTextField(null=True, blank=True)

    class Meta:
        verbose_name = "meter security key collection"

    def __str__(self) -> str:
        return f"keys of {self.meter}"

    def __repr__(self) -> str:  # never print key material
        return f"<MeterSecurityKeyCollection {self.pk} meter={self.meter_id}>"


def protect_series_with_readings(collector, field, sub_objs, using) -> None:
    """``on_delete`` of ``MeterReading.series``: refuse to delete a series that has readings, as
    ``PROTECT`` does (the same ``ProtectedError``, so the API answers 409 and the admin shows its
    "cannot delete" page), unless its organization is being deleted too, whose readings go with
    it. ``PROTECT`` would look the readings up by series alone, a table scan without an index on
    it; this probes the unique key per meter of the organization (``series_reading_sample``)."""
    from .services.readings import series_reading_sample

    dying = {org.pk for org in collector.data.get(Organization, ())}
    protected = []
    for series in collector.data.get(MeterReadingSeries, ()):
        if dying and series.organization_id in dying:
            continue
        reading = series_reading_sample(series)
        if reading is not None:
            protected.append(reading)
    if protected:
        raise ProtectedError("A series that still has meter readings cannot be deleted.", protected)


protect_series_with_readings.lazy_sub_objs = True  # the collector must not evaluate sub_objs (a scan)


class MeterReading(models.Model):
    tenant_path = "organization"
    bulk_rows = True  # counted, not listed, on the admin's delete pages (utilitarian.admin_deletion)

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on organization and meter_device: the (organization, timestamp)
    # index and the unique (meter_device, series, timestamp) key lead with them and serve those
    # lookups, and every index on this table is paid again on each ingested row.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    meter_device = models.ForeignKey(
        MeterDevice, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="readings"
    )
    # No index on the series alone either: every index is paid again on each ingested row, and
    # this one only served PROTECT's check when a series is deleted. That check is now
    # protect_series_with_readings, which probes the unique key instead.
    series = models.ForeignKey(
        MeterReadingSeries,
        on_delete=protect_series_with_readings,
        db_constraint=False,
        db_index=False,
        related_name="readings",
    )
    timestamp = models.DateTimeField()
    value = ExactDecimalField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter_device", "series", "timestamp"], name="unique_reading_per_meter_series_time"
            )
        ]
        indexes = [models.Index(fields=["organization", "timestamp"], name="reading_org_time_idx")]

    def __str__(self) -> str:
        return f"{self.meter_device_id} {self.series_id} {self.timestamp.isoformat()} = {self.value}"


class StagedMeterReading(TimestampedModel):
    """A reading for a meter device name the organization does not have (yet). It is promoted
    to a MeterReading in the transaction that creates the meter device."""

    tenant_path = "organization"
    bulk_rows = True

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="staged_readings")
    meter_device_name = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    series_name = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    timestamp = models.DateTimeField()
    value = ExactDecimalField()

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [
            models.Index(fields=["organization", "meter_device_name"], name="staged_org_name_idx"),
            models.Index(fields=["created_at"], name="staged_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_device_name}/{self.series_name} {self.timestamp.isoformat()} = {self.value}"


class MeterSystemEvent(TimestampedModel):
    tenant_path = "organization"
    bulk_rows = True

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    meter_device = models.ForeignKey(
        MeterDevice, on_delete=models.CASCADE, db_constraint=False, related_name="system_events"
    )
    timestamp = models.DateTimeField()
    title = models.CharField(max_length=50, validators=[MinLengthValidator(1)])
    content = models.CharField(max_length=500, validators=[MinLengthValidator(1)])

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter_device", "timestamp", "title"], name="unique_event_per_meter_time_title"
            )
        ]
        indexes = [models.Index(fields=["organization", "timestamp"], name="event_org_time_idx")]

    def __str__(self) -> str:
        return f"{self.title} @ {self.timestamp.isoformat()}"


class DlmsInvocationCounter(models.Model):
    """The last DLMS invocation (frame) counter used with one meter's key. It only moves forward,
    across jobs, workers and restarts: reusing a counter under the same AES-GCM key would break
    the meter's security. Reservations happen in ``SELECT ... FOR UPDATE`` transactions."""

    tenant_path = "meter__organization"

    meter = models.ForeignKey(MeterDevice, on_delete=models.CASCADE, related_name="dlms_counters")
    key_name = models.CharField(max_length=40)
    counter = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "key_name"], name="unique_counter_per_meter_key")
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.key_name}={self.counter}"
