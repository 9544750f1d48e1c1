"""PowerBox: the utility's customers as the CIS knows them, and HAN device bindings to their meters.

The CIS is the source of truth. It pushes customers with their premises (sites) and meters; each
meter's CIS ``meterId`` names a :class:`meters.models.MeterDevice` of the same organization (its
``name``), which is how a bind request reaches a real meter through AMR.

Sites and meters are keyed by their CIS identifier within the organization, not by customer: when
a household moves out and another moves in, the premise and its meter are handed to the new
customer by the next sync. A site or meter that a sync leaves out is *detached* (its customer or
site set to NULL), never deleted, so the meter device, its readings and its bind history survive.

Binding is a small state machine per meter, recorded as one :class:`BindRequest` per accepted
call (the history) plus the meter's current ``bind_state``::

    bind:    requested ──job started──▶ pending ──▶ bound | failed | timed_out (48 h)
    unbind:  unbind_requested ──▶ unbound | failed | timed_out

At most one request per meter is open (requested, pending, unbind_requested); a partial unique
constraint makes that hold even against a concurrent writer that skipped the row lock.
"""

from __future__ import annotations

import uuid

from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q

from utilitarian.fields import EncryptedTextField
from utilitarian.models import Organization, TimestampedModel


class Customer(TimestampedModel):
    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="powerbox_customers"
    )
    client_id = models.CharField("clientId", max_length=64, validators=[MinLengthValidator(1)])
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    #: Mirrored as the CIS sends it (A = active, C = closed, S = suspended, or the utility's own).
    acct_status = models.CharField("AcctStatus", max_length=8, validators=[MinLengthValidator(1)])

    class Meta:
        ordering = ["organization", "client_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "client_id"], name="powerbox_unique_client_per_org"
            )
        ]
        indexes = [models.Index(fields=["client_id"], name="powerbox_customer_client_idx")]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{self.client_id} ({name})" if name else self.client_id


class CustomerSite(TimestampedModel):
    """A premise (service address). ``customer`` is NULL once a sync has detached it."""

    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="powerbox_sites")
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="sites"
    )
    external_site_id = models.CharField("externalSiteId", max_length=64, validators=[MinLengthValidator(1)])
    is_primary = models.BooleanField(default=False)
    address1 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=50, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        ordering = ["organization", "external_site_id"]
        verbose_name = "customer site"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_site_id"], name="powerbox_unique_site_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_site_id} {self.address1}".strip()


class MeterType(models.TextChoices):
    ELECTRIC = "Electric", "Electric"
    GAS = "Gas", "Gas"


class BindState(models.TextChoices):
    UNBOUND = "unbound", "Unbound"
    REQUESTED = "requested", "Bind requested"
    PENDING = "pending", "Bind pending (pairing job running)"
    BOUND = "bound", "Bound"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    UNBIND_REQUESTED = "unbind_requested", "Unbind requested"


#: States in which a request is still waiting for its pairing job.
OPEN_STATES = (BindState.REQUESTED, BindState.PENDING, BindState.UNBIND_REQUESTED)


class CustomerMeter(TimestampedModel):
    """A CIS meter, tied to the MeterDevice that AMR reads. ``site`` is NULL once detached."""

    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="powerbox_meters")
    site = models.ForeignKey(
        CustomerSite, on_delete=models.SET_NULL, null=True, blank=True, related_name="meters"
    )
    meter_id = models.CharField("meterId", max_length=64, validators=[MinLengthValidator(1)])
    #: PROTECT: a meter device that PowerBox still knows cannot be deleted from under a binding.
    meter_device = models.OneToOneField(
        "meters.MeterDevice", on_delete=models.PROTECT, related_name="powerbox_meter"
    )
    meter_type = models.CharField(max_length=16, choices=MeterType.choices)
    unit_of_measure = models.CharField(max_length=16, blank=True, default="")
    is_ami = models.BooleanField("isAMI", default=True)
    rate_code = models.CharField(max_length=32, blank=True, default="")
    billing_cycle_id = models.IntegerField(null=True, blank=True)

    # --- HAN binding: the current state (history in BindRequest) ---
    bind_state = models.CharField(max_length=20, choices=BindState.choices, default=BindState.UNBOUND)
    #: The device bound, or being bound or unbound (normalized EUI-64, 16 upper-case hex digits).
    bound_mac_address = models.CharField(max_length=16, blank=True, default="")
    bind_state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization", "meter_id"]
        verbose_name = "customer meter"
        constraints = [
            models.UniqueConstraint(fields=["organization", "meter_id"], name="powerbox_unique_meter_per_org")
        ]

    def __str__(self) -> str:
        return self.meter_id


class BindAction(models.IntegerChoices):
    UNBIND = 0, "Unbind"
    BIND = 1, "Bind"


class BindRequest(models.Model):
    """One accepted bind or unbind call and what became of it."""

    tenant_path = "organization"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="powerbox_bind_requests"
    )
    meter = models.ForeignKey(CustomerMeter, on_delete=models.CASCADE, related_name="bind_requests")
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="bind_requests"
    )
    #: The clientId at request time (kept when the customer row goes).
    client_id = models.CharField(max_length=64)
    hem_profile_id = models.CharField(max_length=128)
    action = models.SmallIntegerField(choices=BindAction.choices)
    mac_address = models.CharField(max_length=16)
    #: The Zigbee install code is the secret the device joins with: encrypted at rest.
    install_code = EncryptedTextField(blank=True, default="")
    state = models.CharField(max_length=20, choices=BindState.choices)
    #: Why it failed, or what the meter answered.
    detail = models.TextField(blank=True, default="")
    #: The AMR job that runs the pairing (amr.AmrJob id), once enqueued.
    amr_job_id = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = "bind request"
        constraints = [
            models.UniqueConstraint(
                fields=["meter"],
                condition=Q(state__in=[s.value for s in OPEN_STATES]),
                name="powerbox_one_open_request_per_meter",
            )
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="powerbox_bindreq_expiry_idx"),
            models.Index(fields=["meter", "-created_at"], name="powerbox_bindreq_meter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.mac_address} on {self.meter_id} [{self.state}]"

    def __repr__(self) -> str:  # never print the install code
        return f"<BindRequest {self.pk} {self.get_action_display()} meter={self.meter_id} state={self.state}>"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES
