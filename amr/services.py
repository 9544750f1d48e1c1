"""AMR operations: plan scheduled jobs (the tick), invoke on demand, run a job.

**Planning (the tick).** One beat process runs ``amr.tick`` every minute. The tick locks the
schedule cursor row, takes the window ``(planned_until, now]`` (bounded by
``AMR_SCHEDULE_CATCH_UP_SECONDS``, so a beat that was down catches up every missed slot of the
last hours once, and does not flood the queues after a week away), and for each schedule slot
that some active task's offset makes due in the window runs ONE set-based statement:
``INSERT INTO amr_amrjob ... SELECT`` over (task, meter device) pairs reached through the meter's
task groups and its ``meter_tasks``, ``ON CONFLICT DO NOTHING RETURNING id``. The unique
constraint on (task, meter device, slot) makes a double enqueue impossible even with two beats
racing; only the rows this tick inserted are enqueued, after commit, through one broker
connection. The number of SQL statements depends on the schedules and slots in the window, never
on the number of meters. The tick fires at the minute; a job is never sent before its due time
(``slot + run_offset_seconds``), and at most a minute after it.

**Running.** ``job_run`` loads the job and its meter in one query, resolves the transport and
keys into a plain :class:`MeterContext`, blocks the network interface when it ``can_block``
(an atomic conditional UPDATE with a lease, meters/services/network.py; a second job on the same
interface waits up to ``AMR_BLOCK_WAIT_SECONDS`` and is then put back on its queue), claims the
job with a conditional UPDATE (so a message delivered twice runs once), runs the call, always
unblocks, and hands readings and events to the readings service (:func:`ingest_result`, the one
adapter). Failures: ``ProtocolError(permanent=False)``, OS-level connection errors and the soft
time limit are retried with exponential backoff up to ``AMR_JOB_MAX_RETRIES``; permanent
protocol errors (garbage, wrong key) and bad arguments fail the job with the decoded reason.
Whatever a driver read before it failed (``ReadResult.error``) is ingested first; such a partial
result is retried like a transient failure (re-reading is idempotent: duplicates are ignored).
Every attempt is an ``AmrJobAttempt`` row.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from meters.models import DisconnectorStatus, MeterDevice, MeterSecurityKeyCollection
from meters.services.network import lease_seconds, network_interface_block, network_interface_unblock
from protocols.errors import ProtocolError
from protocols.results import ReadResult
from utilitarian.logging import log_context

from . import scheduling
from .environments import ENVIRONMENTS, get_environment
from .environments.base import InvalidCall, MeterContext
from .models import (
    AmrJob,
    AmrJobAttempt,
    AmrScheduleCursor,
    AmrTask,
    AmrTaskGroup,
    AttemptOutcome,
    JobKind,
    JobState,
)
from .signals import job_state_changed

logger = logging.getLogger(__name__)

CURSOR_NAME = "beat"


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- validation -----------------------------------------------------------------------------------


def validate_task_call(
    *, meter_execution_type: str, task_call: str, task_kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The cleaned kwargs, or :class:`InvalidCall` naming the field at fault and why."""
    if meter_execution_type not in ENVIRONMENTS:
        raise InvalidCall(
            "meter_execution_type",
            f"unknown execution type {meter_execution_type!r}; known: {', '.join(ENVIRONMENTS)}.",
        )
    if task_kwargs is not None and not isinstance(task_kwargs, Mapping):
        raise InvalidCall("task_kwargs", "task_kwargs must be a JSON object.")
    return get_environment(meter_execution_type).validate(task_call, task_kwargs)


# --- on demand ------------------------------------------------------------------------------------


def job_invoke(
    *,
    meter_device: MeterDevice,
    meter_execution_type: str,
    task_call: str,
    task_kwargs: Mapping[str, Any] | None,
    run_offset_seconds: int = 0,
) -> AmrJob:
    """Create an on-demand job and send it to the on-demand queue once the transaction commits."""
    cleaned = validate_task_call(
        meter_execution_type=meter_execution_type, task_call=task_call, task_kwargs=task_kwargs
    )
    now = timezone.now()
    job = AmrJob.objects.create(
        organization_id=meter_device.organization_id,
        meter_device=meter_device,
        kind=JobKind.ON_DEMAND,
        due_at=now + timedelta(seconds=run_offset_seconds),
        meter_execution_type=meter_execution_type,
        task_call=task_call,
        task_kwargs=cleaned or None,
        created_at=now,
    )
    transaction.on_commit(lambda: _send_on_demand(job.pk, run_offset_seconds))
    return job


def jobs_run_now(*, tasks: Iterable[AmrTask] = (), meter_devices: Iterable[MeterDevice] = ()) -> list[AmrJob]:
    """On-demand jobs for every (task, meter device) pair of the given tasks (their meters) or
    meter devices (their tasks, through groups and ``meter_tasks``), same organization only;
    sent to the on-demand queue after commit (the admin's "run now")."""
    task_ids = [t.pk for t in tasks]
    meter_ids = [m.pk for m in meter_devices]
    pairs = set()
    through_groups = MeterDevice.task_groups.through.objects
    group_tasks = AmrTaskGroup.tasks.through.objects
    direct = MeterDevice.meter_tasks.through.objects
    if task_ids:
        groups = group_tasks.filter(amrtask_id__in=task_ids).values_list("amrtaskgroup_id", "amrtask_id")
        by_group: dict = {}
        for group_id, task_id in groups:
            by_group.setdefault(group_id, []).append(task_id)
        for meter_id, group_id in through_groups.filter(amrtaskgroup_id__in=by_group).values_list(
            "meterdevice_id", "amrtaskgroup_id"
        ):
            pairs.update((task_id, meter_id) for task_id in by_group[group_id])
        pairs.update(
            (t, m)
            for m, t in direct.filter(amrtask_id__in=task_ids).values_list("meterdevice_id", "amrtask_id")
        )
    if meter_ids:
        memberships = through_groups.filter(meterdevice_id__in=meter_ids).values_list(
            "meterdevice_id", "amrtaskgroup_id"
        )
        by_group = {}
        for meter_id, group_id in memberships:
            by_group.setdefault(group_id, []).append(meter_id)
        for group_id, task_id in group_tasks.filter(amrtaskgroup_id__in=by_group).values_list(
            "amrtaskgroup_id", "amrtask_id"
        ):
            pairs.update((task_id, meter_id) for meter_id in by_group[group_id])
        pairs.update(
            (t, m)
            for m, t in direct.filter(meterdevice_id__in=meter_ids).values_list(
                "meterdevice_id", "amrtask_id"
            )
        )
    task_map = AmrTask.objects.in_bulk({t for t, _ in pairs})
    meter_orgs = dict(
        MeterDevice.objects.filter(pk__in={m for _, m in pairs}).values_list("pk", "organization_id")
    )
    now = timezone.now()
    jobs = [
        AmrJob(
            organization_id=task_map[t].organization_id,
            meter_device_id=m,
            task=task_map[t],
            kind=JobKind.ON_DEMAND,
            due_at=now,
            meter_execution_type=task_map[t].meter_execution_type,
            task_call=task_map[t].task_call,
            task_kwargs=task_map[t].task_kwargs,
            created_at=now,
            updated_at=now,
        )
        for t, m in sorted(pairs, key=str)
        if meter_orgs.get(m) == task_map[t].organization_id
    ]
    AmrJob.objects.bulk_create(jobs, batch_size=1000)
    ids = [job.pk for job in jobs]
    transaction.on_commit(lambda: _send_many_on_demand(ids))
    return jobs


#: Calls that read a period, and the call that reads an explicit one (``start_date``/``end_date``).
PERIOD_CALLS = {
    "read_profile_by_offset_seconds": "read_profile_by_date",
    "read_profile_by_date": "read_profile_by_date",
    "read_archive_by_offset_seconds": "read_archive_by_date",
    "read_archive_by_date": "read_archive_by_date",
    "read_events": "read_events",
}


@dataclass
class RereadPlan:
    jobs: list[AmrJob] = field(default_factory=list)
    #: (meter device, why nothing was sent for it)
    skipped: list[tuple[MeterDevice, str]] = field(default_factory=list)


def jobs_reread_period(
    *,
    meter_devices: Iterable[MeterDevice],
    start: datetime,
    end: datetime,
    meter_execution_type: str | None = None,
    task_call: str | None = None,
    task_kwargs: Mapping[str, Any] | None = None,
    on_meter: Any = None,
) -> RereadPlan:
    """On-demand jobs that read ``[start, end]`` again from each meter (a gap after an outage, a
    corrected meter clock). Re-reading is idempotent: readings already stored are duplicates.

    With ``task_call`` the same call runs on every meter (``start_date``/``end_date`` added to its
    kwargs). Without, each meter's own period tasks (through its groups and ``meter_tasks``) are
    turned into their by-date form (:data:`PERIOD_CALLS`), keeping their other kwargs (OBIS code,
    archive), so a re-read fetches exactly what the schedule would have. A meter with no such
    task, or whose call is refused, is reported in ``skipped``; one bad meter never stops the
    others. ``on_meter()`` is called after each meter (the command's progress bar)."""
    period = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    meters = list(meter_devices)
    plan = RereadPlan()
    tasks_of: dict[Any, list[AmrTask]] = {}
    if task_call is None:
        tasks_of = _period_tasks([m.pk for m in meters])
    for meter in meters:
        if task_call is not None:
            calls = [(meter_execution_type or "", task_call, dict(task_kwargs or {}))]
        else:
            calls = [
                (
                    task.meter_execution_type,
                    PERIOD_CALLS[task.task_call],
                    {
                        k: v
                        for k, v in (task.task_kwargs or {}).items()
                        if k not in ("offset_seconds", *period)
                    },
                )
                for task in tasks_of.get(meter.pk, [])
            ]
            if not calls:
                plan.skipped.append((meter, "no AMR task of the meter reads a period"))
        for environment, call, kwargs in calls:
            try:
                with transaction.atomic():
                    plan.jobs.append(
                        job_invoke(
                            meter_device=meter,
                            meter_execution_type=environment,
                            task_call=call,
                            task_kwargs={**kwargs, **period},
                        )
                    )
            except InvalidCall as exc:
                plan.skipped.append((meter, f"{environment}.{call}: {exc.message}"))
        if on_meter is not None:
            on_meter()
    return plan


def _period_tasks(meter_ids: list) -> dict[Any, list[AmrTask]]:
    """meter id → its active tasks whose call reads a period (a handful of queries in all)."""
    through_groups = MeterDevice.task_groups.through.objects
    group_tasks = AmrTaskGroup.tasks.through.objects
    direct = MeterDevice.meter_tasks.through.objects
    pairs: set = set(direct.filter(meterdevice_id__in=meter_ids).values_list("meterdevice_id", "amrtask_id"))
    groups_of: dict = {}
    for meter_id, group_id in through_groups.filter(meterdevice_id__in=meter_ids).values_list(
        "meterdevice_id", "amrtaskgroup_id"
    ):
        groups_of.setdefault(group_id, []).append(meter_id)
    for group_id, task_id in group_tasks.filter(amrtaskgroup_id__in=groups_of).values_list(
        "amrtaskgroup_id", "amrtask_id"
    ):
        pairs.update((meter_id, task_id) for meter_id in groups_of[group_id])
    tasks = AmrTask.objects.filter(
        pk__in={t for _, t in pairs}, is_active=True, task_call__in=list(PERIOD_CALLS)
    ).in_bulk()
    organization_of = dict(MeterDevice.objects.filter(pk__in=meter_ids).values_list("pk", "organization_id"))
    result: dict[Any, list[AmrTask]] = {}
    for meter_id, task_id in sorted(pairs, key=str):
        task = tasks.get(task_id)
        if task is not None and task.organization_id == organization_of.get(meter_id):
            result.setdefault(meter_id, []).append(task)
    return result


def _send_many_on_demand(ids: list) -> None:
    from utilitarian.celery import app

    from .tasks import run_on_demand_job

    try:
        with app.producer_or_acquire() as producer, publish_batch(producer):
            for job_id in ids:
                run_on_demand_job.apply_async(args=[str(job_id)], producer=producer)
    except Exception as exc:
        logger.exception("could not enqueue %d on-demand jobs", len(ids))
        _mark_unsent(ids, exc)


def _send_on_demand(job_id, countdown: int) -> None:
    from .tasks import run_on_demand_job

    try:
        run_on_demand_job.apply_async(args=[str(job_id)], countdown=countdown or None)
    except Exception as exc:  # broker down: say so on the job instead of leaving it "queued"
        logger.exception("could not enqueue on-demand job %s", job_id)
        _mark_unsent([job_id], exc)


# --- planning -------------------------------------------------------------------------------------


@dataclass
class TickResult:
    window_start: datetime | None = None
    window_end: datetime | None = None
    planned: int = 0
    enqueued: int = 0
    statements: int = 0
    jobs: dict[str, list] = field(default_factory=dict, repr=False)  # schedule → job ids


def schedule_tick(*, now: datetime | None = None, enqueue: bool = True) -> TickResult:
    """Plan and enqueue every (task, meter device) run due in ``(planned_until, now]``."""
    now = now or timezone.now()
    catch_up = timedelta(seconds=int(setting("AMR_SCHEDULE_CATCH_UP_SECONDS", 6 * 3600)))
    result = TickResult(window_end=now)
    with transaction.atomic():
        cursor = _locked_cursor(now)
        start = max(cursor.planned_until, now - catch_up)
        result.window_start = start
        if now <= start:
            return result
        offsets: dict[str, set[int]] = {}
        for schedule, offset in (
            AmrTask.objects.filter(is_active=True).values_list("schedule", "run_offset_seconds").distinct()
        ):
            offsets.setdefault(schedule, set()).add(offset)
        for schedule, known in sorted(offsets.items()):
            if schedule not in scheduling.MAX_OFFSET_SECONDS:
                continue
            for slot in scheduling.candidate_slots(schedule, start, now):
                lo, hi = scheduling.offset_window(schedule, slot, start, now)
                if not any(lo < o <= hi for o in known):
                    continue
                ids = _plan_slot(schedule=schedule, slot=slot, lo=lo, hi=hi, now=now)
                result.statements += 1
                if ids:
                    result.jobs.setdefault(schedule, []).extend(ids)
                    result.planned += len(ids)
        cursor.planned_until = now
        cursor.save(update_fields=["planned_until"])
    if enqueue and result.planned:
        # Outside the transaction: the rows are committed before any worker can see a message.
        result.enqueued = enqueue_scheduled_jobs(result.jobs)
    return result


def _locked_cursor(now: datetime) -> AmrScheduleCursor:
    first_window = timedelta(seconds=int(setting("AMR_TICK_SECONDS", 60)))
    cursor = AmrScheduleCursor.objects.select_for_update().filter(name=CURSOR_NAME).first()
    if cursor is None:
        AmrScheduleCursor.objects.bulk_create(
            [AmrScheduleCursor(name=CURSOR_NAME, planned_until=now - first_window)], ignore_conflicts=True
        )
        cursor = AmrScheduleCursor.objects.select_for_update().get(name=CURSOR_NAME)
    return cursor


def _plan_slot(*, schedule: str, slot: datetime, lo: int, hi: int, now: datetime) -> list:
    """One INSERT ... SELECT for every pair due for ``slot`` (offset in ``(lo, hi]``); new job ids."""
    qn = connection.ops.quote_name
    job = AmrJob._meta
    task_t = qn(AmrTask._meta.db_table)
    meter_t = qn(MeterDevice._meta.db_table)
    group_tasks = AmrTaskGroup.tasks.through._meta
    meter_groups = MeterDevice.task_groups.through._meta
    meter_tasks = MeterDevice.meter_tasks.through._meta

    def col(meta, name: str) -> str:
        return qn(meta.get_field(name).column)

    offset = f"t.{qn('run_offset_seconds')}"
    if connection.vendor == "postgresql":
        new_id = "gen_random_uuid()"
        due = f"%s::timestamptz + {offset} * interval '1 second'"
    else:  # SQLite: UUIDs are stored as 32 hex characters, datetimes as UTC text
        new_id = "lower(hex(randomblob(16)))"
        due = f"datetime(%s, '+' || {offset} || ' seconds')"
    columns = [
        "id",
        "organization_id",
        "meter_device_id",
        "task_id",
        "kind",
        "schedule",
        "planned_for",
        "due_at",
        "meter_execution_type",
        "task_call",
        "task_kwargs",
        "state",
        "attempts",
        "busy_waits",
        "error",
        "readings_count",
        "events_count",
        "created_at",
        "updated_at",
    ]
    column_sql = ", ".join(qn(job.get_field(c.removesuffix("_id")).column) for c in columns)
    pairs = (
        f"SELECT gt.{col(group_tasks, 'amrtask')} AS task_id, mg.{col(meter_groups, 'meterdevice')} AS meter_id "
        f"FROM {qn(meter_groups.db_table)} mg JOIN {qn(group_tasks.db_table)} gt "
        f"ON gt.{col(group_tasks, 'amrtaskgroup')} = mg.{col(meter_groups, 'amrtaskgroup')} "
        f"UNION "
        f"SELECT mt.{col(meter_tasks, 'amrtask')}, mt.{col(meter_tasks, 'meterdevice')} "
        f"FROM {qn(meter_tasks.db_table)} mt"
    )
    dt = connection.ops.adapt_datetimefield_value
    sql = (
        f"INSERT INTO {qn(job.db_table)} ({column_sql}) "
        f"SELECT {new_id}, t.{qn('organization_id')}, m.{qn('id')}, t.{qn('id')}, %s, t.{qn('schedule')}, %s, "
        f"{due}, t.{qn('meter_execution_type')}, t.{qn('task_call')}, t.{qn('task_kwargs')}, %s, 0, 0, '', 0, 0, %s, %s "
        f"FROM ({pairs}) p "
        f"JOIN {task_t} t ON t.{qn('id')} = p.task_id "
        f"JOIN {meter_t} m ON m.{qn('id')} = p.meter_id "
        f"WHERE t.{qn('is_active')} AND t.{qn('schedule')} = %s "
        f"AND t.{qn('run_offset_seconds')} > %s AND t.{qn('run_offset_seconds')} <= %s "
        f"AND m.{qn('organization_id')} = t.{qn('organization_id')} "
        f"ON CONFLICT DO NOTHING RETURNING {qn('id')}"
    )
    params = [JobKind.SCHEDULED, dt(slot), dt(slot), JobState.QUEUED, dt(now), dt(now), schedule, lo, hi]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    return ids


PUBLISH_BATCH = 1000


def publish_batch(producer):
    """Pipeline publishes (kombu >= 5.6 ``Producer.batch``: one Redis round trip per
    ``PUBLISH_BATCH`` messages instead of one per message); a no-op on older kombu."""
    batch = getattr(producer, "batch", None)
    return batch(max_size=PUBLISH_BATCH) if batch is not None else contextlib.nullcontext()


def enqueue_scheduled_jobs(jobs_by_schedule: Mapping[str, list]) -> int:
    """Send ``amr.run_job`` for each job id on its schedule's queue, over one broker connection,
    pipelined. A broker failure marks the jobs not sent as failed (so none stays "queued" forever);
    the batch that failed may have been partly delivered, and those messages still run."""
    from utilitarian.celery import app, scheduled_queue

    from .tasks import run_job

    sent = 0
    for schedule, ids in jobs_by_schedule.items():
        queue = scheduled_queue(schedule)
        try:
            with app.producer_or_acquire() as producer, publish_batch(producer):
                for job_id in ids:
                    run_job.apply_async(args=[str(job_id)], queue=queue, producer=producer)
                    sent += 1
        except Exception as exc:
            logger.exception("could not enqueue %d %s jobs", len(ids), schedule)
            _mark_unsent(ids, exc)
    return sent


def _mark_unsent(ids: Iterable, exc: Exception) -> None:
    AmrJob.objects.filter(pk__in=list(ids), state=JobState.QUEUED, attempts=0).update(
        state=JobState.FAILED,
        error=f"could not be enqueued (broker unavailable): {exc}"[:2000],
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


# --- running --------------------------------------------------------------------------------------


@dataclass
class JobOutcome:
    state: str
    retry_in: float | None = None
    error: str = ""
    readings: int = 0
    events: int = 0
    skipped: bool = False


RUNNABLE = (JobState.QUEUED, JobState.RETRYING)


def meter_context(meter: MeterDevice) -> MeterContext:
    """Plain values a driver needs, from a meter loaded with its interface, keys and config."""
    interface = meter.network_interface
    try:
        keys: MeterSecurityKeyCollection | None = meter.security_keys
    except MeterSecurityKeyCollection.DoesNotExist:
        keys = None
    config = meter.type.config if meter.type_id and meter.type and meter.type.config_id else None
    dlms_keys = {}
    if keys is not None:
        for name in (
            "dlms_global_unicast_encryption_key",
            "dlms_global_broadcast_encryption_key",
            "dlms_global_authentication_key",
        ):
            value = getattr(keys, name)
            if value:
                dlms_keys[name] = value
    return MeterContext(
        meter_id=str(meter.pk),
        meter_name=meter.name,
        organization_id=str(meter.organization_id),
        protocol=meter.protocol,
        host=interface.host if interface else None,
        port=interface.port if interface else None,
        serial_port=meter.serial_port,
        serial_baudrate=meter.serial_baudrate,
        timezone=config.timezone if config else "UTC",
        timeout=float(setting("AMR_METER_TIMEOUT_SECONDS", 10)),
        iec62056_21_address=meter.iec62056_21_address,
        iec62056_21_password=keys.iec62056_21_password if keys else None,
        mbus_primary_address=meter.mbus_primary_address,
        mbus_secondary_address=meter.mbus_secondary_address,
        modbus_unit_id=meter.modbus_unit_id,
        modbus_register_map=meter.type.modbus_register_map if meter.type_id and meter.type else None,
        dlms_client_address=meter.dlms_client_address,
        dlms_server_address=meter.dlms_server_address,
        dlms_authentication=meter.dlms_authentication,
        dlms_transport=meter.dlms_transport,
        dlms_system_title=meter.dlms_system_title,
        dlms_logical_device_name=meter.dlms_logical_device_name,
        dlms_keys=dlms_keys,
    )


def _backoff(attempt: int) -> float:
    base = float(setting("AMR_RETRY_BACKOFF_SECONDS", 30))
    cap = float(setting("AMR_RETRY_BACKOFF_MAX_SECONDS", 900))
    return min(base * 2 ** max(attempt - 1, 0), cap)


def _classify(exc: BaseException) -> tuple[bool, str]:
    """(retryable, reason) of an exception raised by a call."""
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, ProtocolError):
        return (not exc.permanent), exc.reason
    if isinstance(exc, SoftTimeLimitExceeded):
        return True, "the call did not finish within the job's time limit"
    if isinstance(exc, OSError):  # refused, reset, unreachable, timeout outside a driver's handling
        return True, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ValueError | TypeError | KeyError):
        return False, f"invalid arguments or meter configuration: {exc}"
    return False, f"{type(exc).__name__}: {exc}"


def job_run(*, job_id, worker: str = "") -> JobOutcome:
    """Run one attempt of a job. The caller (the Celery task) re-sends it after ``retry_in``.

    Everything logged meanwhile, by this module, the drivers or the readings service, carries
    the job id, meter device, organization and task (``utilitarian.logging.log_context``), so a
    JSON log line of a failing read names the meter without every caller passing it along."""
    with log_context(job_id=str(job_id)):
        job = (
            AmrJob.objects.select_related(
                "meter_device__network_interface__sim",
                "meter_device__security_keys",
                "meter_device__type__config",
            )
            .filter(pk=job_id)
            .first()
        )
        if job is None:
            logger.info("job %s no longer exists: nothing to run", job_id)
            return JobOutcome(state="missing", skipped=True)
        with log_context(
            meter_device_id=str(job.meter_device_id),
            meter_device_name=job.meter_device.name,
            organization_id=str(job.organization_id),
            task_id=str(job.task_id) if job.task_id else None,
        ):
            outcome = _job_attempt(job, worker)
            logger.info(
                "job %s %s%s",
                job.pk,
                outcome.state,
                " (skipped)"
                if outcome.skipped
                else f": {outcome.readings} readings, {outcome.events} events",
                extra={
                    "job_state": outcome.state,
                    "readings": outcome.readings,
                    "error": outcome.error or None,
                },
            )
            return outcome


def _job_attempt(job: AmrJob, worker: str) -> JobOutcome:
    now = timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    if job.state not in RUNNABLE and not (job.state == JobState.RUNNING and job.updated_at < stale):
        return JobOutcome(state=job.state, skipped=True)
    meter = job.meter_device

    try:
        environment_class = get_environment(job.meter_execution_type)
        kwargs = environment_class.validate(job.task_call, job.task_kwargs)
        context = meter_context(meter)
    except (KeyError, InvalidCall) as exc:
        reason = exc.message if isinstance(exc, InvalidCall) else f"unknown execution type {exc}"
        return _finish_without_attempt(job, reason)
    except Exception as exc:  # keys that cannot be decrypted, broken config
        return _finish_without_attempt(job, f"cannot prepare the job: {type(exc).__name__}: {exc}")
    if not context.serial_port and not (context.host and context.port):
        return _finish_without_attempt(
            job,
            "the meter has no transport: give it a network interface with a host and port, or a serial port",
        )

    interface = meter.network_interface if not meter.serial_port else None
    holder = f"amr-job:{job.pk}"
    blocked = False
    if interface is not None and interface.can_block:
        blocked = _block_waiting(interface.pk, holder)
        if not blocked:
            return _busy(job)

    # Claim: exactly one runner moves the job to running (a message delivered twice runs once).
    claimed = (
        AmrJob.objects.filter(pk=job.pk)
        .filter(Q(state__in=RUNNABLE) | Q(state=JobState.RUNNING, updated_at__lt=stale))
        .update(
            state=JobState.RUNNING,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
            updated_at=now,
        )
    )
    if not claimed:
        if blocked:
            network_interface_unblock(interface_id=interface.pk, holder=holder)
        job.refresh_from_db(fields=["state"])
        return JobOutcome(state=job.state, skipped=True)
    job.refresh_from_db(fields=["attempts", "started_at"])
    attempt = AmrJobAttempt.objects.create(job=job, number=job.attempts, started_at=now, worker=worker[:200])

    result: ReadResult | None = None
    failure: BaseException | None = None
    context.counter_store = _counter_store(meter)
    try:
        result = environment_class(context).run(job.task_call, kwargs)
    except Exception as exc:  # classified below; the block is released whatever happened
        failure = exc
    finally:
        if blocked:
            network_interface_unblock(interface_id=interface.pk, holder=holder)

    readings = events = 0
    info: dict[str, Any] = {}
    error = ""
    retryable = False
    if result is not None:
        try:
            readings, events, info = ingest_result(job=job, result=result, read_at=now)
        except Exception as exc:  # the database, not the meter: worth another try
            logger.exception("ingesting the result of job %s failed", job.pk)
            failure = exc
            retryable, error = True, f"storing the readings failed: {type(exc).__name__}: {exc}"
        else:
            if result.error:
                retryable, error = True, f"partial result: {result.error}"
    if failure is not None and not error:
        retryable, error = _classify(failure)
        if not isinstance(failure, ProtocolError | OSError):
            logger.warning("job %s failed: %s", job.pk, error, exc_info=failure)

    max_retries = int(setting("AMR_JOB_MAX_RETRIES", 3))
    finished = timezone.now()
    if not error:
        state, outcome, retry_in = JobState.SUCCEEDED, AttemptOutcome.SUCCEEDED, None
    elif retryable and job.attempts <= max_retries:
        state, outcome, retry_in = JobState.RETRYING, AttemptOutcome.RETRY, _backoff(job.attempts)
    else:
        state, outcome, retry_in = JobState.FAILED, AttemptOutcome.FAILED, None
        if retryable:
            error = f"{error} (gave up after {job.attempts} attempts)"
    AmrJobAttempt.objects.filter(pk=attempt.pk).update(
        outcome=outcome,
        error=error[:4000],
        readings_count=readings,
        events_count=events,
        finished_at=finished,
    )
    update: dict[str, Any] = {
        "state": state,
        "error": error[:4000],
        "readings_count": F("readings_count") + readings,
        "events_count": F("events_count") + events,
        "updated_at": finished,
        "finished_at": finished if state in (JobState.SUCCEEDED, JobState.FAILED) else None,
    }
    if result is not None:
        update["info"] = _jsonable({**result.info, **info})
        if state == JobState.SUCCEEDED:
            _mirror_meter_state(job=job, result=result)
    AmrJob.objects.filter(pk=job.pk).update(**update)
    payload = {
        "job_id": job.pk,
        "state": state,
        "task_call": job.task_call,
        "meter_device_id": job.meter_device_id,
        "info": update.get("info", {}),
    }
    transaction.on_commit(lambda: job_state_changed.send(sender=AmrJob, **payload))
    return JobOutcome(state=state, retry_in=retry_in, error=error, readings=readings, events=events)


_DISCONNECTOR_STATES = {
    "disconnected": DisconnectorStatus.DISCONNECTED,
    "connected": DisconnectorStatus.CONNECTED,
    "ready_for_reconnection": DisconnectorStatus.READY_FOR_RECONNECTION,
}


def _mirror_meter_state(*, job: AmrJob, result: ReadResult) -> None:
    """Calls that change the meter itself are mirrored on its MeterDevice (what the meter reported
    back, not what was asked for)."""
    if job.task_call == "disconnect_control":
        status = _DISCONNECTOR_STATES.get(str(result.info.get("control_state")))
        if status is not None:
            MeterDevice.objects.filter(pk=job.meter_device_id).update(disconnector_status=status)


def _block_waiting(interface_id, holder: str) -> bool:
    """Block the interface, polling for ``AMR_BLOCK_WAIT_SECONDS`` while another job holds it."""
    deadline = time.monotonic() + float(setting("AMR_BLOCK_WAIT_SECONDS", 5))
    delay = 0.05
    while True:
        if network_interface_block(interface_id=interface_id, holder=holder):
            return True
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _busy(job: AmrJob) -> JobOutcome:
    max_waits = int(setting("AMR_BUSY_MAX_WAITS", 30))
    now = timezone.now()
    if job.busy_waits + 1 > max_waits:
        error = f"network interface stayed blocked by other jobs ({max_waits} waits); giving up"
        AmrJob.objects.filter(pk=job.pk).update(
            state=JobState.FAILED,
            error=error,
            busy_waits=F("busy_waits") + 1,
            finished_at=now,
            updated_at=now,
        )
        return JobOutcome(state=JobState.FAILED, error=error)
    AmrJob.objects.filter(pk=job.pk, state__in=RUNNABLE).update(
        state=JobState.RETRYING,
        error="network interface busy (blocked by another job); waiting",
        busy_waits=F("busy_waits") + 1,
        updated_at=now,
    )
    return JobOutcome(state=JobState.RETRYING, retry_in=float(setting("AMR_BUSY_RETRY_SECONDS", 15)))


def _finish_without_attempt(job: AmrJob, reason: str) -> JobOutcome:
    now = timezone.now()
    AmrJob.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, error=reason[:4000], finished_at=now, updated_at=now
    )
    return JobOutcome(state=JobState.FAILED, error=reason)


def _counter_store(meter: MeterDevice):
    from .counters import DjangoCounterStore

    return DjangoCounterStore(meter.pk)


def _jsonable(value: Any) -> Any:
    from protocols.results import to_jsonable

    return to_jsonable(value)


# --- the adapter to the readings service ----------------------------------------------------------


def ingest_result(*, job: AmrJob, result: ReadResult, read_at: datetime) -> tuple[int, int, dict[str, Any]]:
    """Hand a driver's readings and events to the readings service (meters/services/readings.py).

    The one place that knows that service's signature. Readings without a timestamp are stamped
    with the time of the read. Returns (readings stored or already present, events stored or
    already present, info about rejected items)."""
    from meters.services.readings import events_ingest, readings_ingest

    meter_id = str(job.meter_device_id)
    stamp = read_at.replace(microsecond=0)
    info: dict[str, Any] = {}
    readings = events = 0
    if result.readings:
        summary = readings_ingest(
            organization_id=job.organization_id,
            items=[
                {
                    "meter_device": meter_id,
                    "series_name": r.series,
                    "timestamp": r.timestamp or stamp,
                    "value": r.value,
                }
                for r in result.readings
            ],
            stage_unknown_meters=False,
        )
        readings = summary.saved + summary.duplicates
        if summary.rejected:
            info["rejected_readings"] = summary.errors[:50]
    if result.events:
        summary = events_ingest(
            organization_id=job.organization_id,
            items=[
                {
                    "meter_device": meter_id,
                    "timestamp": e.timestamp,
                    "title": (e.description or f"event {e.event_code}")[:50],
                    "content": f"code {e.event_code}: {e.description or 'event'}"[:500],
                }
                for e in result.events
            ],
        )
        events = summary.saved + summary.duplicates
        if summary.rejected:
            info["rejected_events"] = summary.errors[:50]
    return readings, events, info


# --- cleanup --------------------------------------------------------------------------------------


def blocks_release_expired() -> int:
    from meters.services.network import release_expired_blocks

    return release_expired_blocks()
