"""Celery tasks of the AMR app: thin wrappers that load ids and call one service.

* ``amr.tick`` (beat, every minute, queue ``utilitarian.tasks.amr``): plan and enqueue due jobs.
* ``amr.run_job`` (queue ``utilitarian.tasks.amr.scheduled.<schedule>``, chosen at enqueue) and
  ``amr.run_on_demand_job`` (queue ``utilitarian.tasks.amr.on_demand``): one attempt of a job;
  a retryable failure re-sends the same task to the same queue after the backoff.
* ``amr.cleanup_expired_blocks`` (beat, queue ``utilitarian.tasks.cleanup``): clear network
  interface blocks whose lease lapsed (a worker killed mid-job).

The soft time limit (``AMR_JOB_SOFT_TIME_LIMIT_SECONDS``) stays below the block lease, so a job
never talks to a meter after its block could have been taken over.
"""

from __future__ import annotations

import socket

from celery import shared_task
from django.conf import settings

from utilitarian.logging import log_context

from . import services

SOFT_LIMIT = int(getattr(settings, "AMR_JOB_SOFT_TIME_LIMIT_SECONDS", 540))


@shared_task(name="amr.tick", ignore_result=True)
def tick() -> dict:
    result = services.schedule_tick()
    return {"planned": result.planned, "enqueued": result.enqueued}


def _run(task, job_id: str) -> str:
    worker = f"{socket.gethostname()}:{task.request.hostname or ''}:{task.request.id or ''}"
    # The Celery message id ties the job's log lines to the broker's and the worker's own.
    with log_context(correlation_id=task.request.correlation_id or task.request.id):
        outcome = services.job_run(job_id=job_id, worker=worker)
    if outcome.retry_in is not None:
        # Same task, same queue (retry keeps the delivery info); not counted against Celery's
        # own max_retries: the job row counts attempts and decides when to stop.
        raise task.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.state


@shared_task(
    bind=True,
    name="amr.run_job",
    ignore_result=True,
    soft_time_limit=SOFT_LIMIT,
    time_limit=SOFT_LIMIT + 30,
)
def run_job(self, job_id: str) -> str:
    return _run(self, job_id)


@shared_task(
    bind=True,
    name="amr.run_on_demand_job",
    ignore_result=True,
    soft_time_limit=SOFT_LIMIT,
    time_limit=SOFT_LIMIT + 30,
)
def run_on_demand_job(self, job_id: str) -> str:
    return _run(self, job_id)


@shared_task(name="amr.cleanup_expired_blocks", ignore_result=True)
def cleanup_expired_blocks() -> int:
    return services.blocks_release_expired()
