"""Celery task of the push app: settle frames left pending (after an outage, or when the receiver
runs with ``--no-processor``). Enqueue it on ``utilitarian.tasks.commits.meter_readings``:
``process_pending.apply_async(queue=QUEUE_COMMIT_READINGS)``. Spooled frames that never reached
the database can only be imported by a receiver on the spool's host."""

from __future__ import annotations

from celery import shared_task

from .services import push_frames_apply_retention, push_frames_process


@shared_task(name="push.process_pending")
def process_pending(limit: int = 500, rounds: int = 100) -> dict[str, int]:
    total = {"processed": 0, "rejected": 0, "readings": 0}
    for _ in range(rounds):
        summary = push_frames_process(limit=limit)
        if not summary.frames:
            break
        total["processed"] += summary.processed
        total["rejected"] += summary.rejected
        total["readings"] += summary.readings
    return total


@shared_task(name="push.apply_retention")
def apply_retention() -> int:
    """Daily, from the beat: settled frames past ``PUSH_FRAME_RETENTION_DAYS``."""
    return push_frames_apply_retention()
