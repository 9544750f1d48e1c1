"""Ingesting meter readings and system events at scale, promoting staged readings, retention.

Every write path (the two POST endpoints, Celery commit tasks, AMR jobs, promotion of staged
readings) goes through :func:`readings_ingest` / :func:`events_ingest`, so the rules live here once:

* **Column-wise validation.** A batch is validated in one pass in plain Python (timestamps with
  ``datetime.fromisoformat`` memoized per distinct string, values with ``parse_exact_decimal``),
  and names are resolved with one query per batch (meters, series, the meters' configs). A DRF
  ``Serializer(many=True)`` costs ~17 ms per 1,000 items, which alone would cap HTTP ingestion;
  DRF keeps the request envelope and error shape only. A bad item is reported with its index and
  reason and never drops the others.
* **Names within the organization.** ``meter_device_name`` / ``series_name``, or ``meter_device`` /
  ``series`` which accept the object's UUID (as in the contract) or its name. The organization comes
  from the caller (the request's tenant); nothing in an item can reach another organization.
* **Unknown meter device → staged** (a ``StagedMeterReading``, after the timestamp and value have
  been validated). **Unknown series for a known meter → rejected**, unless the organization has
  ``auto_create_series`` (then the series is created with unit ``"?"``). A series outside the
  ``series`` of the meter type's ``MeterDeviceConfig`` → rejected.
* **Timestamps** must carry an offset (naive → rejected) and are stored in UTC. **Values** are
  ``Decimal`` end to end (floats are refused: they are already inexact).
* **Duplicates are a no-op.** ``(meter device, series, timestamp)`` is unique; the insert is
  ``ON CONFLICT DO NOTHING`` and ``duplicates = valid rows - inserted rows``, which also counts
  repeats inside one batch (they are collapsed before the insert: first occurrence wins).

The insert (:func:`_insert_readings`), on PostgreSQL, per chunk of :data:`CHUNK_SIZE` rows
sorted by the unique key: when no stored reading lies within the chunk's time span of a sample of
its (meter, series) pairs (one index probe each), a binary ``COPY`` straight into the table
under a savepoint, about twice as fast as the general path; otherwise, or when the COPY meets a
stored row after all (one the sample missed, or a concurrent writer's: it fails on the unique key
and the savepoint is rolled back), a binary ``COPY`` into a temporary table and one ``INSERT ... SELECT ... ORDER BY
<unique key> ON CONFLICT DO NOTHING``. On SQLite an ``executemany`` of ``INSERT ... ON CONFLICT
DO NOTHING``. The sort makes concurrent ingestions of overlapping batches take their row locks in
the same order, so they cannot deadlock, and each chunk commits on its own (outside an enclosing
transaction) so that two large ingestions never hold locks on each other's earlier chunks.
Re-sending is always safe (idempotent).

**Promotion.** ``promote_staged_readings(meter_device=...)`` runs from the ``post_save`` signal of
``MeterDevice`` (``meters/signals.py``) inside the saving transaction, whoever saves it (API,
admin, PowerBox sync; ``bulk_create`` sends no signal and is not used for meters). Staged readings
that become valid readings (or duplicates) are deleted from staging. **Decision:** staged readings
whose series is unknown or outside the meter's config **stay staged**: the operator sees them
in ``staged-meter-readings``, can create the series (which promotes them too, see
``promote_staged_readings_for_series``) and otherwise they expire after
``STAGED_DATA_RETENTION_DAYS``. A meter created while a batch for its name is being staged can
miss the (uncommitted) staged rows; the daily retention task sweeps those
(:func:`promote_pending_staged_readings`).

**Retention** deletes in batches of :data:`RETENTION_BATCH` rows by primary key, one short
transaction each, walking the ``(organization, timestamp)`` indexes per organization.
"""

from __future__ import annotations

import logging
import struct
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from psycopg.adapt import PyFormat

from utilitarian.fields import MAX_DECIMAL_DIGITS, parse_exact_decimal
from utilitarian.models import Organization

from ..models import (
    MeterDevice,
    MeterDeviceConfig,
    MeterReading,
    MeterReadingSeries,
    MeterSystemEvent,
    StagedMeterReading,
)

logger = logging.getLogger(__name__)

MAX_BATCH = 10_000
CHUNK_SIZE = 10_000
RETENTION_BATCH = 5_000
AUTO_SERIES_UNIT = "?"


@dataclass
class IngestSummary:
    saved: int = 0
    duplicates: int = 0
    staged: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, reason: str) -> None:
        self.rejected += 1
        self.errors.append({"index": index, "reason": reason})

    def merge(self, other: IngestSummary) -> None:
        self.saved += other.saved
        self.duplicates += other.duplicates
        self.staged += other.staged
        self.rejected += other.rejected
        self.errors.extend(other.errors)
        self.errors.sort(key=lambda e: e["index"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "saved": self.saved,
            "duplicates": self.duplicates,
            "staged": self.staged,
            "rejected": self.rejected,
            "errors": self.errors,
        }


class ItemError(ValueError):
    pass


# --- item parsing (hot loop helpers) -----------------------------------------------------------


def parse_timestamp(value: Any) -> datetime:
    """An aware datetime in UTC; naive or malformed values raise ItemError."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise ItemError(f"timestamp {value[:40]!r} is not an ISO 8601 date-time") from None
    else:
        raise ItemError("timestamp must be an ISO 8601 string")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ItemError("timestamp has no timezone (naive timestamps are refused)")
    return ts.astimezone(UTC)


def parse_value(value: Any) -> Decimal:
    if isinstance(value, str) and len(value) <= MAX_DECIMAL_DIGITS:
        # Short strings cannot exceed the digit limit: skip the digit count on the hot path.
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise ItemError(f"value {value!r} is not a decimal number") from None
        if not result.is_finite():
            raise ItemError("value must be a finite number")
        return result
    if value is None:
        raise ItemError("value is required")
    try:
        return parse_exact_decimal(value)
    except ValueError as exc:
        raise ItemError(f"value: {exc}") from None


def _as_uuid(value: str) -> uuid.UUID | None:
    if len(value) not in (32, 36):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _reference(item: Mapping, name_key: str, ref_key: str) -> str:
    """The name (or UUID-or-name) an item uses for a meter device or series."""
    ref = item.get(name_key)
    if ref is None:
        ref = item.get(ref_key)
    if ref is None:
        raise ItemError(f"{name_key} (or {ref_key}) is required")
    if not isinstance(ref, str) or not ref:
        raise ItemError(f"{name_key} must be a non-empty string")
    return ref


class _Resolver:
    """Maps the names/UUIDs used in one batch to objects, one query per model."""

    def __init__(self, model: type[Model], organization_id: uuid.UUID, refs: set[str], values: Sequence[str]):
        names = {r for r in refs if len(r) <= 50}
        ids = {u for u in (_as_uuid(r) for r in refs) if u is not None}
        by_name: dict[str, tuple] = {}
        by_id: dict[uuid.UUID, tuple] = {}
        if names or ids:
            from django.db.models import Q

            rows = model.objects.filter(Q(name__in=names) | Q(pk__in=ids), organization_id=organization_id)
            for row in rows.values_list("pk", "name", *values):
                by_name[row[1]] = row
                by_id[row[0]] = row
        self.map: dict[str, tuple] = {}
        for ref in refs:
            row = by_name.get(ref)
            if row is None:
                u = _as_uuid(ref)
                row = by_id.get(u) if u is not None else None
            if row is not None:
                self.map[ref] = row


def _coerce_organization_id(organization_id: Any) -> uuid.UUID:
    return organization_id if isinstance(organization_id, uuid.UUID) else uuid.UUID(str(organization_id))


# --- readings ------------------------------------------------------------------------------------


def readings_ingest(
    *,
    organization_id: uuid.UUID | str,
    items: Sequence[Mapping[str, Any]],
    indexes: Sequence[int] | None = None,
    stage_unknown_meters: bool = True,
) -> IngestSummary:
    """Validate, resolve and store a batch of readings of one organization.

    ``indexes`` are the positions reported for rejected items (default: 0..n-1), so a caller
    that split a request (staff naming several organizations) can report request positions.
    """
    org_id = _coerce_organization_id(organization_id)
    summary = IngestSummary()
    positions = indexes if indexes is not None else range(len(items))

    # Pass 1: the names used, to resolve them with one query per model.
    meter_refs: set[str] = set()
    series_refs: set[str] = set()
    for item in items:
        if isinstance(item, Mapping):
            meter_refs.add(item.get("meter_device_name") or item.get("meter_device"))
            series_refs.add(item.get("series_name") or item.get("series"))
    meter_refs = {r for r in meter_refs if type(r) is str and r}
    series_refs = {r for r in series_refs if type(r) is str and r}
    meters = _Resolver(MeterDevice, org_id, meter_refs, ("type__config_id",)).map if meter_refs else {}
    series_map = _Resolver(MeterReadingSeries, org_id, series_refs, ()).map if series_refs else {}
    missing_series = {s for s in series_refs if s not in series_map}
    if missing_series and _auto_create_series(org_id):
        _create_series(org_id, {s for s in missing_series if len(s) <= 50 and _as_uuid(s) is None})
        series_map = _Resolver(MeterReadingSeries, org_id, series_refs, ()).map
    config_ids = {row[2] for row in meters.values() if row[2] is not None}
    allowed: dict[uuid.UUID, set[uuid.UUID]] = {cid: set() for cid in config_ids}
    if config_ids:
        through = MeterDeviceConfig.series.through
        for cid, sid in through.objects.filter(meterdeviceconfig_id__in=config_ids).values_list(
            "meterdeviceconfig_id", "meterreadingseries_id"
        ):
            allowed[cid].add(sid)
    meter_ids: list[uuid.UUID] = []
    series_ids: list[uuid.UUID] = []
    meter_index: dict[uuid.UUID, int] = {}
    series_index: dict[uuid.UUID, int] = {}

    def verdict(meter_ref: str, series_ref: str) -> tuple:
        """(0, meter index, series index) | (1, None, None): stage | (2, reason, None): reject."""
        meter = meters.get(meter_ref)
        if meter is None:
            if not stage_unknown_meters or _as_uuid(meter_ref) is not None or len(meter_ref) > 50:
                return (2, f"unknown meter device {meter_ref!r}", None)
            if len(series_ref) > 50:
                return (2, "series_name is longer than 50 characters", None)
            return (1, None, None)
        series = series_map.get(series_ref)
        if series is None:
            return (2, f"unknown series {series_ref!r} for meter device {meter[1]!r}", None)
        if meter[2] is not None and series[0] not in allowed[meter[2]]:
            return (2, f"series {series[1]!r} is not in the config of meter device {meter[1]!r}", None)
        if meter[0] not in meter_index:
            meter_index[meter[0]] = len(meter_ids)
            meter_ids.append(meter[0])
        if series[0] not in series_index:
            series_index[series[0]] = len(series_ids)
            series_ids.append(series[0])
        return (0, meter_index[meter[0]], series_index[series[0]])

    # Pass 2: parse, classify, collapse repeats within the batch (first occurrence wins).
    verdicts: dict[tuple[str, str], tuple] = {}
    ts_cache: dict[str, datetime] = {}
    rows: dict[tuple, Decimal] = {}
    staged: dict[tuple, Decimal] = {}
    valid = 0
    for pos, item in zip(positions, items, strict=True):
        try:
            if not isinstance(item, Mapping):
                raise ItemError("each item must be an object")
            meter = item.get("meter_device_name") or item.get("meter_device")
            series = item.get("series_name") or item.get("series")
            if type(meter) is not str or type(series) is not str:
                meter = _reference(item, "meter_device_name", "meter_device")
                series = _reference(item, "series_name", "series")
            raw_ts = item.get("timestamp")
            ts = ts_cache.get(raw_ts) if type(raw_ts) is str else None
            if ts is None:
                ts = parse_timestamp(raw_ts)
                if type(raw_ts) is str:
                    ts_cache[raw_ts] = ts
            value = item.get("value")
            if type(value) is not Decimal or not value.is_finite() or len(value.as_tuple().digits) > 40:
                value = parse_value(value)
        except ItemError as exc:
            summary.reject(pos, str(exc))
            continue
        pair = (meter, series)
        kind, a, b = verdicts.get(pair) or verdicts.setdefault(pair, verdict(meter, series))
        if kind == 0:
            valid += 1
            key = (a, b, ts)
            if key not in rows:
                rows[key] = value
        elif kind == 1:
            key = (meter, series, ts)
            if key in staged:
                summary.duplicates += 1
            else:
                staged[key] = value
        else:
            summary.reject(pos, a)

    if rows:
        inserted = _insert_readings(org_id, meter_ids, series_ids, rows)
        summary.saved = inserted
        summary.duplicates += valid - inserted
    if staged:
        now = timezone.now()
        StagedMeterReading.objects.bulk_create(
            [
                StagedMeterReading(
                    organization_id=org_id,
                    meter_device_name=m,
                    series_name=s,
                    timestamp=t,
                    value=v,
                    created_at=now,
                    updated_at=now,
                )
                for (m, s, t), v in staged.items()
            ],
            batch_size=1000,
        )
        summary.staged = len(staged)
    summary.errors.sort(key=lambda e: e["index"])
    return summary


def _auto_create_series(org_id: uuid.UUID) -> bool:
    return bool(Organization.objects.filter(pk=org_id).values_list("auto_create_series", flat=True).first())


def _create_series(org_id: uuid.UUID, names: set[str]) -> None:
    if names:
        MeterReadingSeries.objects.bulk_create(
            [MeterReadingSeries(organization_id=org_id, name=n, unit=AUTO_SERIES_UNIT) for n in names],
            ignore_conflicts=True,
        )


# --- the set-based insert ---


#: psycopg connections whose session has the ingestion temp table (created and committed).
_temp_ready: weakref.WeakSet = weakref.WeakSet()


def _insert_readings(
    org_id: uuid.UUID, meter_ids: list[uuid.UUID], series_ids: list[uuid.UUID], rows: dict[tuple, Decimal]
) -> int:
    """Insert ``{(meter index, series index, timestamp): value}``; the number of rows inserted.

    On PostgreSQL, per chunk: new data (a sample of its meter/series pairs has no stored reading
    within the chunk's time span, the usual case for fresh readings) is copied straight into the
    table; anything else (re-reads of overlapping windows, re-sent batches) goes through a temporary
    table and ``INSERT ... ON CONFLICT DO NOTHING``."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        return _insert_ignoring_conflicts(
            MeterReading,
            ("organization_id", "meter_device_id", "series_id", "timestamp", "value", "created_at"),
            [(org_id, meter_ids[m], series_ids[s], t, v, now) for (m, s, t), v in rows.items()],
            conflict=("meter_device_id", "series_id", "timestamp"),
        )
    qn = connection.ops.quote_name
    table = qn(MeterReading._meta.db_table)
    temp = qn("_ingest_readings")
    # Sorted by the unique key (meter, series, timestamp): every writer takes its index locks in
    # the same order, so concurrent ingestions of overlapping batches cannot deadlock.
    # (Sorting on ranks: comparing UUID objects runs in Python and cost a second per 200,000 rows.)
    meter_rank = _ranks(meter_ids)
    series_rank = _ranks(series_ids)
    ordered = sorted(rows.items(), key=lambda kv: (meter_rank[kv[0][0]], series_rank[kv[0][1]], kv[0][2]))
    items = [(meter_ids[m], series_ids[s], t, v) for (m, s, t), v in ordered]
    total = 0
    for start in range(0, len(items), CHUNK_SIZE):
        chunk = items[start : start + CHUNK_SIZE]
        nested = connection.in_atomic_block
        with transaction.atomic():
            connection.ensure_connection()
            pg = connection.connection
            # Server-side binding (Django's cursors bind client-side): statements are prepared
            # after a few executions and the arrays travel in binary.
            with psycopg.Cursor(pg) as cursor:
                if not _span_has_readings(cursor, table, chunk) and _copy_new_readings(
                    cursor, table, org_id, chunk, now
                ):
                    total += len(chunk)
                    continue
                if nested or pg not in _temp_ready:
                    cursor.execute(
                        f"CREATE TEMP TABLE IF NOT EXISTS {temp} (o uuid, m uuid, s uuid, ts timestamptz, "
                        f"v numeric, c timestamptz) ON COMMIT DELETE ROWS; DELETE FROM {temp}"
                    )
                with cursor.copy(f"COPY {temp} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(_binary_copy_data(org_id, chunk, now))
                cursor.execute(
                    f"INSERT INTO {table} "
                    "(organization_id, meter_device_id, series_id, timestamp, value, created_at) "
                    f"SELECT o, m, s, ts, v, c FROM {temp} ORDER BY 2, 3, 4 ON CONFLICT DO NOTHING"
                )
                total += cursor.rowcount
        if not nested:
            _temp_ready.add(pg)  # committed: the temp table exists for this session
    return total


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_pack_length = struct.Struct("!i").pack
_decimal_binary = psycopg.adapters.get_dumper(Decimal, PyFormat.BINARY)(Decimal).dump
_timestamptz_binary = psycopg.adapters.get_dumper(datetime, PyFormat.BINARY)(datetime).dump


def _binary_copy_data(org_id: uuid.UUID, chunk: list[tuple], now: datetime) -> bytes:
    """The binary COPY stream of (organization, meter, series, timestamp, value, created_at)
    rows for a chunk sorted by (meter, series, timestamp).

    Why not psycopg's ``Copy.write_row``: it runs Python per row and per field (its uuid dumper
    is pure Python) and was half of the COPY's time. Here the constant parts are encoded once
    (organization, created_at, each meter/series pair, each distinct timestamp: a batch shares
    its timestamps across meters) and only the value goes through a dumper per row, psycopg's
    own C ``numeric`` encoder, so the bytes are exactly what ``write_row`` would send. Format:
    the PostgreSQL binary COPY layout (header, per row a field count and length-prefixed
    fields, trailer)."""

    def field(data: bytes) -> bytes:
        return _pack_length(len(data)) + data

    row_head = b"\x00\x06" + field(org_id.bytes)
    row_tail = field(bytes(_timestamptz_binary(now)))
    times: dict[datetime, bytes] = {}
    parts = [_COPY_HEADER]
    append = parts.append
    meter = series = prefix = None
    for row in chunk:
        if row[0] is not meter or row[1] is not series:  # sorted: pairs come in runs
            meter, series = row[0], row[1]
            prefix = row_head + field(meter.bytes) + field(series.bytes)
        ts = times.get(row[2])
        if ts is None:
            ts = times[row[2]] = field(bytes(_timestamptz_binary(row[2])))
        value = _decimal_binary(row[3])
        append(prefix)
        append(ts)
        append(_pack_length(len(value)))
        append(value)
        append(row_tail)
    append(_COPY_TRAILER)
    return b"".join(parts)


def _ranks(ids: list[uuid.UUID]) -> list[int]:
    """The position of each id in PostgreSQL's uuid order (which is Python's UUID order)."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ranks = [0] * len(ids)
    for rank, index in enumerate(order):
        ranks[index] = rank
    return ranks


#: How many (meter, series) pairs of a chunk :func:`_span_has_readings` probes.
SPAN_SAMPLE = 32


def _span_has_readings(cursor: psycopg.Cursor, table: str, chunk: list[tuple]) -> bool:
    """Whether stored readings fall within the chunk's time span of some of its (meter, series)
    pairs, probing an even sample of :data:`SPAN_SAMPLE` pairs (one index probe each; probing
    every pair cost as much as the copy saved). Only a prediction: True sends the chunk down the
    ``ON CONFLICT`` path, False tries the COPY, whose unique key catches whatever the sample
    missed (and the caller falls back)."""
    spans: list[list] = []  # [meter, series, earliest, latest]
    meter = series = None
    for row in chunk:  # sorted by pair then time; ids are shared objects, so `is` suffices
        if row[0] is not meter or row[1] is not series:
            meter, series = row[0], row[1]
            spans.append([meter, series, row[2], row[2]])
        else:
            spans[-1][3] = row[2]
    if len(spans) > SPAN_SAMPLE:
        step = len(spans) / SPAN_SAMPLE
        spans = [spans[int(i * step)] for i in range(SPAN_SAMPLE)]
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM unnest(%s::uuid[], %s::uuid[], %s::timestamptz[], %s::timestamptz[]) "
        f"AS p(m, s, lo, hi) WHERE EXISTS (SELECT 1 FROM {table} r WHERE r.meter_device_id = p.m "
        "AND r.series_id = p.s AND r.timestamp BETWEEN p.lo AND p.hi))",
        [
            [span[0] for span in spans],
            [span[1] for span in spans],
            [span[2] for span in spans],
            [span[3] for span in spans],
        ],
    )
    return bool(cursor.fetchone()[0])


def _copy_new_readings(
    cursor: psycopg.Cursor, table: str, org_id: uuid.UUID, chunk: list[tuple], now
) -> bool:
    """COPY a chunk of new readings straight into the table: about twice the rows per second of
    the temporary table path, which writes every row twice. A writer that committed an
    overlapping row since the span check makes the COPY fail on the unique key: the savepoint
    undoes it and the caller falls back to ``ON CONFLICT DO NOTHING`` (False)."""
    data = _binary_copy_data(org_id, chunk, now)
    cursor.execute("SAVEPOINT ingest_copy")
    try:
        with cursor.copy(
            f"COPY {table} (organization_id, meter_device_id, series_id, timestamp, value, created_at) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(data)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT ingest_copy")
        return False
    cursor.execute("RELEASE SAVEPOINT ingest_copy")
    return True


def _insert_ignoring_conflicts(
    model: type[Model], columns: Sequence[str], rows: list[tuple], *, conflict: Sequence[str]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order), skipping unique conflicts; rows inserted."""
    if not rows:
        return 0
    fields = {f.column: f for f in model._meta.concrete_fields}
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    if connection.vendor == "postgresql":
        return _pg_copy_insert(model, columns, rows, conflict=conflict, fields=fields)
    placeholders = ", ".join("%s" for _ in columns)
    sql = f"INSERT INTO {table} ({cols}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
    preps = [fields[c] for c in columns]
    total = 0
    for start in range(0, len(rows), CHUNK_SIZE):
        chunk = rows[start : start + CHUNK_SIZE]
        params = [
            [f.get_db_prep_save(v, connection) for f, v in zip(preps, row, strict=True)] for row in chunk
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)
            total += cursor.rowcount
    return total


_COPY_TYPES = {
    "timestamp with time zone": "timestamptz",
    "numeric": "numeric",
    "uuid": "uuid",
    "bigint": "int8",
}


def _pg_copy_insert(model, columns, rows, *, conflict, fields) -> int:
    """Binary COPY into a session temp table, then ``INSERT ... SELECT ... ORDER BY <unique key>
    ON CONFLICT DO NOTHING``, one transaction per chunk. Binary COPY costs the least Python per row
    (psycopg's C dumpers); the ORDER BY gives every writer the same lock order."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    temp = qn(f"_ingest_{model._meta.db_table}")
    db_types = [fields[c].db_type(connection) for c in columns]
    copy_types = [_COPY_TYPES.get(t, "text") for t in db_types]
    cols = ", ".join(qn(c) for c in columns)
    create = ", ".join(f"{qn(c)} {t}" for c, t in zip(columns, db_types, strict=True))
    order = ", ".join(qn(c) for c in conflict)
    total = 0
    for start in range(0, len(rows), CHUNK_SIZE):
        chunk = rows[start : start + CHUNK_SIZE]
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor  # the psycopg cursor: COPY is not in Django's API
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ({create}) ON COMMIT DELETE ROWS")
            cursor.execute(f"DELETE FROM {temp}")  # in case an enclosing transaction ran a chunk
            with cursor.copy(f"COPY {temp} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(copy_types)
                write = copy.write_row
                for row in chunk:
                    write(row)
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp} ORDER BY {order} ON CONFLICT DO NOTHING"
            )
            total += cursor.rowcount
    return total


# --- events --------------------------------------------------------------------------------------


def events_ingest(
    *,
    organization_id: uuid.UUID | str,
    items: Sequence[Mapping[str, Any]],
    indexes: Sequence[int] | None = None,
) -> IngestSummary:
    """Store meter system events by meter name (or UUID); ``(meter, timestamp, title)`` repeats are
    duplicates. Events for unknown meters are rejected (they are not staged)."""
    org_id = _coerce_organization_id(organization_id)
    summary = IngestSummary()
    positions = indexes if indexes is not None else range(len(items))
    parsed = []
    refs: set[str] = set()
    for pos, item in zip(positions, items, strict=True):
        try:
            if not isinstance(item, Mapping):
                raise ItemError("each item must be an object")
            meter = _reference(item, "meter_device_name", "meter_device")
            ts = parse_timestamp(item.get("timestamp"))
            title, content = item.get("title"), item.get("content")
            if not isinstance(title, str) or not 1 <= len(title) <= 50:
                raise ItemError("title must be a string of 1 to 50 characters")
            if not isinstance(content, str) or not 1 <= len(content) <= 500:
                raise ItemError("content must be a string of 1 to 500 characters")
        except ItemError as exc:
            summary.reject(pos, str(exc))
            continue
        refs.add(meter)
        parsed.append((pos, meter, ts, title, content))
    meters = _Resolver(MeterDevice, org_id, refs, ()).map if refs else {}
    rows: dict[tuple, str] = {}
    valid = 0
    for pos, ref, ts, title, content in parsed:
        meter = meters.get(ref)
        if meter is None:
            summary.reject(pos, f"unknown meter device {ref!r}")
            continue
        valid += 1
        rows.setdefault((meter[0], ts, title), content)
    if rows:
        now = timezone.now()
        inserted = _insert_ignoring_conflicts(
            MeterSystemEvent,
            (
                "organization_id",
                "meter_device_id",
                "timestamp",
                "title",
                "content",
                "created_at",
                "updated_at",
            ),
            [(org_id, m, t, ti, c, now, now) for (m, t, ti), c in rows.items()],
            conflict=("meter_device_id", "timestamp", "title"),
        )
        summary.saved = inserted
        summary.duplicates = valid - inserted
    summary.errors.sort(key=lambda e: e["index"])
    return summary


# --- staging ---------------------------------------------------------------------------------------


def _promote(staged_qs) -> IngestSummary:
    staged = list(
        staged_qs.values("id", "organization_id", "meter_device_name", "series_name", "timestamp", "value")
    )
    total = IngestSummary()
    by_org: dict[uuid.UUID, list[dict]] = {}
    for row in staged:
        by_org.setdefault(row["organization_id"], []).append(row)
    for org_id, rows in by_org.items():
        items = [
            {
                "meter_device_name": r["meter_device_name"],
                "series_name": r["series_name"],
                "timestamp": r["timestamp"],
                "value": r["value"],
            }
            for r in rows
        ]
        summary = readings_ingest(
            organization_id=org_id, items=items, indexes=range(len(items)), stage_unknown_meters=False
        )
        rejected = {e["index"] for e in summary.errors}
        done = [r["id"] for i, r in enumerate(rows) if i not in rejected]
        for start in range(0, len(done), 1000):
            StagedMeterReading.objects.filter(pk__in=done[start : start + 1000]).delete()
        total.merge(summary)
    return total


def promote_staged_readings(*, meter_device: MeterDevice) -> IngestSummary:
    """Turn the staged readings of ``meter_device``'s name into readings (call inside the
    transaction that created or renamed the meter). Readings that cannot be promoted (unknown
    series, outside the config) stay staged; see the module docstring."""
    if meter_device.organization_id is None:
        return IngestSummary()
    qs = StagedMeterReading.objects.filter(
        organization_id=meter_device.organization_id, meter_device_name=meter_device.name
    )
    if not qs.exists():
        return IngestSummary()
    with transaction.atomic():
        summary = _promote(qs.select_for_update().order_by("id"))
    if summary.saved or summary.duplicates:
        logger.info(
            "promoted staged readings",
            extra={"meter_device": str(meter_device.pk), "saved": summary.saved, "kept": summary.rejected},
        )
    return summary


def promote_staged_readings_for_series(*, series: MeterReadingSeries) -> IngestSummary:
    """A new series may make staged readings of existing meters valid: promote those."""
    names = MeterDevice.objects.filter(organization_id=series.organization_id).values("name")
    qs = StagedMeterReading.objects.filter(
        organization_id=series.organization_id, series_name=series.name, meter_device_name__in=names
    )
    if not qs.exists():
        return IngestSummary()
    with transaction.atomic():
        return _promote(qs.select_for_update().order_by("id"))


def promote_pending_staged_readings(*, batch_size: int = RETENTION_BATCH) -> IngestSummary:
    """Promote staged readings whose meter device exists (the race sweep, run daily)."""
    from django.db.models import Exists, OuterRef

    exists = MeterDevice.objects.filter(
        organization_id=OuterRef("organization_id"), name=OuterRef("meter_device_name")
    )
    total = IngestSummary()
    last_id = 0
    while True:
        with transaction.atomic():
            ids = list(
                StagedMeterReading.objects.filter(Exists(exists), pk__gt=last_id)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            last_id = ids[-1]
            total.merge(_promote(StagedMeterReading.objects.filter(pk__in=ids).select_for_update()))
        if len(ids) < batch_size:
            break
    return total


# --- retention -------------------------------------------------------------------------------------


@dataclass
class RetentionSummary:
    readings: int = 0
    events: int = 0
    staged: int = 0


def _delete_in_batches(queryset, batch: int) -> int:
    """Delete by primary key, ``batch`` rows per short transaction (no long table locks)."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
            if not ids:
                return total
            total += queryset.model.objects.filter(pk__in=ids)._raw_delete(queryset.db)
        if len(ids) < batch:
            return total


def readings_apply_retention(
    *,
    now: datetime | None = None,
    data_retention_days: int | None | type[Ellipsis] = ...,
    staged_retention_days: int | None | type[Ellipsis] = ...,
    batch_size: int = RETENTION_BATCH,
) -> RetentionSummary:
    """Delete readings and events older than ``DATA_RETENTION_DAYS`` (None: keep forever) and
    staged readings older than ``STAGED_DATA_RETENTION_DAYS`` (by when they were staged)."""
    now = now or timezone.now()
    if data_retention_days is ...:
        data_retention_days = settings.DATA_RETENTION_DAYS
    if staged_retention_days is ...:
        staged_retention_days = settings.STAGED_DATA_RETENTION_DAYS
    summary = RetentionSummary()
    if data_retention_days is not None:
        cutoff = now - timedelta(days=int(data_retention_days))
        # Per organization, so each batch walks the (organization, timestamp) index.
        for org_id in Organization.objects.values_list("pk", flat=True):
            summary.readings += _delete_in_batches(
                MeterReading.objects.filter(organization_id=org_id, timestamp__lt=cutoff), batch_size
            )
            summary.events += _delete_in_batches(
                MeterSystemEvent.objects.filter(organization_id=org_id, timestamp__lt=cutoff), batch_size
            )
    if staged_retention_days is not None:
        cutoff = now - timedelta(days=int(staged_retention_days))
        summary.staged = _delete_in_batches(
            StagedMeterReading.objects.filter(created_at__lt=cutoff), batch_size
        )
    logger.info("retention applied", extra=summary.__dict__)
    return summary
