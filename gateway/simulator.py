"""An EAC stand-in: consumes the request queue and reports progress on the status queue.

For the demo and the end-to-end tests. Per install request and ESN it reports ``received``,
``downloading``, ``installed`` and ``licensed``; per uninstall ``received`` and
``uninstalled``; an ESN starting with ``FAIL`` gets ``received`` then ``failed`` with a reason.
Messages carry the gateway's Itron properties (``Itron-Status-Code`` 202 for received, 200 for
progress, 500 for failure) and a JSON body; with ``compress`` the bodies are gzipped and flagged
``IsCompressed``, as the real EAC may do.

Its message ids derive from the request message id, the ESN and the step, so a request that is
redelivered (the simulator died before completing it) produces the same ids again and the
gateway's consumer drops the repeats.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
import uuid
from datetime import UTC, datetime

from . import conf
from .eac import (
    PROPERTY_COMPRESSED,
    PROPERTY_CORRELATION,
    PROPERTY_STATUS_CODE,
    PROPERTY_TENANT,
    PROPERTY_URI,
    PROPERTY_VERB,
    truthy,
)
from .transports import OutgoingMessage, ReceivedMessage, Transport, TransportError

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("0d7f1c52-3b0e-4a8e-8c55-7f2b9e1d4c60")
INSTALL_STEPS = ("received", "downloading", "installed", "licensed")
UNINSTALL_STEPS = ("received", "uninstalled")
FAIL_PREFIX = "FAIL"


def progress_messages(request: ReceivedMessage, *, compress: bool = False) -> list[list[OutgoingMessage]]:
    """The status messages for one request message, grouped by step (each group sent together)."""
    raw = request.body or b""
    if truthy(request.properties.get(PROPERTY_COMPRESSED)):
        raw = gzip.decompress(raw)
    body = json.loads(raw.decode("utf-8") or "{}")
    steps = UNINSTALL_STEPS if body.get("requestType") == "uninstall" else INSTALL_STEPS
    correlation = body.get("correlationId") or request.correlation_id or ""
    tenant = body.get("tenantId") or request.properties.get(PROPERTY_TENANT, "")
    groups: list[list[OutgoingMessage]] = []
    for index, step in enumerate(steps):
        group = []
        for esn in body.get("esnList") or []:
            failing = str(esn).upper().startswith(FAIL_PREFIX)
            if failing and index > 1:
                continue
            status = "failed" if failing and index == 1 else step
            payload = {
                "correlationId": correlation,
                "tenantId": tenant,
                "esn": esn,
                "status": status,
                "applicationId": body.get("applicationId"),
                "applicationVersion": body.get("applicationVersion") or "1.0.0",
                "timestamp": datetime.now(UTC).isoformat(),
            }
            if status == "failed":
                payload["reason"] = "device did not answer the download (simulated)"
            if status == "licensed":
                payload["licenseSet"] = body.get("licenseSet") or str(uuid.uuid5(_NAMESPACE, str(tenant)))
            data = json.dumps(payload).encode("utf-8")
            group.append(
                OutgoingMessage(
                    body=gzip.compress(data) if compress else data,
                    message_id=str(uuid.uuid5(_NAMESPACE, f"{request.message_id}|{esn}|{step}")),
                    correlation_id=correlation,
                    properties={
                        PROPERTY_TENANT: tenant,
                        PROPERTY_CORRELATION: correlation,
                        PROPERTY_COMPRESSED: compress,
                        PROPERTY_STATUS_CODE: "202" if step == "received" else ("500" if failing else "200"),
                        PROPERTY_VERB: request.properties.get(PROPERTY_VERB, "Post"),
                        PROPERTY_URI: request.properties.get(PROPERTY_URI, ""),
                    },
                )
            )
        if group:
            groups.append(group)
    return groups


def simulate_once(
    *,
    transport: Transport,
    max_messages: int = 10,
    timeout: float = 1.0,
    step_delay: float = 0.0,
    compress: bool = False,
) -> int:
    """Handle the requests waiting on the request queue; returns how many were handled."""
    handled = 0
    for request in transport.receive(conf.request_queue(), max_messages=max_messages, timeout=timeout):
        try:
            groups = progress_messages(request, compress=compress)
        except (ValueError, OSError) as exc:
            transport.dead_letter(request, f"simulator cannot read the request: {exc}")
            continue
        for index, group in enumerate(groups):
            if index and step_delay:
                time.sleep(step_delay)
            transport.send(conf.status_queue(), group)
        transport.complete(request)
        handled += 1
    return handled


def run_simulator(
    *,
    transport: Transport,
    max_seconds: float | None = None,
    stop=None,
    step_delay: float = 0.0,
    compress: bool = False,
    retry_seconds: float = 1.0,
) -> int:
    handled = 0
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while not (stop and stop()) and (deadline is None or time.monotonic() < deadline):
        try:
            handled += simulate_once(transport=transport, step_delay=step_delay, compress=compress)
        except TransportError as exc:
            log.warning("EAC simulator: %s", exc)
            transport.close()
            time.sleep(retry_seconds)
    return handled
