"""PowerBox business operations, shared by the public API, the staff API, the admin, the
``import_cis`` command and the tasks.

* CIS sync (:func:`customer_sync`, :func:`customers_sync`): upsert a customer with its whole
  current state; sites and meters it no longer lists are detached, never deleted.
* The customer answer (:func:`customer_for_client_id`, :func:`customer_response`).
* Binding (:func:`bind_request_submit`, then :func:`bind_request_started` /
  :func:`bind_request_finished` as the AMR pairing job runs, :func:`bind_requests_expire` for the
  48 h timeout). The meter row is locked (``SELECT … FOR UPDATE``) while a request is decided, so
  two concurrent calls for one meter are decided one after the other; the partial unique
  constraint on open requests backs that up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from meters.models import MeterDevice
from utilitarian.models import Organization

from . import conf
from .exceptions import AccountLocked, BindConflict, UnknownCustomer, UnknownMeter
from .models import (
    OPEN_STATES,
    BindAction,
    BindRequest,
    BindState,
    Customer,
    CustomerMeter,
    CustomerSite,
)

logger = logging.getLogger(__name__)

#: An open request still without a pairing job this long after it was accepted is re-dispatched.
UNDISPATCHED_GRACE = timedelta(minutes=1)

CUSTOMER_FIELDS = ("first_name", "last_name", "acct_status")
SITE_FIELDS = ("is_primary", "address1", "city", "state", "postal_code")
METER_FIELDS = ("meter_type", "unit_of_measure", "is_ami", "rate_code", "billing_cycle_id")


# --- CIS sync --------------------------------------------------------------------------------


@dataclass
class SyncResult:
    customer: Customer
    created: bool
    sites_detached: int = 0
    meters_detached: int = 0


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    sites_detached: int = 0
    meters_detached: int = 0
    results: list[SyncResult] = field(default_factory=list)

    def add(self, result: SyncResult) -> None:
        self.results.append(result)
        if result.created:
            self.created += 1
        else:
            self.updated += 1
        self.sites_detached += result.sites_detached
        self.meters_detached += result.meters_detached


def _assign(instance: Any, values: Mapping[str, Any], names: Iterable[str]) -> bool:
    changed = False
    for name in names:
        if name in values and getattr(instance, name) != values[name]:
            setattr(instance, name, values[name])
            changed = True
    return changed


def meter_devices_by_name(*, organization: Organization, names: Iterable[str]) -> dict[str, MeterDevice]:
    """The organization's meter devices named in ``names`` (a CIS meterId is a device's name)."""
    wanted = set(names)
    if not wanted:
        return {}
    return {d.name: d for d in MeterDevice.objects.filter(organization=organization, name__in=wanted)}


@transaction.atomic
def customer_sync(
    *,
    organization: Organization,
    client_id: str,
    sites: Sequence[Mapping[str, Any]],
    **values: Any,
) -> SyncResult:
    """Make the stored customer equal to what the CIS sent (``values``: first_name, last_name,
    acct_status; ``sites``: dicts of the site fields with ``external_site_id`` and ``meters``)."""
    customer = (
        Customer.objects.select_for_update().filter(organization=organization, client_id=client_id).first()
    )
    created = customer is None
    if created:
        customer = Customer(organization=organization, client_id=client_id)
        _assign(customer, values, CUSTOMER_FIELDS)
        customer.full_clean(validate_unique=False, validate_constraints=False)
        customer.save()
    elif _assign(customer, values, CUSTOMER_FIELDS):
        customer.full_clean(validate_unique=False, validate_constraints=False)
        customer.save()

    meter_names = [m["meter_id"] for site in sites for m in site.get("meters", ())]
    devices = meter_devices_by_name(organization=organization, names=meter_names)
    missing = sorted(set(meter_names) - set(devices))
    if missing:
        raise ValidationError(
            {"meterId": [f"no meter device named {name!r} in the organization" for name in missing]}
        )

    result = SyncResult(customer=customer, created=created)
    kept_sites: list[uuid.UUID] = []
    for site_values in sites:
        site = (
            CustomerSite.objects.select_for_update()
            .filter(organization=organization, external_site_id=site_values["external_site_id"])
            .first()
        )
        if site is None:
            site = CustomerSite(organization=organization, external_site_id=site_values["external_site_id"])
        changed = _assign(site, site_values, SITE_FIELDS)
        if site.customer_id != customer.pk:
            site.customer = customer
            changed = True
        if changed or site._state.adding:
            site.save()
        kept_sites.append(site.pk)

        kept_meters: list[uuid.UUID] = []
        for meter_values in site_values.get("meters", ()):
            meter = _meter_sync(
                organization=organization,
                site=site,
                device=devices[meter_values["meter_id"]],
                values=meter_values,
            )
            kept_meters.append(meter.pk)
        result.meters_detached += (
            CustomerMeter.objects.filter(site=site)
            .exclude(pk__in=kept_meters)
            .update(site=None, updated_at=timezone.now())
        )
    result.sites_detached = (
        CustomerSite.objects.filter(customer=customer)
        .exclude(pk__in=kept_sites)
        .update(customer=None, updated_at=timezone.now())
    )
    return result


def _meter_sync(
    *, organization: Organization, site: CustomerSite, device: MeterDevice, values: Mapping[str, Any]
) -> CustomerMeter:
    meter = (
        CustomerMeter.objects.select_for_update()
        .filter(organization=organization, meter_id=values["meter_id"])
        .first()
    )
    holder = CustomerMeter.objects.filter(meter_device=device).exclude(meter_id=values["meter_id"]).first()
    if holder is not None:
        raise ValidationError(
            {"meterId": [f"meter device {device.name!r} is already PowerBox meter {holder.meter_id!r}"]}
        )
    if meter is None:
        meter = CustomerMeter(organization=organization, meter_id=values["meter_id"])
    changed = _assign(meter, values, METER_FIELDS)
    if meter.site_id != site.pk:
        meter.site = site
        changed = True
    if meter.meter_device_id != device.pk:
        meter.meter_device = device
        changed = True
    if changed or meter._state.adding:
        meter.save()
    return meter


@transaction.atomic
def customers_sync(*, items: Sequence[Mapping[str, Any]]) -> SyncSummary:
    """Several customers in one transaction (all or nothing), locked in a stable order so two
    concurrent bulk syncs cannot deadlock. Each item holds ``organization`` and the fields of
    :func:`customer_sync`."""
    summary = SyncSummary()
    order = sorted(range(len(items)), key=lambda i: (str(items[i]["organization"].pk), items[i]["client_id"]))
    results: dict[int, SyncResult] = {}
    for index in order:
        results[index] = customer_sync(**items[index])
    for index in range(len(items)):
        summary.add(results[index])
    return summary


# --- The customer's answer -------------------------------------------------------------------


def customer_for_client_id(client_id: str) -> Customer:
    """The customer a token names, within ``POWERBOX_ORGANIZATION`` when it is set.

    Without that setting a clientId that two organizations share is ambiguous: refused as
    unknown (and logged) rather than answered with the wrong utility's customer."""
    queryset = Customer.objects.filter(client_id=client_id, organization__is_active=True)
    organization_id = conf.organization_id()
    if organization_id is not None:
        queryset = queryset.filter(organization_id=organization_id)
    found = list(queryset[:2])
    if len(found) > 1:
        logger.warning(
            "powerbox: clientId %r exists in several organizations; set POWERBOX_ORGANIZATION", client_id
        )
    if len(found) != 1:
        raise UnknownCustomer(f"no customer {client_id!r}")
    return found[0]


def customer_check_not_locked(customer: Customer) -> None:
    if customer.acct_status.strip().upper() in conf.locked_statuses():
        raise AccountLocked(f"account {customer.client_id} has status {customer.acct_status}")


def customer_active_for_client_id(client_id: str) -> Customer:
    customer = customer_for_client_id(client_id)
    customer_check_not_locked(customer)
    return customer


def customer_response(customer: Customer) -> dict[str, Any]:
    """The ``CustomerResponse`` of the PowerBox contract: attached sites (primary first, then by
    externalSiteId) with their attached meters (by meterId). Nothing in it depends on when it is
    asked, so the same stored state always gives the same bytes."""
    sites = list(customer.sites.order_by("-is_primary", "external_site_id").prefetch_related("meters"))
    return {
        "clientId": customer.client_id,
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "AcctStatus": customer.acct_status,
        "customerSites": [
            {
                "externalSiteId": site.external_site_id,
                "isPrimary": site.is_primary,
                "address1": site.address1,
                "city": site.city,
                "state": site.state,
                "postalCode": site.postal_code,
                "meters": [
                    {
                        "meterId": meter.meter_id,
                        "meterType": meter.meter_type,
                        "unitOfMeasure": meter.unit_of_measure,
                        "isAMI": meter.is_ami,
                        "rateCode": meter.rate_code,
                        "billingCycleId": meter.billing_cycle_id,
                    }
                    for meter in sorted(site.meters.all(), key=lambda m: m.meter_id)
                ],
            }
            for site in sites
        ],
    }


# --- Binding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BindOutcome:
    """What a bind call did: ``request`` is the new request, None when nothing had to happen
    (already bound to that device, or the same request is already under way)."""

    meter: CustomerMeter
    request: BindRequest | None

    @property
    def created(self) -> bool:
        return self.request is not None


def _set_meter_state(meter: CustomerMeter, state: str, now: datetime, mac: str | None = None) -> None:
    meter.bind_state = state
    if mac is not None:
        meter.bound_mac_address = mac
    meter.bind_state_changed_at = now
    meter.save(update_fields=["bind_state", "bound_mac_address", "bind_state_changed_at", "updated_at"])


def bind_request_submit(
    *,
    customer: Customer,
    meter_id: str,
    hem_profile_id: str,
    mac_address: str,
    install_code: str,
    action: int,
    now: datetime | None = None,
) -> BindOutcome:
    """Decide a bind (action 1) or unbind (action 0) call for one of ``customer``'s meters.

    ``mac_address`` and ``install_code`` are already normalized (see powerbox.han). Raises
    UnknownMeter (not this customer's attached meter), BindConflict (the meter's state forbids
    it). A new request's pairing job is enqueued when the transaction commits."""
    now = now or timezone.now()
    with transaction.atomic():
        meter = (
            CustomerMeter.objects.select_for_update(of=("self",))
            .select_related("meter_device")
            .filter(
                organization_id=customer.organization_id,
                meter_id=meter_id,
                site__customer=customer,
            )
            .first()
        )
        if meter is None:
            raise UnknownMeter(f"customer {customer.client_id} has no meter {meter_id!r}")
        state, bound_mac = meter.bind_state, meter.bound_mac_address
        same_device = bound_mac == mac_address

        if action == BindAction.BIND:
            if not meter.is_ami:
                raise BindConflict(f"meter {meter_id} is not an AMI meter: it has no HAN radio")
            if state in (BindState.BOUND, BindState.REQUESTED, BindState.PENDING) and same_device:
                return BindOutcome(meter=meter, request=None)
            if state in (BindState.BOUND, BindState.REQUESTED, BindState.PENDING, BindState.UNBIND_REQUESTED):
                raise BindConflict(f"meter {meter_id} is {state} with another device or being unbound")
            new_state = BindState.REQUESTED
        else:
            if state in (BindState.REQUESTED, BindState.PENDING):
                raise BindConflict(f"meter {meter_id} has a bind under way; retry when it finishes")
            if state in (BindState.BOUND, BindState.UNBIND_REQUESTED) and not same_device:
                raise BindConflict(f"device {mac_address} is not the device bound to meter {meter_id}")
            if state == BindState.UNBIND_REQUESTED:
                return BindOutcome(meter=meter, request=None)
            if not (state == BindState.BOUND or same_device):
                return BindOutcome(meter=meter, request=None)  # that device is not paired: nothing to do
            # bound, or a failed or timed-out bind of this device that may have left it half-joined
            new_state = BindState.UNBIND_REQUESTED

        request = BindRequest.objects.create(
            organization_id=customer.organization_id,
            meter=meter,
            customer=customer,
            client_id=customer.client_id,
            hem_profile_id=hem_profile_id,
            action=action,
            mac_address=mac_address,
            install_code=install_code if action == BindAction.BIND else "",
            state=new_state,
            created_at=now,
            updated_at=now,
            expires_at=now + conf.bind_timeout(),
        )
        _set_meter_state(meter, new_state, now, mac=mac_address)
        request_id = request.pk
        transaction.on_commit(lambda: _dispatch_after_commit(request_id))
    return BindOutcome(meter=meter, request=request)


def _dispatch_after_commit(bind_request_id: uuid.UUID) -> None:
    """The request is committed whatever happens here; a dispatch that fails (database or broker
    trouble) is retried by :func:`bind_requests_reconcile`, so the caller still gets its 200."""
    try:
        bind_request_dispatch(bind_request_id=bind_request_id)
    except Exception:
        logger.exception(
            "powerbox: dispatching bind request %s failed; the reconciler retries it", bind_request_id
        )


def bind_request_dispatch(*, bind_request_id: uuid.UUID) -> BindRequest:
    """Enqueue the AMR pairing job of an open request (runs after the request is committed)."""
    from . import pairing

    request = BindRequest.objects.select_related("meter__meter_device").get(pk=bind_request_id)
    if not request.is_open or request.amr_job_id is not None:
        return request
    try:
        job_id = pairing.enqueue(request)
    except pairing.PairingRefused as exc:
        logger.warning("powerbox: pairing job for %r refused: %s", request, exc)
        return bind_request_finished(bind_request_id=request.pk, succeeded=False, detail=str(exc))
    BindRequest.objects.filter(pk=request.pk, amr_job_id__isnull=True).update(
        amr_job_id=job_id, updated_at=timezone.now()
    )
    request.amr_job_id = job_id
    return request


def _locked_request(bind_request_id: uuid.UUID) -> tuple[BindRequest, CustomerMeter]:
    request = BindRequest.objects.select_for_update().get(pk=bind_request_id)
    meter = CustomerMeter.objects.select_for_update().get(pk=request.meter_id)
    return request, meter


def _is_meters_current_request(request: BindRequest, meter: CustomerMeter) -> bool:
    latest = (
        BindRequest.objects.filter(meter=meter).order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    return latest.first() == request.pk


@transaction.atomic
def bind_request_started(*, bind_request_id: uuid.UUID, now: datetime | None = None) -> BindRequest:
    """The pairing job started: a bind request goes from requested to pending."""
    now = now or timezone.now()
    request, meter = _locked_request(bind_request_id)
    if request.state != BindState.REQUESTED:
        return request  # a retry, an unbind (it has no pending step), or already decided
    request.state = BindState.PENDING
    request.started_at = request.started_at or now
    request.updated_at = now
    request.save(update_fields=["state", "started_at", "updated_at"])
    if _is_meters_current_request(request, meter):
        _set_meter_state(meter, BindState.PENDING, now)
    return request


@transaction.atomic
def bind_request_finished(
    *, bind_request_id: uuid.UUID, succeeded: bool, detail: str = "", now: datetime | None = None
) -> BindRequest:
    """The pairing job ended. Bind: bound or failed. Unbind: unbound, or failed with the meter
    still bound (the device was never told to leave). A request already decided (timed out)
    keeps its state; the late outcome is only noted."""
    now = now or timezone.now()
    request, meter = _locked_request(bind_request_id)
    if not request.is_open:
        note = f"late pairing outcome ignored: {'succeeded' if succeeded else 'failed'} {detail}".strip()
        if note not in request.detail:
            logger.info("powerbox: %r: %s", request, note)
            request.detail = f"{request.detail}\n{note}".strip()
            request.updated_at = now
            request.save(update_fields=["detail", "updated_at"])
        return request
    bind = request.action == BindAction.BIND
    if succeeded:
        request.state = BindState.BOUND if bind else BindState.UNBOUND
        meter_state, meter_mac = request.state, (request.mac_address if bind else "")
    else:
        request.state = BindState.FAILED
        meter_state = BindState.FAILED if bind else BindState.BOUND
        meter_mac = request.mac_address
    request.detail = detail[:2000]
    request.started_at = request.started_at or now
    request.finished_at = now
    request.updated_at = now
    request.install_code = ""  # the join secret is no longer needed once the join is decided
    request.save(update_fields=["state", "detail", "started_at", "finished_at", "updated_at", "install_code"])
    if _is_meters_current_request(request, meter):
        _set_meter_state(meter, meter_state, now, mac=meter_mac)
    return request


def amr_job_changed(*, job_id: uuid.UUID | str) -> BindRequest | None:
    """The hook for AMR: call it after a job's state changes (or forward a signal to it).

    Advances the bind request of job ``job_id``, if it is a pairing job, to match the job; for
    any other job it costs one indexed lookup. Safe to call any number of times."""
    from amr.models import AmrJob

    request = BindRequest.objects.filter(amr_job_id=job_id).only("pk", "state").first()
    if request is None or request.state not in (*OPEN_STATES, BindState.TIMED_OUT):
        return request
    job = AmrJob.objects.filter(pk=job_id).first()
    if job is None:
        return bind_request_finished(
            bind_request_id=request.pk, succeeded=False, detail="the pairing job was deleted"
        )
    return bind_request_follow_job(bind_request_id=request.pk, job=job)


def bind_request_follow_job(
    *, bind_request_id: uuid.UUID, job: Any, now: datetime | None = None
) -> BindRequest:
    """Advance a request to match its AMR job (``powerbox.pairing.job_status``)."""
    from .pairing import job_status

    status, detail = job_status(job)
    if status == "started":
        return bind_request_started(bind_request_id=bind_request_id, now=now)
    if status in ("succeeded", "failed"):
        return bind_request_finished(
            bind_request_id=bind_request_id, succeeded=status == "succeeded", detail=detail, now=now
        )
    return BindRequest.objects.get(pk=bind_request_id)


def bind_requests_reconcile(*, now: datetime | None = None) -> int:
    """Catch up every open request with its AMR job's state; the number of requests changed."""
    from amr.models import AmrJob, JobState

    now = now or timezone.now()
    changed = 0
    undispatched = BindRequest.objects.filter(
        state__in=OPEN_STATES, amr_job_id__isnull=True, created_at__lte=now - UNDISPATCHED_GRACE
    ).values_list("pk", flat=True)
    for pk in list(undispatched):
        _dispatch_after_commit(pk)
        changed += 1
    open_requests = dict(
        BindRequest.objects.filter(state__in=OPEN_STATES, amr_job_id__isnull=False).values_list(
            "amr_job_id", "pk"
        )
    )
    if not open_requests:
        return changed
    jobs = AmrJob.objects.filter(pk__in=list(open_requests)).exclude(state=JobState.QUEUED)
    for job in jobs:
        before = BindRequest.objects.filter(pk=open_requests[job.pk]).values_list("state", flat=True).first()
        after = bind_request_follow_job(bind_request_id=open_requests[job.pk], job=job, now=now).state
        changed += before != after
    missing = set(open_requests) - set(
        AmrJob.objects.filter(pk__in=list(open_requests)).values_list("pk", flat=True)
    )
    for job_id in missing:
        bind_request_finished(
            bind_request_id=open_requests[job_id],
            succeeded=False,
            detail="the pairing job was deleted",
            now=now,
        )
        changed += 1
    return changed


def bind_requests_expire(*, now: datetime | None = None) -> int:
    """Time out every open request older than ``POWERBOX_BIND_TIMEOUT_HOURS`` (48 h). A timed-out
    unbind leaves the meter bound: the device may well still be joined."""
    now = now or timezone.now()
    expired = 0
    due = list(
        BindRequest.objects.filter(state__in=OPEN_STATES, expires_at__lte=now).values_list("pk", flat=True)
    )
    for pk in due:
        with transaction.atomic():
            request, meter = _locked_request(pk)
            if not request.is_open or request.expires_at > now:
                continue
            bind = request.action == BindAction.BIND
            request.state = BindState.TIMED_OUT
            request.finished_at = now
            request.updated_at = now
            request.install_code = ""
            hours = conf.bind_timeout().total_seconds() / 3600
            request.detail = f"{request.detail}\nno pairing outcome within {hours:g} h".strip()
            request.save(update_fields=["state", "finished_at", "updated_at", "install_code", "detail"])
            if _is_meters_current_request(request, meter):
                _set_meter_state(meter, BindState.TIMED_OUT if bind else BindState.BOUND, now)
            expired += 1
    if expired:
        logger.info("powerbox: %d bind request(s) timed out", expired)
    return expired


def bind_request_for_job(job_id: uuid.UUID) -> BindRequest | None:
    return BindRequest.objects.filter(amr_job_id=job_id).first()


__all__ = [
    "amr_job_changed",
    "BindOutcome",
    "SyncResult",
    "SyncSummary",
    "bind_request_dispatch",
    "bind_request_finished",
    "bind_request_started",
    "bind_request_submit",
    "bind_requests_expire",
    "customer_active_for_client_id",
    "customer_check_not_locked",
    "customer_for_client_id",
    "customer_response",
    "customer_sync",
    "customers_sync",
]
