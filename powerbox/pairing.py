"""The one place that knows how PowerBox pairs a device through AMR.

A bind request becomes an on-demand AMR job on the meter device (``amr.services.job_invoke``)
with the call ``han_bind(mac_address, install_code)`` or ``han_unbind(mac_address)`` of the
meter's execution environment, so pairing shares AMR's queue, network-interface blocking,
retries and job history with every other call to that meter.

The outcome flows back two ways, and both are safe to repeat:

* :func:`powerbox.services.amr_job_changed` is the hook for AMR to call when a job changes
  state (or a signal receiver to forward); it advances the request at once.
* :func:`powerbox.services.bind_requests_reconcile`, run by the periodic
  ``powerbox.expire_bind_requests`` task, reads the state of the open requests' jobs, so an
  outcome is never lost when no hook fires (a worker killed between two updates, an older AMR).

Which environment: ``POWERBOX_EXECUTION_TYPE`` when set, else the one that speaks the meter's
protocol (DLMS/COSEM meters: ``generic_dlms``), else ``POWERBOX_DEFAULT_EXECUTION_TYPE``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from . import conf
from .models import BindAction, BindRequest

BIND_CALL = "han_bind"
UNBIND_CALL = "han_unbind"
PAIRING_CALLS = (BIND_CALL, UNBIND_CALL)

#: Environments that can reach a meter's HAN radio, by the meter's protocol.
PROTOCOL_ENVIRONMENTS = {"dlms-cosem": "generic_dlms"}


class PairingRefused(Exception):
    """AMR will not run the pairing call for this meter (no such call, bad arguments, …)."""


def execution_type_for(meter_device: Any) -> str:
    forced = conf.get_optional("POWERBOX_EXECUTION_TYPE")
    if forced:
        return str(forced)
    return PROTOCOL_ENVIRONMENTS.get(meter_device.protocol) or conf.default_execution_type()


def call_for(request: BindRequest) -> tuple[str, dict[str, str]]:
    if request.action == BindAction.BIND:
        return BIND_CALL, {"mac_address": request.mac_address, "install_code": request.install_code}
    return UNBIND_CALL, {"mac_address": request.mac_address}


def enqueue(request: BindRequest) -> uuid.UUID:
    """Create the AMR job of ``request`` (sent to the on-demand queue when the caller's
    transaction commits) and return its id; PairingRefused when AMR refuses the call."""
    from amr.environments.base import InvalidCall
    from amr.services import job_invoke

    meter_device = request.meter.meter_device
    task_call, task_kwargs = call_for(request)
    try:
        with transaction.atomic():
            job = job_invoke(
                meter_device=meter_device,
                meter_execution_type=execution_type_for(meter_device),
                task_call=task_call,
                task_kwargs=task_kwargs,
            )
    except InvalidCall as exc:
        raise PairingRefused(f"AMR refused {task_call}: {exc.message}") from exc
    return job.pk


def job_status(job: Any) -> tuple[str, str]:
    """(``started`` | ``succeeded`` | ``failed`` | ``queued``, detail) of an AMR job."""
    from amr.models import JobState

    if job.state == JobState.SUCCEEDED:
        info = job.info or {}
        return "succeeded", ", ".join(f"{k}={v}" for k, v in sorted(info.items()))[:500]
    if job.state == JobState.FAILED:
        return "failed", job.error or "the pairing job failed"
    if job.state in (JobState.RUNNING, JobState.RETRYING):
        return "started", job.error if job.state == JobState.RETRYING else ""
    return "queued", ""
