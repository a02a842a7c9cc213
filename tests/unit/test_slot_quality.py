"""Sooner, when sooner is as good: the slot finder on the benchmark corpus and on hand-made weeks."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from infra.bench import slot_quality
from infra.bench.slot_corpus import WEEKS_PLANNED, corpus, kolkata_case
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import SlotRules
from maintenance_windows.domain.slots import SlotChoice, find_slot

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, clock: str) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def test_the_corpus_is_varied_enough_to_judge_by() -> None:
    calendars = corpus()
    assert len(calendars) >= 40
    assert len({calendar.zone for calendar in calendars}) >= 8
    assert sum(bool(calendar.out_of_office) for calendar in calendars) >= 5
    clock_change_weeks = {date(2026, 3, 9), date(2026, 3, 23), date(2026, 10, 19), date(2026, 10, 26)}
    assert clock_change_weeks <= set(WEEKS_PLANNED)
    lunches = [
        busy
        for calendar in calendars
        for busy in calendar.busy
        if busy.start.astimezone(ZoneInfo(calendar.zone)).hour in (12, 13) and busy.duration.total_seconds() == 3600
    ]
    assert len(lunches) >= 50


def test_the_corpus_meets_the_targets_and_the_fleet_baseline_does_not() -> None:
    result = slot_quality.run()
    ours, fleet = result["ours"], result["fleet_style"]
    assert ours["median_lead_business_days"] <= slot_quality.TARGET_MEDIAN_LEAD_DAYS
    assert ours["low_disruption_share"] >= slot_quality.TARGET_LOW_DISRUPTION_SHARE
    assert ours["hard_violations"] == 0, ours["violating_calendars"]
    assert fleet["median_lead_business_days"] > ours["median_lead_business_days"]
    assert fleet["hard_violations"] > 0


def test_the_kolkata_engineer_gets_wednesday_not_friday() -> None:
    case = kolkata_case()
    choice = find_slot(case.busy, case.zone, case.now, SlotRules())
    assert isinstance(choice, SlotChoice)
    local = choice.local_start
    assert (local.date(), f"{local:%H:%M}") == (date(2026, 12, 9), "11:15")


def test_a_lighter_day_still_wins_a_day_later_only_when_it_is_clearly_better() -> None:
    monday = [Interval(at(2, "09:00"), at(2, "15:00")), Interval(at(2, "16:00"), at(2, "17:00"))]
    now = at(2, "07:00")
    ordinary = find_slot(monday, "Europe/Berlin", now, SlotRules())
    critical = find_slot(monday, "Europe/Berlin", now, SlotRules(), critical=True)
    assert isinstance(ordinary, SlotChoice)
    assert isinstance(critical, SlotChoice)
    # An empty Tuesday's lunch beats a bare gap on a packed Monday…
    assert (ordinary.local_start.day, f"{ordinary.local_start:%H:%M}") == (3, "12:00")
    # …but not for a critical policy, which takes the first day with room.
    assert (critical.local_start.day, f"{critical.local_start:%H:%M}") == (2, "15:15")


def test_two_days_later_a_perfect_slot_does_not_beat_a_plain_one() -> None:
    monday = [Interval(at(2, "09:00"), at(2, "15:00")), Interval(at(2, "16:00"), at(2, "17:00"))]
    tuesday = [Interval(at(3, "09:00"), at(3, "17:00"))]
    choice = find_slot([*monday, *tuesday], "Europe/Berlin", at(2, "07:00"), SlotRules())
    assert isinstance(choice, SlotChoice)
    assert choice.local_start.day == 2


def test_the_sooner_term_counts_from_the_first_day_with_room() -> None:
    """A full Monday does not make Tuesday 'one day late': Tuesday is the first day that can be booked."""
    full_monday = [Interval(at(2, "09:00"), at(2, "17:00"))]
    parts_tuesday = find_slot(full_monday, "Europe/Berlin", at(2, "07:00"), SlotRules())
    empty_week = find_slot([], "Europe/Berlin", at(2, "07:00"), SlotRules())
    assert isinstance(parts_tuesday, SlotChoice)
    assert isinstance(empty_week, SlotChoice)
    assert parts_tuesday.local_start.day == 3
    assert parts_tuesday.score == empty_week.score


def test_the_minimum_notice_is_two_hours_by_default() -> None:
    now = at(2, "10:50")
    choice = find_slot([], "Europe/Berlin", now, SlotRules())
    assert isinstance(choice, SlotChoice)
    assert (choice.start - now).total_seconds() >= 2 * 3600
    assert f"{choice.local_start:%H:%M}" == "13:00"
