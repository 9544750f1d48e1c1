"""Celery tasks of the meters app: thin wrappers over ``meters.services``.

``meters.apply_retention`` runs daily from the beat schedule (``utilitarian/celery.py``) on the
cleanup queue; ``meters.commit_readings`` / ``meters.commit_events`` let producers (push-meter
processors, AMR jobs) hand a batch to the commit queues instead of writing inline.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .services.readings import (
    events_ingest,
    promote_pending_staged_readings,
    readings_apply_retention,
    readings_ingest,
)


@shared_task(name="meters.apply_retention")
def apply_retention() -> dict[str, int]:
    promoted = promote_pending_staged_readings()
    summary = readings_apply_retention()
    return {**summary.__dict__, "promoted": promoted.saved}


@shared_task(name="meters.commit_readings")
def commit_readings(organization_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return readings_ingest(organization_id=organization_id, items=items).as_dict()


@shared_task(name="meters.commit_events")
def commit_events(organization_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return events_ingest(organization_id=organization_id, items=items).as_dict()
