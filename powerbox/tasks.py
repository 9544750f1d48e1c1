"""Celery tasks of PowerBox: thin wrappers around powerbox.services.

* ``powerbox.expire_bind_requests`` (beat, every minute; queue ``utilitarian.tasks.cleanup``):
  first catch up open bind requests with their AMR jobs (so an outcome that no hook reported is
  not lost, and a job that finished just before the deadline still counts), then time out the
  requests older than ``POWERBOX_BIND_TIMEOUT_HOURS`` (48).
* ``powerbox.dispatch_bind_request``: enqueue the AMR pairing job of one request (used to retry
  a dispatch that failed after the request was committed, e.g. the broker was down).
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="powerbox.expire_bind_requests", ignore_result=True)
def expire_bind_requests() -> dict:
    reconciled = services.bind_requests_reconcile()
    expired = services.bind_requests_expire()
    return {"reconciled": reconciled, "expired": expired}


@shared_task(name="powerbox.dispatch_bind_request", ignore_result=True)
def dispatch_bind_request(bind_request_id: str) -> str:
    return services.bind_request_dispatch(bind_request_id=bind_request_id).state
