"""``/_health/``: is the database reachable, is the broker reachable.

Load balancers and operators poll it; it answers 503 with the failing part named when either is
down, and never raises. The broker probe is bounded by a short timeout so a dead broker cannot
hang the endpoint.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpRequest, JsonResponse

log = logging.getLogger(__name__)


def check_database() -> tuple[bool, str]:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:  # any driver error means "down"; the reason is reported
        return False, f"{type(exc).__name__}: {exc}".strip()[:300]


def check_broker() -> tuple[bool, str]:
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    try:
        with Connection(
            url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS, connect_timeout=2
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}".strip()[:300]


def health(request: HttpRequest) -> JsonResponse:
    if settings.HEALTHCHECK_DISABLED:
        raise Http404
    db_ok, db_detail = check_database()
    broker_ok, broker_detail = check_broker()
    ok = db_ok and broker_ok
    body = {
        "status": "ok" if ok else "unavailable",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    if not ok:
        log.warning("health check failed", extra={"health": body})
    return JsonResponse(body, status=200 if ok else 503)
