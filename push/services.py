"""Push processing: spooled frames → ``RawPushFrame`` rows → decrypted notifications → readings.

Two steps, each safe to repeat after any failure:

1. :func:`push_frames_import` stores spool records as ``pending`` rows (``spool_key`` is unique,
   so a record imported twice is stored once). Only then may the spool forget them.
2. :func:`push_frames_process` takes pending rows in arrival order, in batches, and settles each
   as ``processed`` or ``rejected`` (with the reason) inside ONE transaction per batch, together
   with the invocation counters and the readings. A database error rolls the whole batch back:
   the frames stay pending and the counters unmoved, so the retry sees exactly the same state.
   A batch that failed once is retried one frame at a time, so one poisonous frame cannot hold
   the others back; a frame that fails :data:`MAX_ATTEMPTS` times is rejected with the error.

Per notification: the sender is identified by the system title of the general-glo/ded-ciphering
header (``MeterDevice.dlms_system_title``; lower- or upper-case hex), its key chosen by the
security control byte (broadcast bit → GBEK, else GUEK; a pushing meter has no association, so
general-ded carries the same configured key), the APDU decrypted and its tag checked
(``protocols.dlms``), the notification decoded, and only then the invocation counter checked:
it must be strictly greater than the last one accepted for that meter and key
(``DlmsInvocationCounter``, ``key_name`` ``push:guek`` / ``push:gbek``, locked with
``SELECT ... FOR UPDATE``). Checking after decoding means a forged encryption-only frame (security
control 0x20 has no tag) cannot push the counter up: it does not decode.

Plain notifications name no system title: the meter is found by the logical device name
(0-0:42.0.0.255 → ``dlms_logical_device_name``) or the device id (0-0:96.1.0.255 / 96.1.1.255 →
``manufacturer_serial``) in the list, and refused for a meter that has a GUEK (it pushes ciphered;
a plain frame claiming to be it is not trusted).

Values: numbers with an OBIS code become readings of series ``A.B.C.D.E.F`` in the meter's
organization, scaled exactly (``Decimal``). Timestamp: the notification's date-time; else a clock
value (0-0:1.0.0.255) in the list; a date-time without deviation is read in the meter's config
timezone; else the time the frame was received. A series the organization lacks is created (with
the pushed unit) only when ``Organization.auto_create_series``; otherwise the value is listed in
the frame's ``report["not_recorded"]`` with the reason, as is anything the ingestion refuses.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from meters.models import DlmsInvocationCounter, MeterDevice, MeterReadingSeries
from protocols.dlms import hdlc, mbus, security, wrapper
from protocols.dlms.frames import DecodedApdu, decode_apdu
from protocols.errors import ProtocolError

from . import conf
from .models import FrameState, RawPushFrame
from .spool import SpoolRecord

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LLC_HEADERS = (b"\xe6\xe7\x00", b"\xe6\xe6\x00")
CLOCK_OBIS = "0-0:1.0.0.255"
LOGICAL_DEVICE_NAME_OBIS = "0-0:42.0.0.255"
DEVICE_ID_OBIS = ("0-0:96.1.0.255", "0-0:96.1.1.255")


# --- the one call into the readings ingestion ------------------------------------------------------


def ingest_readings(
    *, organization_id: uuid.UUID, items: Sequence[Mapping[str, Any]]
) -> list[tuple[int, str]]:
    """Store readings through the meters ingestion service; returns the (index, reason) of items
    it refused. Items: ``meter_device`` (UUID string), ``series_name``, ``timestamp`` (aware),
    ``value`` (Decimal). The only place that knows the service's signature."""
    from meters.services.readings import readings_ingest

    summary = readings_ingest(organization_id=organization_id, items=items, stage_unknown_meters=False)
    return [(error["index"], error["reason"]) for error in summary.errors]


# --- step 1: spool → database -------------------------------------------------------------------------


def push_frames_import(*, records: Sequence[SpoolRecord]) -> int:
    """Store spool records as pending frames (repeats are ignored); returns the records given."""
    if not records:
        return 0
    RawPushFrame.objects.bulk_create(
        [
            RawPushFrame(
                spool_key=r.key,
                received_at=datetime.fromtimestamp(r.received_at_us / 1_000_000, UTC),
                transport=r.transport,
                peer=r.peer[:64],
                raw=r.payload,
            )
            for r in records
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    return len(records)


# --- frame layers ---------------------------------------------------------------------------------------


def _strip_llc(payload: bytes) -> bytes:
    return payload[3:] if payload[:3] in LLC_HEADERS else payload


def unwrap_frame(raw: bytes) -> list[bytes]:
    """The APDUs in a received frame: IP wrapper, HDLC (with LLC), wired M-Bus segments or bare."""
    if not raw:
        raise ProtocolError("empty frame")
    if raw[:2] == b"\x00\x01" and len(raw) >= 8:
        return [_strip_llc(wrapper.parse(raw).apdu)]
    if raw[0] == hdlc.FLAG:
        return [_strip_llc(hdlc.parse_frame(raw).info)]
    if raw[0] == mbus.START:
        pushes = mbus.reassemble(mbus.parse_frames(raw))
        complete = [p.apdu for p in pushes if p.complete]
        if not complete:
            raise ProtocolError("M-Bus segments without a complete APDU")
        return complete
    return [_strip_llc(raw)]


# --- step 2: pending frames → readings --------------------------------------------------------------


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Outcome:
    """One notification of a frame, decoded and attributed (or rejected)."""

    meter: MeterDevice | None = None
    system_title: str = ""
    invocation_counter: int | None = None
    rejected: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    timestamp_source: str = ""
    not_recorded: list[dict[str, str]] = field(default_factory=list)
    stored: int = 0


class _Batch:
    """What one processing transaction knows: meters by system title, counters, pending items."""

    def __init__(self, frames: list[RawPushFrame]) -> None:
        self.frames = frames
        self.meters_by_title: dict[str, list[MeterDevice]] = defaultdict(list)
        self.counters: dict[tuple[uuid.UUID, str], DlmsInvocationCounter] = {}
        self.dirty_counters: set[tuple[uuid.UUID, str]] = set()

    def prefetch(self, apdus_by_frame: dict[int, list[bytes]]) -> None:
        titles: set[str] = set()
        for apdus in apdus_by_frame.values():
            for apdu in apdus:
                try:
                    header = security.parse_ciphered(apdu) if security.is_ciphered(apdu) else None
                except ProtocolError:
                    continue
                if header is not None and header.system_title:
                    titles.add(header.system_title.hex())
        if not titles:
            return
        variants = titles | {t.upper() for t in titles}
        meters = list(_meters().filter(dlms_system_title__in=variants))
        for meter in meters:
            self.meters_by_title[meter.dlms_system_title.lower()].append(meter)
        rows = DlmsInvocationCounter.objects.filter(
            meter_id__in=[m.pk for m in meters], key_name__startswith="push:"
        ).order_by("meter_id", "key_name")
        if connection.features.has_select_for_update:
            rows = rows.select_for_update()
        for row in rows:
            self.counters[(row.meter_id, row.key_name)] = row

    def meter_for_title(self, title: str) -> MeterDevice:
        found = self.meters_by_title.get(title, [])
        if not found:
            raise Rejected(f"unknown system title {title}")
        if len(found) > 1:
            raise Rejected(f"system title {title} is ambiguous: {len(found)} meter devices have it")
        return found[0]

    def accept_counter(self, meter: MeterDevice, key_name: str, counter: int) -> None:
        """Strictly increasing per meter and key; the row is written when the batch commits."""
        key = (meter.pk, key_name)
        row = self.counters.get(key)
        if row is None:
            row = DlmsInvocationCounter.objects.filter(meter=meter, key_name=key_name)
            row = (row.select_for_update() if connection.features.has_select_for_update else row).first()
            if row is None:
                row = DlmsInvocationCounter(meter=meter, key_name=key_name, counter=-1)
            self.counters[key] = row
        if counter <= row.counter:
            raise Rejected(f"replayed invocation counter {counter} (last accepted {row.counter}, {key_name})")
        row.counter = counter
        self.dirty_counters.add(key)

    def save_counters(self) -> None:
        for key in sorted(self.dirty_counters, key=lambda k: (str(k[0]), k[1])):
            row = self.counters[key]
            if row.pk is None:
                row.save(force_insert=True)
            else:
                DlmsInvocationCounter.objects.filter(pk=row.pk).update(
                    counter=row.counter, updated_at=timezone.now()
                )


def _meters():
    return MeterDevice.objects.select_related("organization", "type__config", "security_keys")


def _keys_of(meter: MeterDevice, header: security.CipheredApdu) -> tuple[str, security.SecurityKeys]:
    collection = getattr(meter, "security_keys", None)
    broadcast = bool(header.security_control & security.BROADCAST)
    name, label = ("push:gbek", "GBEK") if broadcast else ("push:guek", "GUEK")
    key_hex = None
    if collection is not None:
        key_hex = (
            collection.dlms_global_broadcast_encryption_key
            if broadcast
            else collection.dlms_global_unicast_encryption_key
        )
    if not key_hex:
        raise Rejected(f"meter device {meter.name!r} has no {label} to decrypt its push")
    try:
        key = bytes.fromhex(key_hex)
        auth = bytes.fromhex(collection.dlms_global_authentication_key or "")
    except ValueError:
        raise Rejected(f"key material of meter device {meter.name!r} is not hex") from None
    return name, security.SecurityKeys(key, auth, header.system_title)


def _meter_for_plain(decoded: DecodedApdu) -> MeterDevice:
    names = [str(v.value) for v in decoded.values if v.obis == LOGICAL_DEVICE_NAME_OBIS and v.value]
    serials = [str(v.value) for v in decoded.values if v.obis in DEVICE_ID_OBIS and v.value]
    found: list[MeterDevice] = []
    if names:
        found = list(_meters().filter(dlms_logical_device_name__in=names))
    if not found and serials:
        found = list(_meters().filter(manufacturer_serial__in=serials))
    if not found:
        raise Rejected(
            "plain notification names no system title, and no logical device name or device id "
            "in its list matches a meter device"
        )
    if len(found) > 1:
        raise Rejected(f"plain notification matches {len(found)} meter devices")
    meter = found[0]
    keys = getattr(meter, "security_keys", None)
    if keys is not None and keys.dlms_global_unicast_encryption_key:
        raise Rejected(f"plain notification for meter device {meter.name!r}, which has a GUEK: refused")
    return meter


def _meter_timezone(meter: MeterDevice):
    config = meter.type.config if meter.type_id and meter.type and meter.type.config_id else None
    return ZoneInfo(config.timezone) if config else None


def _timestamp(decoded: DecodedApdu, meter: MeterDevice, received_at: datetime) -> tuple[datetime, str]:
    tz = _meter_timezone(meter)
    notification = decoded.notification
    if notification is not None and notification.date_time is not None:
        moment = notification.date_time.to_datetime(tz)
        if moment is not None and moment.tzinfo is not None:
            return moment, "notification date-time"
    for value in decoded.values:
        if value.obis == CLOCK_OBIS and isinstance(value.value, str):
            try:
                moment = datetime.fromisoformat(value.value)
            except ValueError:
                continue
            if moment.tzinfo is None and tz is not None:
                moment = moment.replace(tzinfo=tz)
            if moment.tzinfo is not None:
                return moment, "clock value in the list"
    return received_at, "received time"


def _analyse(apdu: bytes, frame: RawPushFrame, batch: _Batch) -> _Outcome:
    outcome = _Outcome()
    try:
        if security.is_ciphered(apdu):
            header = security.parse_ciphered(apdu)
            outcome.invocation_counter = header.invocation_counter
            if not header.system_title:
                raise Rejected(f"{header.name} names no system title: the sender cannot be identified")
            outcome.system_title = header.system_title.hex()
            meter = batch.meter_for_title(outcome.system_title)
            outcome.meter = meter
            key_name, keys = _keys_of(meter, header)
            decoded = decode_apdu(apdu, keys)
            if decoded.notification is None:
                raise Rejected(f"not a data-notification ({decoded.description.get('apdu', '?')})")
            batch.accept_counter(meter, key_name, header.invocation_counter)
        else:
            decoded = decode_apdu(apdu, None)
            if decoded.notification is None:
                raise Rejected(f"not a data-notification ({decoded.description.get('apdu', '?')})")
            meter = _meter_for_plain(decoded)
            outcome.meter = meter
    except Rejected as exc:
        outcome.rejected = exc.reason
        return outcome
    except ProtocolError as exc:
        reason = exc.reason
        if "tag mismatch" in reason:
            reason = f"authentication failed: {reason}"
        outcome.rejected = f"undecodable: {reason}"
        return outcome
    stamp, outcome.timestamp_source = _timestamp(decoded, meter, frame.received_at)
    for value in decoded.values:
        reading = value.to_reading()
        if reading is None or value.obis == CLOCK_OBIS:
            continue
        outcome.items.append(
            {
                "meter_device": str(meter.pk),
                "series_name": reading.series,
                "timestamp": stamp,
                "value": reading.value,
            }
        )
        outcome.units[reading.series] = reading.unit or "?"
    return outcome


def _ingest(batch_outcomes: list[_Outcome]) -> None:
    """Create or report missing series, then one ingestion call per organization."""
    by_org: dict[uuid.UUID, list[tuple[_Outcome, dict[str, Any]]]] = defaultdict(list)
    for outcome in batch_outcomes:
        if outcome.rejected is None and outcome.meter is not None:
            for item in outcome.items:
                by_org[outcome.meter.organization_id].append((outcome, item))
    for org_id, pairs in by_org.items():
        organization = pairs[0][0].meter.organization
        names = {item["series_name"] for _, item in pairs}
        known = set(
            MeterReadingSeries.objects.filter(organization_id=org_id, name__in=names).values_list(
                "name", flat=True
            )
        )
        missing = names - known
        if missing and organization.auto_create_series:
            units: dict[str, str] = {}
            for outcome, item in pairs:
                units.setdefault(item["series_name"], outcome.units.get(item["series_name"], "?")[:10])
            MeterReadingSeries.objects.bulk_create(
                [
                    MeterReadingSeries(
                        organization_id=org_id, name=n, unit=units[n], description="created by push"
                    )
                    for n in sorted(missing)
                ],
                ignore_conflicts=True,
            )
            missing = set()
        sendable: list[tuple[_Outcome, dict[str, Any]]] = []
        for outcome, item in pairs:
            if item["series_name"] in missing:
                outcome.not_recorded.append(
                    _not_recorded(
                        item,
                        "unknown series in the organization (auto_create_series is off)",
                    )
                )
            else:
                sendable.append((outcome, item))
        if not sendable:
            continue
        refused = dict(ingest_readings(organization_id=org_id, items=[item for _, item in sendable]))
        for index, (outcome, item) in enumerate(sendable):
            if index in refused:
                outcome.not_recorded.append(_not_recorded(item, refused[index]))
            else:
                outcome.stored += 1


def _not_recorded(item: Mapping[str, Any], reason: str) -> dict[str, str]:
    return {"series": item["series_name"], "value": format(item["value"], "f"), "reason": reason}


@dataclass
class ProcessSummary:
    processed: int = 0
    rejected: int = 0
    readings: int = 0

    @property
    def frames(self) -> int:
        return self.processed + self.rejected


def push_frames_process(*, limit: int = 500) -> ProcessSummary:
    """Settle up to ``limit`` pending frames (oldest first). Raises ``DatabaseError`` when the
    database fails; the frames then stay pending for the next call."""
    pending = list(
        RawPushFrame.objects.filter(state=FrameState.PENDING)
        .order_by("id")
        .values_list("id", "attempts")[:limit]
    )
    if not pending:
        return ProcessSummary()
    if pending[0][1] >= 1:
        pending = pending[:1]  # this frame's batch failed before: isolate it
    ids = [pk for pk, _ in pending]
    RawPushFrame.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1)
    summary = ProcessSummary()
    if pending[0][1] >= MAX_ATTEMPTS:
        reason = f"gave up after {MAX_ATTEMPTS} attempts that failed with a database error"
        RawPushFrame.objects.filter(pk__in=ids).update(
            state=FrameState.REJECTED, reason=reason, processed_at=timezone.now()
        )
        logger.error("push frame %s rejected: %s", ids[0], reason)
        summary.rejected = 1
        return summary
    with transaction.atomic():
        frames = RawPushFrame.objects.filter(pk__in=ids, state=FrameState.PENDING).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            frames = frames.select_for_update(skip_locked=True)
        frames = list(frames)
        apdus_by_frame: dict[int, list[bytes]] = {}
        outcomes_by_frame: dict[int, list[_Outcome]] = {}
        for frame in frames:
            try:
                apdus_by_frame[frame.pk] = unwrap_frame(bytes(frame.raw))
            except ProtocolError as exc:
                outcomes_by_frame[frame.pk] = [_Outcome(rejected=f"undecodable frame: {exc.reason}")]
        batch = _Batch(frames)
        batch.prefetch(apdus_by_frame)
        for frame in frames:
            if frame.pk in apdus_by_frame:
                outcomes_by_frame[frame.pk] = [_analyse(a, frame, batch) for a in apdus_by_frame[frame.pk]]
        _ingest([o for outcomes in outcomes_by_frame.values() for o in outcomes])
        batch.save_counters()
        now = timezone.now()
        for frame in frames:
            _settle(frame, outcomes_by_frame[frame.pk], now)
            if frame.state == FrameState.PROCESSED:
                summary.processed += 1
                summary.readings += frame.readings
            else:
                summary.rejected += 1
        _save_outcomes(frames)
    return summary


SETTLED_COLUMNS = (
    "state",
    "reason",
    "system_title",
    "invocation_counter",
    "organization_id",
    "meter_id",
    "readings",
    "report",
    "processed_at",
)


def _save_outcomes(frames: list[RawPushFrame]) -> None:
    """One ``UPDATE ... WHERE id = %s`` executed for many rows: ``bulk_update``'s CASE expressions
    cost ~8 ms per frame here, which capped the whole receiver at ~100 frames/s."""
    if not frames:
        return
    fields = {f.column: f for f in RawPushFrame._meta.concrete_fields}
    table = connection.ops.quote_name(RawPushFrame._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in SETTLED_COLUMNS)
    sql = f"UPDATE {table} SET {assignments} WHERE {connection.ops.quote_name('id')} = %s"
    params = [
        [fields[c].get_db_prep_save(getattr(frame, fields[c].attname), connection) for c in SETTLED_COLUMNS]
        + [frame.pk]
        for frame in frames
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _settle(frame: RawPushFrame, outcomes: list[_Outcome], now: datetime) -> None:
    first = outcomes[0]
    frame.system_title = first.system_title
    frame.invocation_counter = first.invocation_counter
    identified = next((o.meter for o in outcomes if o.meter is not None), None)
    frame.meter = identified
    frame.organization_id = identified.organization_id if identified else None
    frame.processed_at = now
    frame.readings = sum(o.stored for o in outcomes)
    notes = []
    for outcome in outcomes:
        note: dict[str, Any] = {}
        if outcome.rejected:
            note["rejected"] = outcome.rejected
        else:
            note.update(values=len(outcome.items), stored=outcome.stored, timestamp=outcome.timestamp_source)
        if outcome.invocation_counter is not None:
            note["invocation_counter"] = outcome.invocation_counter
        if outcome.not_recorded:
            note["not_recorded"] = outcome.not_recorded
        notes.append(note)
    frame.report = {"notifications": notes} if len(notes) > 1 else notes[0]
    accepted = [o for o in outcomes if o.rejected is None]
    if accepted:
        frame.state, frame.reason = FrameState.PROCESSED, ""
        unrecorded = sum(len(o.not_recorded) for o in accepted)
        if unrecorded:
            frame.reason = f"{unrecorded} value(s) not recorded, see the report"[:500]
        return
    frame.state = FrameState.REJECTED
    frame.reason = first.rejected[:500]
    logger.warning(
        "push frame %s rejected: %s",
        frame.pk,
        frame.reason,
        extra={"push_frame": frame.pk, "peer": frame.peer, "system_title": frame.system_title},
    )


def push_frames_apply_retention(
    *, now: datetime | None = None, days: int | None | type[Ellipsis] = ..., batch_size: int = 5000
) -> int:
    """Delete settled frames (processed or rejected) received more than ``days`` ago, in short
    batches; pending frames are never deleted, whatever their age: they still hold readings."""
    if days is ...:
        days = conf.frame_retention_days()
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=int(days))
    settled = RawPushFrame.objects.filter(
        received_at__lt=cutoff, state__in=[FrameState.PROCESSED, FrameState.REJECTED]
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(settled.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            deleted += RawPushFrame.objects.filter(pk__in=ids).delete()[0]
    logger.info("push frame retention: %d frame(s) deleted", deleted, extra={"cutoff": cutoff.isoformat()})
    return deleted
