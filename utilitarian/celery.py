"""The Celery app and the queue names, declared once.

Queues are split by kind so that workers can be scaled per queue family (a worker for scheduled
quarterly reads on one machine, one for on-demand reads elsewhere). Tasks are routed by name
prefix in ``task_routes``; scheduled AMR jobs pick their queue per schedule at enqueue time.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "utilitarian.settings")

SCHEDULES = ("quarterly", "hourly", "daily", "weekly", "monthly", "yearly")

QUEUE_DEFAULT = "utilitarian.tasks.default"
QUEUE_AMR = "utilitarian.tasks.amr"
QUEUE_AMR_ON_DEMAND = "utilitarian.tasks.amr.on_demand"
QUEUE_COMMIT_READINGS = "utilitarian.tasks.commits.meter_readings"
QUEUE_COMMIT_EVENTS = "utilitarian.tasks.commits.meter_system_events"
QUEUE_EXTERNAL_PUBLISH = "utilitarian.tasks.external.publish"
QUEUE_CLEANUP = "utilitarian.tasks.cleanup"


def scheduled_queue(schedule: str) -> str:
    """Queue of scheduled AMR jobs for one schedule, e.g. ``utilitarian.tasks.amr.scheduled.daily``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}")
    return f"{QUEUE_AMR}.scheduled.{schedule}"


ALL_QUEUES = (
    QUEUE_DEFAULT,
    QUEUE_AMR,
    *(scheduled_queue(s) for s in SCHEDULES),
    QUEUE_AMR_ON_DEMAND,
    QUEUE_COMMIT_READINGS,
    QUEUE_COMMIT_EVENTS,
    QUEUE_EXTERNAL_PUBLISH,
    QUEUE_CLEANUP,
)

app = Celery("utilitarian")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = QUEUE_DEFAULT
app.conf.task_queues = [Queue(name, routing_key=name) for name in ALL_QUEUES]
app.conf.task_routes = {
    "amr.tick": {"queue": QUEUE_AMR},
    "amr.run_on_demand_job": {"queue": QUEUE_AMR_ON_DEMAND},
    "meters.commit_readings": {"queue": QUEUE_COMMIT_READINGS},
    "meters.commit_events": {"queue": QUEUE_COMMIT_EVENTS},
    "gateway.*": {"queue": QUEUE_EXTERNAL_PUBLISH},
    "*.cleanup*": {"queue": QUEUE_CLEANUP},
    "meters.apply_retention": {"queue": QUEUE_CLEANUP},
    "push.apply_retention": {"queue": QUEUE_CLEANUP},
    "push.*": {"queue": QUEUE_COMMIT_READINGS},
    "powerbox.expire_bind_requests": {"queue": QUEUE_CLEANUP},
}

# The one beat process (`celery -A utilitarian beat`) runs these.
app.conf.beat_schedule = {
    # Readings, events and staged readings past their retention (meters/tasks.py), 03:15 UTC.
    "meters.apply_retention": {"task": "meters.apply_retention", "schedule": crontab(hour=3, minute=15)},
    # Settled push frames past PUSH_FRAME_RETENTION_DAYS (push/tasks.py), 03:45 UTC.
    "push.apply_retention": {
        "task": "push.apply_retention",
        "schedule": crontab(hour=3, minute=45),
        "options": {"queue": QUEUE_CLEANUP},
    },
    # AMR tick at the start of every minute: a job is sent at most a minute after it is due,
    # never before (amr/tasks.py). Blocks whose lease lapsed are released every minute.
    "amr-tick": {"task": "amr.tick", "schedule": crontab(), "options": {"queue": QUEUE_AMR, "expires": 55}},
    "amr-cleanup-expired-blocks": {
        "task": "amr.cleanup_expired_blocks",
        "schedule": 60.0,
        "options": {"queue": QUEUE_CLEANUP, "expires": 55},
    },
    # PowerBox: follow pairing jobs whose outcome was missed, re-dispatch, time out after 48 h.
    "powerbox.expire_bind_requests": {
        "task": "powerbox.expire_bind_requests",
        "schedule": 60.0,
        "options": {"queue": QUEUE_CLEANUP, "expires": 55},
    },
}
app.autodiscover_tasks()
