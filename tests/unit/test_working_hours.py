"""Inferring a user's usual working day from four weeks of accepted meetings."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DailyHours, Weekday
from maintenance_windows.domain.working_hours import infer_working_hours

BERLIN = ZoneInfo("Europe/Berlin")
FIRST_MONDAY = date(2026, 3, 2)
WEEKDAY_KEYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
WIDE = {day: DailyHours(start=time(7), end=time(20)) for day in WEEKDAY_KEYS}
OFFICE = {day: DailyHours(start=time(9), end=time(17)) for day in WEEKDAY_KEYS}


def hours(start: str, end: str) -> DailyHours:
    return DailyHours(start=time.fromisoformat(start), end=time.fromisoformat(end))


def event(day: date, start: str, end: str, zone: ZoneInfo = BERLIN) -> Interval:
    return Interval(
        datetime.combine(day, time.fromisoformat(start), tzinfo=zone),
        datetime.combine(day, time.fromisoformat(end), tzinfo=zone),
    )


def four_weeks(first: str, last: str, *, weekdays: range = range(5), zone: ZoneInfo = BERLIN) -> list[Interval]:
    """A morning meeting starting at ``first`` and an evening one ending at ``last``, every chosen weekday."""
    days = [FIRST_MONDAY + timedelta(weeks=week, days=weekday) for week in range(4) for weekday in weekdays]
    return [event(day, first, "11:00", zone) for day in days] + [event(day, "15:00", last, zone) for day in days]


def test_an_early_bird_starts_and_ends_early() -> None:
    inferred = infer_working_hours(four_weeks("07:30", "15:45"), "Europe/Berlin", WIDE)
    assert inferred == {day: hours("07:30", "16:00") for day in WEEKDAY_KEYS}


def test_a_late_user_starts_and_ends_late() -> None:
    inferred = infer_working_hours(four_weeks("10:40", "19:10"), "Europe/Berlin", WIDE)
    assert inferred == {day: hours("10:30", "19:30") for day in WEEKDAY_KEYS}


def test_the_estimate_is_clamped_inside_the_teams_bounds() -> None:
    inferred = infer_working_hours(four_weeks("06:00", "22:00"), "Europe/Berlin", OFFICE)
    assert inferred == OFFICE
    early = infer_working_hours(four_weeks("08:00", "15:30"), "Europe/Berlin", OFFICE)
    assert early["mon"] == hours("09:00", "15:30")


def test_one_outlier_does_not_stretch_the_day() -> None:
    events = four_weeks("09:30", "17:00")
    events.append(event(FIRST_MONDAY, "07:00", "07:30"))  # a single early call, on one Monday of four
    inferred = infer_working_hours(events, "Europe/Berlin", WIDE)
    assert inferred["mon"] == hours("08:30", "17:00")  # the lower quartile, not the minimum
    assert inferred["tue"] == hours("09:30", "17:00")


def test_a_weekday_with_too_few_days_keeps_the_teams_hours() -> None:
    events = four_weeks("10:00", "19:00", weekdays=range(4))  # never a meeting on Friday
    events += [event(FIRST_MONDAY + timedelta(days=4), "10:00", "19:00")]  # a single Friday
    inferred = infer_working_hours(events, "Europe/Berlin", WIDE)
    assert inferred["thu"] == hours("10:00", "19:00")
    assert inferred["fri"] == WIDE["fri"]


def test_too_little_history_keeps_the_teams_hours() -> None:
    events = [event(FIRST_MONDAY + timedelta(weeks=week), "10:00", "19:00") for week in range(4)]
    assert infer_working_hours(events, "Europe/Berlin", WIDE) == WIDE  # 4 days < min_days=5
    assert infer_working_hours(events, "Europe/Berlin", WIDE, min_days=4)["mon"] == hours("10:00", "19:00")


def test_a_lone_daily_stand_up_says_nothing_about_the_day() -> None:
    days = [FIRST_MONDAY + timedelta(weeks=week, days=weekday) for week in range(4) for weekday in range(5)]
    events = [event(day, "09:30", "09:45") for day in days]
    assert infer_working_hours(events, "Europe/Berlin", WIDE) == WIDE


def test_weekdays_outside_the_bounds_stay_out() -> None:
    inferred = infer_working_hours(four_weeks("10:00", "19:00", weekdays=range(7)), "Europe/Berlin", WIDE)
    assert set(inferred) == set(WEEKDAY_KEYS)


def test_days_are_read_in_the_users_zone() -> None:
    # Read in New York the same meetings run 04:00/05:00 to 13:00/14:00 (the US changes clocks on 8 March,
    # Europe on 29 March): the usual day is 05:00–14:00, clamped to 07:00–14:00.
    events = four_weeks("10:00", "19:00")
    assert infer_working_hours(events, "America/New_York", WIDE)["wed"] == hours("07:00", "14:00")


def test_overnight_and_very_long_events_are_ignored() -> None:
    events = four_weeks("10:00", "19:00")
    tuesday = datetime.combine(FIRST_MONDAY + timedelta(days=1), time(0), tzinfo=BERLIN)
    events.append(Interval(tuesday + timedelta(hours=7), tuesday + timedelta(hours=23)))  # 16 hours long
    events.append(Interval(tuesday + timedelta(hours=6), tuesday + timedelta(hours=6)))  # no length at all
    events.append(Interval(tuesday + timedelta(hours=22), tuesday + timedelta(hours=25)))  # past midnight
    assert infer_working_hours(events, "Europe/Berlin", WIDE)["tue"] == hours("10:00", "19:00")
