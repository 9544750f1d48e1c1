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

The insert (:func:`_insert_readings`), on PostgreSQL, per chunk of :data:`CHUNK_SIZE` rows in
a transaction of its own (a savepoint inside an enclosing transaction): the rows are streamed
with a binary ``COPY`` straight into the table while the batch is still being parsed (the
parsing loop is a generator the COPY pulls from), so the database stores one slice while Python
parses the next, and the ingestion costs little more than the database's own work. New readings,
the usual case, take that path. A chunk that meets a stored reading (a re-read of an overlapping
window, a re-sent batch, a concurrent writer's row) makes the COPY fail on the unique key; a
COPY that deadlocks with a concurrent one streaming overlapping rows in another order is stopped
by PostgreSQL. Either way the chunk's savepoint is rolled back and the chunk goes in with one
``COPY`` into a temporary table and one ``INSERT ... SELECT ... ORDER BY <unique key> ON CONFLICT
DO NOTHING``: writers on that path take their locks in the same order, and one that still loses
a deadlock to a COPY retries (:data:`DEADLOCK_RETRIES`). On SQLite an ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``.
Re-sending is always safe (idempotent). Decision: no pre-check for stored rows before the COPY
(an earlier version probed a sample of the chunk's pairs): the probe needs the whole chunk
parsed first, which is the overlap this design buys, and a conflicting chunk costs one failed
COPY (the server stops at the first stored row; the client still sends the rest) before the
``ON CONFLICT`` insert.

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

import itertools
import logging
import operator
import struct
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, OuterRef, Subquery
from django.utils import timezone
from psycopg.adapt import PyFormat
from psycopg.copy import LibpqWriter

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


_UUID_ORDER = operator.attrgetter("int")


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
    # Rows are keyed by the meter's and the series' rank in PostgreSQL's uuid order (the order of
    # UUID.int), so that sorting the keys natively sorts by the unique key. (Sorting on .int
    # compares in C: 2 ms for 10,000 meters where UUID objects take 8.)
    meter_ids = sorted({row[0] for row in meters.values()}, key=_UUID_ORDER)
    series_ids = sorted({row[0] for row in series_map.values()}, key=_UUID_ORDER)
    meter_rank = {pk: rank for rank, pk in enumerate(meter_ids)}
    series_rank = {pk: rank for rank, pk in enumerate(series_ids)}

    def verdict(meter_ref: str, series_ref: str) -> tuple:
        """(0, meter rank, series rank) | (1, None, None): stage | (2, reason, None): reject."""
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
        return (0, meter_rank[meter[0]], series_rank[series[0]])

    # Pass 2: parse, classify, collapse repeats within the batch (first occurrence wins). A
    # generator: the insert pulls the new rows while it streams them to PostgreSQL, so the server
    # stores the first rows while the rest are still being parsed.
    verdicts: dict[tuple[str, str], tuple] = {}
    ts_cache: dict[str, datetime] = {}
    rows: dict[tuple, Decimal] = {}
    staged: dict[tuple, Decimal] = {}
    valid = 0

    def new_rows() -> Iterator[tuple]:
        nonlocal valid
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
                    yield key
            elif kind == 1:
                key = (meter, series, ts)
                if key in staged:
                    summary.duplicates += 1
                else:
                    staged[key] = value
            else:
                summary.reject(pos, a)

    inserted = _insert_readings(org_id, meter_ids, series_ids, rows, new_rows())
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


def _insert_readings(
    org_id: uuid.UUID,
    meter_ids: list[uuid.UUID],
    series_ids: list[uuid.UUID],
    rows: dict[tuple, Decimal],
    keys: Iterator[tuple],
) -> int:
    """Insert the rows whose keys ``keys`` yields (``(meter rank, series rank, timestamp)``,
    ranks indexing ``meter_ids`` and ``series_ids``; values in ``rows``); the number inserted.
    ``keys`` is consumed completely, whatever happens to the rows.

    On PostgreSQL, per chunk of :data:`CHUNK_SIZE` rows in a transaction of its own (a savepoint
    inside an enclosing transaction): first a binary ``COPY`` straight into the table under a
    savepoint, streamed while ``keys`` is still being parsed. New readings, the usual case, are
    then stored at COPY speed. When the chunk meets a stored reading the unique key stops the
    COPY (and a deadlock with a concurrent COPY of overlapping rows in another order stops one of
    the two): the savepoint is rolled back and the chunk goes in with
    :func:`_insert_chunk_on_conflict`, sorted by the unique key."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        return _insert_ignoring_conflicts(
            MeterReading,
            ("organization_id", "meter_device_id", "series_id", "timestamp", "value", "created_at"),
            [(org_id, meter_ids[m], series_ids[s], t, rows[m, s, t], now) for m, s, t in keys],
            conflict=("meter_device_id", "series_id", "timestamp"),
        )
    table = connection.ops.quote_name(MeterReading._meta.db_table)
    encoder = _CopyEncoder(org_id, meter_ids, series_ids, now)
    keys = iter(keys)
    total = 0
    while (first := next(keys, None)) is not None:
        chunk = [first]
        with transaction.atomic():
            connection.ensure_connection()
            # A psycopg cursor on Django's connection: COPY is not in Django's cursor API.
            with psycopg.Cursor(connection.connection) as cursor:
                cursor.execute("SAVEPOINT ingest_copy")
                try:
                    with cursor.copy(
                        f"COPY {table} (organization_id, meter_device_id, series_id, timestamp, value, "
                        "created_at) FROM STDIN (FORMAT BINARY)",
                        # Each slice goes to the server when it is written, not when libpq's
                        # buffer happens to fill: the server works on it while we parse.
                        writer=LibpqWriter(cursor, flush_threshold=0),
                    ) as copy:
                        encoder.stream(copy, chunk, keys, rows, CHUNK_SIZE)
                except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
                    cursor.execute("ROLLBACK TO SAVEPOINT ingest_copy")
                    encoder.fill(chunk, keys, CHUNK_SIZE)  # in case the COPY stopped mid-stream
                    total += _insert_chunk_on_conflict(cursor, table, encoder, rows, chunk)
                else:
                    cursor.execute("RELEASE SAVEPOINT ingest_copy")
                    total += len(chunk)
    return total


#: How often a conflicting chunk is retried after losing a deadlock to a concurrent writer.
DEADLOCK_RETRIES = 5


def _insert_chunk_on_conflict(
    cursor: psycopg.Cursor, table: str, encoder: _CopyEncoder, rows: dict[tuple, Decimal], chunk: list[tuple]
) -> int:
    """A binary ``COPY`` of the chunk into a session temporary table, then ``INSERT ... SELECT
    ... ORDER BY <unique key> ON CONFLICT DO NOTHING``: writers on this path take their locks in
    the same order and cannot deadlock each other. One still streaming a COPY in another order
    can: then PostgreSQL stops one of the two, and if it is this one, the insert is retried
    (ingestion is idempotent). Measured against binding the chunk as arrays to ``unnest``: the
    arrays cost 80 ms per 10,000 rows, the temporary table 48 ms (psycopg dumps array elements
    one by one; the COPY stream is encoded by :class:`_CopyEncoder`). The temporary table means
    a transaction-pooling connection pooler (pgbouncer) is not supported."""
    temp = '"_ingest_readings"'
    chunk.sort()
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} (o uuid, m uuid, s uuid, ts timestamptz, v numeric, "
        f"c timestamptz) ON COMMIT DELETE ROWS; DELETE FROM {temp}"  # rows of an enclosing transaction's chunk
    )
    with cursor.copy(f"COPY {temp} FROM STDIN (FORMAT BINARY)") as copy:
        encoder.stream(copy, chunk, iter(()), rows, len(chunk))
    for attempt in range(DEADLOCK_RETRIES + 1):
        cursor.execute("SAVEPOINT ingest_conflict")
        try:
            cursor.execute(
                f"INSERT INTO {table} (organization_id, meter_device_id, series_id, timestamp, value, created_at) "
                f"SELECT o, m, s, ts, v, c FROM {temp} ORDER BY 2, 3, 4 ON CONFLICT DO NOTHING"
            )
        except psycopg.errors.DeadlockDetected:
            cursor.execute("ROLLBACK TO SAVEPOINT ingest_conflict")
            if attempt == DEADLOCK_RETRIES:
                raise
            logger.warning("readings chunk lost a deadlock, retrying", extra={"rows": len(chunk)})
            continue
        inserted = cursor.rowcount
        cursor.execute("RELEASE SAVEPOINT ingest_conflict")
        return inserted
    raise AssertionError("unreachable")


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_pack_length = struct.Struct("!i").pack
_decimal_binary = psycopg.adapters.get_dumper(Decimal, PyFormat.BINARY)(Decimal).dump
_timestamptz_binary = psycopg.adapters.get_dumper(datetime, PyFormat.BINARY)(datetime).dump


def _field(data: bytes) -> bytes:
    return _pack_length(len(data)) + data


class _CopyEncoder:
    """Writes the binary COPY stream of (organization, meter, series, timestamp, value,
    created_at) rows in slices of :data:`SLICE` rows as they are parsed, so that PostgreSQL
    stores one slice while the next is parsed and encoded (the benchmark's ceiling, psycopg's
    ``write_row``, overlaps the same way through its buffer).

    Why not ``Copy.write_row``: it runs Python per row and per field (its uuid dumper is pure
    Python) and was half of the COPY's time. Here the constant parts are encoded once
    (organization, created_at, each meter/series pair, each distinct timestamp: a batch shares
    its timestamps across meters) and only the value goes through a dumper per row, psycopg's
    own C ``numeric`` encoder, so the bytes are exactly what ``write_row`` would send. Format:
    the PostgreSQL binary COPY layout (header, per row a field count and length-prefixed
    fields, trailer)."""

    SLICE = 500

    def __init__(self, org_id: uuid.UUID, meter_ids: list[uuid.UUID], series_ids: list[uuid.UUID], now):
        self.row_head = b"\x00\x06" + _field(org_id.bytes)
        self.row_tail = _field(bytes(_timestamptz_binary(now)))
        self.meters = [_field(pk.bytes) for pk in meter_ids]
        self.series = [_field(pk.bytes) for pk in series_ids]
        self.pairs: dict[tuple[int, int], bytes] = {}
        self.times: dict[datetime, bytes] = {}

    @staticmethod
    def fill(chunk: list[tuple], keys: Iterator[tuple], limit: int) -> None:
        """Pull keys into ``chunk`` until it holds ``limit`` or ``keys`` is exhausted."""
        if len(chunk) < limit:
            chunk.extend(itertools.islice(keys, limit - len(chunk)))

    def stream(
        self,
        copy: psycopg.Copy,
        chunk: list[tuple],
        keys: Iterator[tuple],
        rows: dict[tuple, Decimal],
        limit: int,
    ) -> None:
        """Write ``chunk``'s keys and then more from ``keys`` (appended to ``chunk`` before they
        are written) until ``chunk`` holds ``limit`` keys or ``keys`` is exhausted."""
        copy.write(_COPY_HEADER)
        pairs, times = self.pairs, self.times
        row_tail = self.row_tail
        done = 0
        while True:
            self.fill(chunk, keys, min(limit, done + self.SLICE))
            if done == len(chunk):
                break
            parts: list[bytes] = []
            append = parts.append
            for key in chunk[done:]:
                prefix = pairs.get(key[:2])
                if prefix is None:
                    prefix = pairs[key[:2]] = self.row_head + self.meters[key[0]] + self.series[key[1]]
                ts = times.get(key[2])
                if ts is None:
                    ts = times[key[2]] = _field(bytes(_timestamptz_binary(key[2])))
                value = _decimal_binary(rows[key])
                append(prefix)
                append(ts)
                append(_pack_length(len(value)))
                append(value)
                append(row_tail)
            copy.write(b"".join(parts))
            done = len(chunk)
        copy.write(_COPY_TRAILER)


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


# --- series deletion ---------------------------------------------------------------------------


def series_reading_sample(series: MeterReadingSeries) -> MeterReading | None:
    """One reading of ``series``, or None when it has none.

    The readings table has no index on the series alone (one index fewer to write per ingested
    reading), so this walks the organization's meters and looks each (meter, series) prefix up in
    the unique key: one index probe per meter, never a scan of the table. Readings always belong
    to a meter of their series' organization (ingestion resolves both by name within it)."""
    first = (
        MeterDevice.objects.filter(organization_id=series.organization_id)
        .annotate(
            reading=Subquery(
                # Ordered by timestamp so the plan is the unique key's index (a LIMIT 1 without
                # an order may be planned as a table scan, which is a full scan for a meter
                # that has no reading of this series).
                MeterReading.objects.filter(meter_device_id=OuterRef("pk"), series_id=series.pk)
                .order_by("timestamp")
                .values("pk")[:1]
            )
        )
        .filter(reading__isnull=False)
        .order_by()
        .values_list("reading", flat=True)[:1]
    )
    reading_id = next(iter(first), None)
    return None if reading_id is None else MeterReading.objects.get(pk=reading_id)


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
