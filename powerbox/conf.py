"""PowerBox settings: Django settings first, then the environment, then a default.

Read at use time (not import time) so tests can override them with the ``settings`` fixture.
The bearer-token settings (``POWERBOX_JWKS_URL``, ``POWERBOX_ISSUER``, ``POWERBOX_AUDIENCE``,
``POWERBOX_JWT_ALGORITHMS``, ``POWERBOX_JWKS_CACHE_SECONDS`` …) are read by the shared
``utilitarian.bearer`` class under the ``POWERBOX`` prefix; they are listed here for reference.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # Bearer JWT (utilitarian/bearer.py reads these itself).
    "POWERBOX_JWKS_URL": "",
    "POWERBOX_ISSUER": "",
    "POWERBOX_AUDIENCE": "",
    # The claim of the customer's token that holds its CIS clientId.
    "POWERBOX_CUSTOMER_CLAIM": "sub",
    # Restrict PowerBox to one organization's customers (uuid); empty: every organization.
    "POWERBOX_ORGANIZATION": "",
    # AcctStatus codes answered with 403 (comma-separated or a list).
    "POWERBOX_LOCKED_STATUSES": "C,S",
    # A bind or unbind request that has not finished after this many hours times out.
    "POWERBOX_BIND_TIMEOUT_HOURS": 48,
    # The AMR execution environment of every pairing job (empty: chosen by the meter's protocol).
    "POWERBOX_EXECUTION_TYPE": "",
    # The environment for meters whose protocol has no known HAN environment.
    "POWERBOX_DEFAULT_EXECUTION_TYPE": "generic_dlms",
}


def get(name: str) -> Any:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        value = DEFAULTS[name]
    return value


def get_optional(name: str) -> Any:
    value = get(name)
    return value or None


def customer_claim() -> str:
    return str(get("POWERBOX_CUSTOMER_CLAIM")).strip() or "sub"


def locked_statuses() -> frozenset[str]:
    raw = get("POWERBOX_LOCKED_STATUSES")
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return frozenset(str(item).strip().upper() for item in items if str(item).strip())


def organization_id() -> uuid.UUID | None:
    raw = get("POWERBOX_ORGANIZATION")
    if not raw:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"POWERBOX_ORGANIZATION must be an organization uuid, not {raw!r}"
        ) from exc


def bind_timeout() -> timedelta:
    return timedelta(hours=float(get("POWERBOX_BIND_TIMEOUT_HOURS")))


def default_execution_type() -> str:
    return str(get("POWERBOX_DEFAULT_EXECUTION_TYPE"))
