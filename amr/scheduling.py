"""Schedule arithmetic, in UTC and nothing else (pure functions, no Django, no database).

A schedule defines *slots*: ``quarterly`` at minutes 00/15/30/45, ``hourly`` at :00, ``daily`` at
00:00, ``weekly`` on Monday 00:00, ``monthly`` on the 1st 00:00, ``yearly`` on 1 January 00:00.
A task's run for a slot is *due* at ``slot + run_offset_seconds``; it never runs before that.
``run_offset_seconds`` lies in ``0 .. period`` (the shortest period for months and years: 28 and
365 days), so a task runs exactly once per slot and never skips one.

Every value is an aware UTC datetime; daylight saving time cannot shift a slot because there is
none in UTC. Naive datetimes are refused rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

SCHEDULES = ("quarterly", "hourly", "daily", "weekly", "monthly", "yearly")

#: The largest ``run_offset_seconds`` of each schedule (its shortest period).
MAX_OFFSET_SECONDS: dict[str, int] = {
    "quarterly": 15 * 60,
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 28 * 86400,
    "yearly": 365 * 86400,
}


class ScheduleError(ValueError):
    """An unknown schedule, a naive datetime, or an offset outside the schedule's period."""


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ScheduleError("schedule arithmetic needs an aware datetime (UTC)")
    return moment.astimezone(UTC)


def _check(schedule: str) -> None:
    if schedule not in MAX_OFFSET_SECONDS:
        raise ScheduleError(f"unknown schedule {schedule!r} (one of {', '.join(SCHEDULES)})")


def offset_error(schedule: str, offset_seconds: int) -> str | None:
    """Why ``offset_seconds`` is not allowed for ``schedule``, or None when it is."""
    _check(schedule)
    limit = MAX_OFFSET_SECONDS[schedule]
    if isinstance(offset_seconds, bool) or not isinstance(offset_seconds, int):
        return "run_offset_seconds must be an integer number of seconds."
    if offset_seconds < 0:
        return "run_offset_seconds may not be negative: a task never runs before its time."
    if offset_seconds > limit:
        return (
            f"run_offset_seconds may not exceed the {schedule} schedule's period "
            f"({limit} seconds); got {offset_seconds}."
        )
    return None


def slot_floor(schedule: str, moment: datetime) -> datetime:
    """The latest slot at or before ``moment``."""
    _check(schedule)
    t = _utc(moment)
    if schedule == "quarterly":
        return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)
    if schedule == "hourly":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if schedule == "daily":
        return day
    if schedule == "weekly":
        return day - timedelta(days=day.weekday())
    if schedule == "monthly":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def slot_after(schedule: str, slot: datetime) -> datetime:
    """The slot following ``slot`` (which must itself be a slot)."""
    _check(schedule)
    s = _utc(slot)
    if schedule == "quarterly":
        return s + timedelta(minutes=15)
    if schedule == "hourly":
        return s + timedelta(hours=1)
    if schedule == "daily":
        return s + timedelta(days=1)
    if schedule == "weekly":
        return s + timedelta(days=7)
    if schedule == "monthly":
        return s.replace(year=s.year + 1, month=1) if s.month == 12 else s.replace(month=s.month + 1)
    return s.replace(year=s.year + 1)


def slot_before(schedule: str, slot: datetime) -> datetime:
    """The slot preceding ``slot`` (which must itself be a slot)."""
    return slot_floor(schedule, _utc(slot) - timedelta(microseconds=1))


def slots_between(schedule: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """Slots ``s`` with ``start < s <= end``, oldest first."""
    slot = slot_floor(schedule, end)
    found = []
    start = _utc(start)
    while slot > start:
        found.append(slot)
        slot = slot_before(schedule, slot)
    return iter(reversed(found))


def next_run(schedule: str, offset_seconds: int, after: datetime) -> tuple[datetime, datetime]:
    """The first run due strictly after ``after``: ``(slot, due)`` with ``due = slot + offset``."""
    problem = offset_error(schedule, offset_seconds)
    if problem:
        raise ScheduleError(problem)
    after = _utc(after)
    offset = timedelta(seconds=offset_seconds)
    slot = slot_floor(schedule, after - offset)
    while slot + offset <= after:
        slot = slot_after(schedule, slot)
    return slot, slot + offset


def due_slots(schedule: str, offset_seconds: int, after: datetime, until: datetime) -> list[datetime]:
    """Slots whose run is due in ``(after, until]`` for a task with this offset, oldest first."""
    offset = timedelta(seconds=offset_seconds)
    return list(slots_between(schedule, _utc(after) - offset, _utc(until) - offset))


def candidate_slots(schedule: str, after: datetime, until: datetime) -> list[datetime]:
    """Slots that *some* allowed offset makes due in ``(after, until]``: the tick asks the
    database only about these, with the offset range each one implies (see :func:`offset_window`)."""
    limit = timedelta(seconds=MAX_OFFSET_SECONDS[schedule])
    return list(slots_between(schedule, _utc(after) - limit, _utc(until)))


def offset_window(schedule: str, slot: datetime, after: datetime, until: datetime) -> tuple[int, int]:
    """For ``slot``, the offsets ``o`` with ``after < slot + o <= until`` as ``(lo, hi)`` meaning
    ``lo < o <= hi``, clipped to the allowed range (``hi < 0`` or ``lo >= hi``: none)."""
    lo = (_utc(after) - _utc(slot)).total_seconds()
    hi = (_utc(until) - _utc(slot)).total_seconds()
    # Offsets are whole seconds: o > lo  <=>  o > floor(lo);  o <= hi  <=>  o <= floor(hi).
    return max(math.floor(lo), -1), min(math.floor(hi), MAX_OFFSET_SECONDS[schedule])
