"""Schedule arithmetic (amr/scheduling.py): UTC slots, offsets, boundaries, never early."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from amr import scheduling
from amr.scheduling import ScheduleError, due_slots, next_run, offset_error, slot_after, slot_floor


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "schedule, moment, floor, after",
    [
        ("quarterly", utc(2025, 3, 4, 10, 7, 30), utc(2025, 3, 4, 10, 0), utc(2025, 3, 4, 10, 15)),
        ("quarterly", utc(2025, 3, 4, 10, 59, 59), utc(2025, 3, 4, 10, 45), utc(2025, 3, 4, 11, 0)),
        ("hourly", utc(2025, 3, 4, 10, 7), utc(2025, 3, 4, 10), utc(2025, 3, 4, 11)),
        ("hourly", utc(2025, 12, 31, 23, 30), utc(2025, 12, 31, 23), utc(2026, 1, 1, 0)),
        ("daily", utc(2025, 2, 28, 13), utc(2025, 2, 28), utc(2025, 3, 1)),
        ("daily", utc(2024, 2, 28, 13), utc(2024, 2, 28), utc(2024, 2, 29)),
        ("weekly", utc(2025, 1, 1, 12), utc(2024, 12, 30), utc(2025, 1, 6)),  # Wednesday -> Monday
        ("weekly", utc(2025, 1, 6, 0), utc(2025, 1, 6), utc(2025, 1, 13)),
        ("monthly", utc(2025, 1, 31, 23, 59), utc(2025, 1, 1), utc(2025, 2, 1)),
        ("monthly", utc(2025, 12, 15), utc(2025, 12, 1), utc(2026, 1, 1)),
        ("yearly", utc(2024, 12, 31, 23, 59, 59), utc(2024, 1, 1), utc(2025, 1, 1)),
    ],
)
def test_every_schedule_has_utc_slots(schedule, moment, floor, after) -> None:
    assert slot_floor(schedule, moment) == floor
    assert slot_after(schedule, floor) == after
    assert scheduling.slot_before(schedule, after) == floor


def test_a_slot_is_its_own_floor() -> None:
    for schedule in scheduling.SCHEDULES:
        slot = slot_floor(schedule, utc(2025, 6, 18, 13, 37))
        assert slot_floor(schedule, slot) == slot


def test_next_run_is_strictly_after_and_never_early() -> None:
    assert next_run("quarterly", 0, utc(2025, 1, 1, 10, 7)) == (
        utc(2025, 1, 1, 10, 15),
        utc(2025, 1, 1, 10, 15),
    )
    # exactly at a due time: that run is not "after", the next one is
    assert next_run("quarterly", 0, utc(2025, 1, 1, 10, 15))[1] == utc(2025, 1, 1, 10, 30)
    assert next_run("hourly", 600, utc(2025, 1, 1, 10, 5)) == (utc(2025, 1, 1, 10), utc(2025, 1, 1, 10, 10))
    assert next_run("hourly", 600, utc(2025, 1, 1, 10, 10)) == (utc(2025, 1, 1, 11), utc(2025, 1, 1, 11, 10))


def test_offset_up_to_the_whole_period_delays_into_the_next_slot() -> None:
    # a quarterly task may be delayed 15 minutes: the :00 run happens at :15
    assert next_run("quarterly", 900, utc(2025, 1, 1, 10, 7)) == (
        utc(2025, 1, 1, 10),
        utc(2025, 1, 1, 10, 15),
    )
    # monthly: bounded by February (28 days), so February's run still happens in February or on 1 March
    slot, due = next_run("monthly", 28 * 86400, utc(2025, 2, 1))
    assert (slot, due) == (utc(2025, 2, 1), utc(2025, 3, 1))


def test_month_and_year_boundaries() -> None:
    assert due_slots("monthly", 0, utc(2024, 12, 31, 23, 59), utc(2025, 1, 1, 0, 1)) == [utc(2025, 1, 1)]
    assert due_slots("yearly", 3600, utc(2025, 1, 1, 0, 30), utc(2025, 1, 1, 1, 0)) == [utc(2025, 1, 1)]
    assert due_slots("monthly", 0, utc(2025, 1, 15), utc(2025, 4, 15)) == [
        utc(2025, 2, 1),
        utc(2025, 3, 1),
        utc(2025, 4, 1),
    ]
    assert due_slots("daily", 0, utc(2024, 2, 28, 12), utc(2024, 3, 1, 12)) == [
        utc(2024, 2, 29),
        utc(2024, 3, 1),
    ]


def test_dst_is_irrelevant_because_slots_are_utc() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    # The night clocks jump from 02:00 to 03:00 local: four hourly slots in four UTC hours.
    start = datetime(2025, 3, 30, 0, 30, tzinfo=amsterdam)  # 23:30 UTC the day before
    end = datetime(2025, 3, 30, 4, 30, tzinfo=amsterdam)  # 02:30 UTC
    assert due_slots("hourly", 0, start, end) == [
        utc(2025, 3, 30, 0),
        utc(2025, 3, 30, 1),
        utc(2025, 3, 30, 2),
    ]
    # A daily slot is UTC midnight, whatever zone the caller's clock shows.
    assert slot_floor("daily", datetime(2025, 10, 26, 1, 30, tzinfo=amsterdam)) == utc(2025, 10, 25)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ScheduleError):
        slot_floor("hourly", datetime(2025, 1, 1, 10))


def test_offset_validation_names_the_limit() -> None:
    assert offset_error("quarterly", 0) is None
    assert offset_error("quarterly", 900) is None
    assert "900 seconds" in offset_error("quarterly", 901)
    assert "negative" in offset_error("hourly", -1)
    assert offset_error("hourly", True) is not None
    assert offset_error("yearly", 365 * 86400) is None
    with pytest.raises(ScheduleError):
        offset_error("fortnightly", 0)


def test_consecutive_windows_find_every_run_exactly_once() -> None:
    """Ticks at irregular moments (including a long gap) see each (slot, offset) run once."""
    rng = random.Random(7)
    for schedule in scheduling.SCHEDULES:
        limit = scheduling.MAX_OFFSET_SECONDS[schedule]
        offset = rng.choice([0, 1, limit // 2, limit])
        start = utc(2024, 11, 20) + timedelta(seconds=rng.randrange(86400))
        span = {"quarterly": 2, "hourly": 5, "daily": 40, "weekly": 120, "monthly": 500, "yearly": 2000}
        end = start + timedelta(days=span[schedule])
        ticks = [start]
        while ticks[-1] < end:
            ticks.append(ticks[-1] + timedelta(seconds=rng.choice([60, 60, 61, 3600, 7 * 3600, 86400])))
        seen = []
        for before, now in zip(ticks, ticks[1:], strict=False):
            for slot in due_slots(schedule, offset, before, now):
                due = slot + timedelta(seconds=offset)
                assert before < due <= now  # never early, never twice
                seen.append(slot)
        assert seen == due_slots(schedule, offset, ticks[0], ticks[-1])
        assert len(seen) == len(set(seen))


def test_candidate_slots_cover_every_offset() -> None:
    after, until = utc(2025, 5, 1, 10, 0, 30), utc(2025, 5, 1, 10, 1, 30)
    for schedule in scheduling.SCHEDULES:
        limit = scheduling.MAX_OFFSET_SECONDS[schedule]
        for offset in (0, 30, 60, 90, limit):
            expected = due_slots(schedule, offset, after, until)
            found = [
                slot
                for slot in scheduling.candidate_slots(schedule, after, until)
                if (lambda w: w[0] < offset <= w[1])(scheduling.offset_window(schedule, slot, after, until))
            ]
            assert found == expected, (schedule, offset)
