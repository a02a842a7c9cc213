"""The least-disruption slot finder on hand-made calendars (the week of Monday 2 March 2026, Berlin)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import WEEKDAYS, DailyHours, Fallback, Preferences, SlotRules
from maintenance_windows.domain.slots import NoSlot, SlotChoice, find_slot, rank_slots

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, TUESDAY, FRIDAY = 2, 3, 6  # days of March 2026
NOW = datetime(2026, 3, 2, 7, 0, tzinfo=BERLIN)  # Monday 07:00, before the working day


def at(day: int, clock: str, zone: ZoneInfo = BERLIN) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return datetime(2026, 3, day, hour, minute, tzinfo=zone)


def meeting(day: int, start: str, end: str) -> Interval:
    return Interval(at(day, start), at(day, end))


def every_weekday(start: str, end: str, days: range = range(2, 14)) -> list[Interval]:
    return [meeting(day, start, end) for day in days if date(2026, 3, day).weekday() < 5]


def choose(busy: list[Interval], rules: SlotRules | None = None, **options: object) -> SlotChoice:
    result = find_slot(busy, "Europe/Berlin", NOW, rules or SlotRules(), **options)  # type: ignore[arg-type]
    assert isinstance(result, SlotChoice), result
    return result


def local(choice: SlotChoice) -> tuple[int, str]:
    return choice.local_start.day, f"{choice.local_start:%H:%M}"


def test_empty_calendar_books_the_first_lunch_break() -> None:
    choice = choose([])
    assert local(choice) == (MONDAY, "12:00")
    assert choice.start == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert choice.end - choice.start == timedelta(minutes=30)
    assert choice.start.tzinfo == UTC
    assert choice.local_start.tzinfo == BERLIN
    assert choice.reason == "lunch break; calendar free 12:00–13:30; no meetings on Monday"
    assert choice.fallback is None
    assert not choice.late
    assert not choice.double_booked


def test_a_free_lunch_beats_the_start_of_the_day() -> None:
    choice = choose([meeting(MONDAY, "10:00", "11:00")])
    assert local(choice) == (MONDAY, "12:00")
    assert choice.reason == "lunch break; calendar free 12:00–13:30"


def test_lunch_free_only_in_part_names_the_free_stretch() -> None:
    busy = every_weekday("12:00", "12:45") + every_weekday("09:00", "11:00") + every_weekday("14:00", "17:00")
    choice = choose(busy)
    assert local(choice) == (MONDAY, "13:00")
    assert choice.reason == "lunch break; calendar free 12:45–13:30"


def test_busy_lunches_move_the_window_to_the_start_of_the_day() -> None:
    busy = [*every_weekday("12:00", "13:30"), meeting(MONDAY, "10:00", "11:00")]
    choice = choose(busy)
    assert local(choice) == (MONDAY, "09:00")
    assert choice.reason == "start of day, before your first meeting at 10:00"


def test_end_of_day_after_the_last_meeting() -> None:
    busy = every_weekday("09:00", "15:00")
    choice = choose(busy)
    assert local(choice) == (MONDAY, "16:30")
    assert choice.reason == "end of day, after your last meeting at 15:00"


def test_a_zero_weight_switches_a_preference_off() -> None:
    rules = SlotRules(preferences=Preferences(lunch=0))
    assert local(choose([], rules)) == (MONDAY, "09:00")


def test_a_packed_day_moves_to_a_lighter_day() -> None:
    monday = [meeting(MONDAY, "09:00", "14:00"), meeting(MONDAY, "15:00", "17:00")]
    tuesday = [meeting(TUESDAY, "10:00", "11:00")]
    later = [meeting(day, "09:00", "11:00") for day in (4, 5, 6, 9)]
    choice = choose(monday + tuesday + later, SlotRules(preferences=Preferences(lunch=0)))
    assert local(choice) == (TUESDAY, "09:00")
    assert choice.reason == "start of day, before your first meeting at 10:00; Tuesday is your lightest day"
    # Monday still had a free slot (14:15), it just was not the least disruptive one.
    previews = rank_slots(monday + tuesday + later, "Europe/Berlin", NOW, SlotRules(), limit=200)
    assert (MONDAY, "14:15") in [local(preview) for preview in previews]


def test_weekends_and_holidays_are_skipped() -> None:
    friday_evening = datetime(2026, 3, 6, 17, 0, tzinfo=BERLIN)
    rules = SlotRules(holidays=[date(2026, 3, 9)])
    result = find_slot([], "Europe/Berlin", friday_evening, rules)
    assert isinstance(result, SlotChoice)
    assert result.local_start.date() == date(2026, 3, 10)  # Tuesday: Monday 9 March is a holiday


def test_the_buffer_keeps_a_gap_to_meetings() -> None:
    busy = every_weekday("11:00", "12:00")
    assert local(choose(busy)) == (MONDAY, "12:15")
    assert local(choose(busy, SlotRules(buffer_minutes=0))) == (MONDAY, "12:00")


def test_the_lead_time_is_respected() -> None:
    now = at(MONDAY, "11:50")
    result = find_slot([], "Europe/Berlin", now, SlotRules(min_lead_minutes=60))
    assert isinstance(result, SlotChoice)
    assert result.start >= now + timedelta(minutes=60)
    assert local(result) == (MONDAY, "13:00")  # 12:50 rounds up to the grid; 13:00–13:30 is still lunch


def test_not_before_postpones_the_search() -> None:
    choice = choose([], not_before=at(TUESDAY, "08:00"))
    assert local(choice) == (TUESDAY, "12:00")


def test_a_full_slot_is_skipped() -> None:
    taken = {datetime(2026, 3, 2, 11, 0, tzinfo=UTC): 50}
    assert local(choose([], taken=taken)) == (MONDAY, "12:15")
    assert local(choose([], taken={datetime(2026, 3, 2, 11, 0, tzinfo=UTC): 49})) == (MONDAY, "12:00")


def test_inferred_working_hours_override_the_teams() -> None:
    late_days = {day: DailyHours(start=time(14), end=time(19)) for day in WEEKDAYS[:5]}
    choice = choose([], SlotRules(preferences=Preferences(lunch=0)), working_hours=late_days)
    assert local(choice) == (MONDAY, "14:00")


def test_grid_follows_the_local_clock_in_a_half_hour_zone() -> None:
    hours = {day: DailyHours(start=time(9, 10), end=time(17)) for day in WEEKDAYS[:5]}
    rules = SlotRules(working_hours=hours, preferences=Preferences(lunch=0, day_end=0))
    result = find_slot([], "Asia/Kolkata", datetime(2026, 3, 2, 0, 0, tzinfo=UTC), rules)
    assert isinstance(result, SlotChoice)
    assert f"{result.local_start:%H:%M}" == "09:15"
    assert result.start == datetime(2026, 3, 2, 3, 45, tzinfo=UTC)


def test_rank_slots_lists_the_best_first_and_agrees_with_find_slot() -> None:
    busy = [*every_weekday("10:00", "11:00"), meeting(MONDAY, "12:00", "13:00")]
    ranked = rank_slots(busy, "Europe/Berlin", NOW, SlotRules(), limit=10)
    assert len(ranked) == 10
    assert [choice.score for choice in ranked] == sorted((choice.score for choice in ranked), reverse=True)
    assert ranked[0] == find_slot(busy, "Europe/Berlin", NOW, SlotRules())
    assert rank_slots(busy, "Europe/Berlin", NOW, SlotRules(), limit=0) == []


def test_equal_scores_go_to_the_earlier_start() -> None:
    off = Preferences(lunch=0, day_start=0, day_end=0, lighter_days=0, sooner=0)
    ranked = rank_slots([], "Europe/Berlin", NOW, SlotRules(preferences=off), limit=3)
    assert [local(choice) for choice in ranked] == [(MONDAY, "09:00"), (MONDAY, "09:15"), (MONDAY, "09:30")]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now"):
        find_slot([], "Europe/Berlin", datetime(2026, 3, 2, 7), SlotRules())


# -- fallbacks: a calendar busy every working hour until Wednesday 11 March -------------------------------

SOLID = every_weekday("08:00", "18:00", range(2, 11)) + every_weekday("08:00", "11:00", range(11, 12))


def test_double_book_takes_the_last_slot_before_the_deadline() -> None:
    result = find_slot(SOLID, "Europe/Berlin", NOW, SlotRules(fallback=Fallback.DOUBLE_BOOK))
    assert isinstance(result, SlotChoice)
    assert local(result) == (FRIDAY, "16:30")  # the deadline is Monday 9 March 07:00
    assert result.fallback is Fallback.DOUBLE_BOOK
    assert result.double_booked
    assert not result.late
    assert result.reason == (
        "no free 30-minute slot before 07:00 on Mon 9 Mar; booked over your calendar at 16:30 on Fri 6 Mar"
    )


def test_double_book_respects_capacity() -> None:
    taken = {at(FRIDAY, "16:30"): 50}
    result = find_slot(SOLID, "Europe/Berlin", NOW, SlotRules(), taken=taken)
    assert isinstance(result, SlotChoice)
    assert local(result) == (FRIDAY, "16:15")


def test_double_book_says_when_capacity_was_the_obstacle() -> None:
    deadline = at(MONDAY, "12:30")
    taken = {at(MONDAY, clock): 1 for clock in ("12:00",)}
    rules = SlotRules(capacity_per_slot=1, min_lead_minutes=60)
    result = find_slot([], "Europe/Berlin", at(MONDAY, "10:45"), rules, taken=taken, deadline=deadline)
    assert isinstance(result, SlotChoice)
    assert local(result) == (MONDAY, "11:45")
    assert result.fallback is None  # 11:45 was free and had room: no fallback needed
    full = {at(MONDAY, clock): 1 for clock in ("11:45", "12:00")}
    result = find_slot([], "Europe/Berlin", at(MONDAY, "10:45"), rules, taken=full, deadline=deadline)
    assert isinstance(result, NoSlot)
    assert result.reason == (
        "no free 30-minute slot with team capacity left before 12:30 on Mon 2 Mar;"
        " nothing to double-book (every slot is at team capacity); fallback 'double_book'"
    )


def test_after_deadline_takes_the_first_free_slot_after_it() -> None:
    result = find_slot(SOLID, "Europe/Berlin", NOW, SlotRules(fallback=Fallback.AFTER_DEADLINE))
    assert isinstance(result, SlotChoice)
    assert local(result) == (11, "11:15")  # busy until 11:00 plus the 10-minute buffer
    assert result.late
    assert result.fallback is Fallback.AFTER_DEADLINE
    assert not result.double_booked
    assert result.reason == (
        "late: no free 30-minute slot before 07:00 on Mon 9 Mar; the first free slot after it is 11:15 on Wed 11 Mar"
    )


def test_after_deadline_gives_up_after_a_bounded_horizon() -> None:
    busy = [Interval(NOW, NOW + timedelta(days=30))]
    result = find_slot(busy, "Europe/Berlin", NOW, SlotRules(fallback=Fallback.AFTER_DEADLINE))
    assert isinstance(result, NoSlot)
    assert "nor in the 14 days after it" in result.reason


def test_skip_books_nothing_and_says_so() -> None:
    deadline = datetime(2026, 3, 9, 0, 0, tzinfo=BERLIN)
    result = find_slot(SOLID, "Europe/Berlin", NOW, SlotRules(fallback=Fallback.SKIP), deadline=deadline)
    assert result == NoSlot("no free 30-minute slot before Mon 9 Mar; fallback 'skip'")
    assert rank_slots(SOLID, "Europe/Berlin", NOW, SlotRules(fallback=Fallback.SKIP), deadline=deadline) == []


# -- clock changes: every slot lasts 30 real minutes and reads as working hours on the local clock ---------


def quarters(first: str, last: str, offset: str) -> list[str]:
    """Local start times every 15 minutes from first to last inclusive, tagged with their UTC offset."""
    start, end = (datetime.strptime(clock, "%H:%M") for clock in (first, last))
    count = (end - start) // timedelta(minutes=15) + 1
    return [f"{start + timedelta(minutes=15 * step):%H:%M}{offset}" for step in range(count)]


def night_rules() -> SlotRules:
    hours = {day: DailyHours(start=time(1), end=time(3, 30)) for day in WEEKDAYS}
    return SlotRules(working_hours=hours, min_lead_minutes=0, preferences=Preferences(lunch=0, day_start=0))


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # Spring forward at 02:00: 02:00–02:59 does not exist; 01:45 runs to 03:15 on the clock.
        ("Europe/Berlin", date(2026, 3, 29), [*quarters("01:00", "01:45", "+01"), "03:00+02"]),
        # Fall back at 03:00 CEST: 02:00–02:59 happens twice, once per offset.
        (
            "Europe/Berlin",
            date(2026, 10, 25),
            [*quarters("01:00", "02:45", "+02"), *quarters("02:00", "03:00", "+01")],
        ),
        # Fall back at 02:00 EDT: 01:00–01:59 happens twice.
        (
            "America/New_York",
            date(2026, 11, 1),
            [*quarters("01:00", "01:45", "-04"), *quarters("01:00", "03:00", "-05")],
        ),
    ],
)
def test_slots_on_clock_change_nights(zone: str, day: date, expected: list[str]) -> None:
    now = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=12)
    deadline = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=14)
    ranked = rank_slots([], zone, now, night_rules(), deadline=deadline, limit=100)
    on_day = sorted((choice for choice in ranked if choice.local_start.date() == day), key=lambda c: c.start)
    assert [f"{choice.local_start:%H:%M%z}"[:-2] for choice in on_day] == expected
    assert all(choice.end - choice.start == timedelta(minutes=30) for choice in on_day)
