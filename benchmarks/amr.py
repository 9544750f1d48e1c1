"""AMR at scale: the tick's fan-out against the raw Celery enqueue rate, and end-to-end jobs/s.

``DATABASE_URL=postgres://.../bench_amr CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \
python -m benchmarks.amr --meters 100000 --jobs 1000 [--concurrency 8] [--json]``

Runs against the PostgreSQL of ``DATABASE_URL`` and the broker of ``CELERY_BROKER_URL`` (use your
own database and Redis DB number: it migrates the database, keeps the benchmark meters for the next
run and purges the queues it uses). One run:

1. ``raw_enqueue``: ``apply_async`` of ``--meters`` messages (a task id as the only argument, like
   ``amr.run_job``) over one producer to a scratch queue: what Celery + the broker can take.
2. ``fanout``: one quarterly task reaching ``--meters`` meter devices through a task group; the
   tick (``amr.services.schedule_tick``) plans the slot with one INSERT ... SELECT and enqueues every
   job on ``utilitarian.tasks.amr.scheduled.quarterly``. Reported: plan seconds, enqueue seconds,
   jobs/s overall, and the ratio to ``raw_enqueue``.
3. ``end_to_end``: ``--jobs`` on-demand readout jobs against loopback IEC 62056-21 simulators (one
   per 50 jobs, one meter each, behind interfaces that can block), completed by ONE worker process
   (``celery worker -P threads -c --concurrency``) consuming the on-demand queue; jobs/s from the
   first message to the last finished job, readings stored.

Never run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORG_NAME = "bench-amr"
RAW_QUEUE = "benchmark.raw_enqueue"


def setup_django() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database of your own (e.g. .../bench_amr)")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        sys.exit("set CELERY_BROKER_URL to a Redis database of your own (e.g. redis://127.0.0.1:6379/13)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "utilitarian.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-" + secrets.token_hex(16))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def purge(*queues: str) -> None:
    from utilitarian.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_declare(queue=queue)
            conn.default_channel.queue_purge(queue)


def fixture(meters: int):
    """The benchmark organization with ``meters`` meter devices in one group of one quarterly task."""
    from amr.models import AmrJob, AmrTask, AmrTaskGroup
    from meters.models import MeterDevice
    from utilitarian.models import Organization

    org, _ = Organization.objects.get_or_create(name=ORG_NAME, defaults={"auto_create_series": True})
    task, _ = AmrTask.objects.get_or_create(
        organization=org,
        name="bench quarterly readout",
        defaults={
            "schedule": "quarterly",
            "meter_execution_type": "generic_iec6205621",
            "task_call": "readout",
        },
    )
    group, _ = AmrTaskGroup.objects.get_or_create(organization=org, name="bench group")
    group.tasks.add(task)
    AmrJob.objects.filter(organization=org).delete()
    have = MeterDevice.objects.filter(organization=org, name__startswith="fan-").count()
    if have < meters:
        created = MeterDevice.objects.bulk_create(
            [
                MeterDevice(organization=org, name=f"fan-{i:07d}", protocol="iec62056-21")
                for i in range(have, meters)
            ],
            batch_size=5000,
        )
        through = MeterDevice.task_groups.through
        through.objects.bulk_create(
            [through(meterdevice_id=m.pk, amrtaskgroup_id=group.pk) for m in created], batch_size=10000
        )
    return org, task


def raw_enqueue(count: int, *, batched: bool) -> dict:
    """``apply_async`` in a loop over one producer: one round trip per message (``batched``
    False), or pipelined with kombu's ``Producer.batch`` as the tick does."""
    import contextlib

    from amr.services import publish_batch
    from amr.tasks import run_job
    from utilitarian.celery import app

    purge(RAW_QUEUE)
    ids = [f"{i:032x}" for i in range(count)]
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        with publish_batch(producer) if batched else contextlib.nullcontext():
            for job_id in ids:
                run_job.apply_async(args=[job_id], queue=RAW_QUEUE, producer=producer)
    elapsed = time.perf_counter() - started
    purge(RAW_QUEUE)
    return {"messages": count, "seconds": round(elapsed, 2), "per_second": round(count / elapsed)}


def fanout(meters: int) -> dict:
    from amr.models import AmrScheduleCursor
    from amr.services import enqueue_scheduled_jobs, schedule_tick
    from utilitarian.celery import scheduled_queue

    queue = scheduled_queue("quarterly")
    purge(queue)
    slot = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    AmrScheduleCursor.objects.update_or_create(
        name="beat", defaults={"planned_until": slot - timedelta(seconds=60)}
    )
    started = time.perf_counter()
    result = schedule_tick(now=slot + timedelta(seconds=5), enqueue=False)
    planned_at = time.perf_counter()
    enqueued = enqueue_scheduled_jobs(result.jobs)
    done = time.perf_counter()
    purge(queue)
    AmrScheduleCursor.objects.filter(name="beat").delete()
    total = done - started
    return {
        "meters": meters,
        "planned": result.planned,
        "enqueued": enqueued,
        "sql_statements": result.statements,
        "plan_seconds": round(planned_at - started, 2),
        "enqueue_seconds": round(done - planned_at, 2),
        "seconds": round(total, 2),
        "per_second": round(enqueued / total),
    }


def end_to_end(jobs: int, concurrency: int) -> dict:
    from amr.models import AmrJob, JobState
    from amr.services import _send_many_on_demand
    from meters.models import MeterDevice, MeterReading, NetworkInterface
    from protocols.iec62056_21.simulator import MeterSimulator
    from utilitarian.celery import QUEUE_AMR_ON_DEMAND
    from utilitarian.models import Organization

    org = Organization.objects.get(name=ORG_NAME)
    MeterDevice.objects.filter(organization=org, name__startswith="e2e-").delete()
    simulators = [MeterSimulator() for _ in range(max(1, jobs // 50))]
    for sim in simulators:
        sim.start()
    purge(QUEUE_AMR_ON_DEMAND)
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "utilitarian", "worker", "-Q", QUEUE_AMR_ON_DEMAND,
            "-P", "threads", "-c", str(concurrency), "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-l", "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ},
    )  # fmt: skip
    try:
        meters = []
        for i, sim in enumerate(simulators):
            interface = NetworkInterface.objects.create(
                organization=org, static_ip_address="127.0.0.1", port=sim.port
            )
            meters.append(
                MeterDevice.objects.create(
                    organization=org, name=f"e2e-{i:05d}", protocol="iec62056-21", network_interface=interface
                )
            )
        now = datetime.now(UTC)
        created = AmrJob.objects.bulk_create(
            [
                AmrJob(
                    organization=org,
                    meter_device=meters[i % len(meters)],
                    kind="on_demand",
                    meter_execution_type="generic_iec6205621",
                    task_call="readout",
                    due_at=now,
                    created_at=now,
                    updated_at=now,
                )
                for i in range(jobs)
            ]
        )
        ids = [job.pk for job in created]
        time.sleep(3)  # let the worker connect before the clock starts
        started = time.perf_counter()
        _send_many_on_demand(ids)
        finished_states = [JobState.SUCCEEDED, JobState.FAILED]
        deadline = time.monotonic() + max(120, jobs)
        while AmrJob.objects.filter(pk__in=ids, state__in=finished_states).count() < jobs:
            if time.monotonic() > deadline:
                raise SystemExit("end-to-end: jobs did not finish in time")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        succeeded = AmrJob.objects.filter(pk__in=ids, state=JobState.SUCCEEDED).count()
        readings = MeterReading.objects.filter(meter_device__in=meters).count()
    finally:
        worker.terminate()
        worker.wait(30)
        for sim in simulators:
            sim.stop()
        purge(QUEUE_AMR_ON_DEMAND)
    return {
        "jobs": jobs,
        "succeeded": succeeded,
        "simulators": len(simulators),
        "worker_concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "per_second": round(jobs / elapsed, 1),
        "readings_stored": readings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    setup_django()
    fixture(args.meters)
    figures = {
        "raw_enqueue": raw_enqueue(args.meters, batched=False),
        "raw_enqueue_batched": raw_enqueue(args.meters, batched=True),
        "fanout": fanout(args.meters),
    }
    for reference in ("raw_enqueue", "raw_enqueue_batched"):
        figures["fanout"][f"vs_{reference}"] = round(
            figures["fanout"]["per_second"] / figures[reference]["per_second"], 2
        )
    figures["end_to_end"] = end_to_end(args.jobs, args.concurrency)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    raw, batched = figures["raw_enqueue"], figures["raw_enqueue_batched"]
    fan, e2e = figures["fanout"], figures["end_to_end"]
    print(f"raw Celery enqueue: {raw['messages']} apply_async in {raw['seconds']} s = {raw['per_second']}/s")
    print(f"raw Celery enqueue, pipelined: {batched['seconds']} s = {batched['per_second']}/s")
    print(
        f"fan-out: {fan['enqueued']} jobs for {fan['meters']} meters in {fan['seconds']} s "
        f"(plan {fan['plan_seconds']} s in {fan['sql_statements']} statement(s), enqueue "
        f"{fan['enqueue_seconds']} s) = {fan['per_second']}/s, {fan['vs_raw_enqueue']}x the raw rate, "
        f"{fan['vs_raw_enqueue_batched']}x the pipelined raw rate"
    )
    print(
        f"end to end: {e2e['succeeded']}/{e2e['jobs']} jobs in {e2e['seconds']} s = {e2e['per_second']}/s "
        f"(one worker, {e2e['worker_concurrency']} threads, {e2e['simulators']} loopback simulators, "
        f"{e2e['readings_stored']} readings stored: one per meter, series and second)"
    )


if __name__ == "__main__":
    main()
