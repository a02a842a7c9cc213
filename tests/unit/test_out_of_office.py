"""Out of office pauses the clock: never booked over, the deadline waits, and a return grace follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from maintenance_windows.adapters.google_out_of_office import away_periods, collect, out_of_office_query
from maintenance_windows.cli.main import main as mw
from maintenance_windows.domain.absence import plan_absences
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import Fallback, SlotRules
from maintenance_windows.domain.slots import SlotChoice, find_slot
from maintenance_windows.ports.calendar import CalendarError
from tests.support.world import DOMAIN, MONDAY, World

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = SlotRules().working_hours
ALICE = f"alice@{DOMAIN}"


def berlin(day: int, clock: str = "00:00", month: int = 3) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def plan(away: list[Interval], now: datetime, deadline: datetime, grace: float = 4.0) -> Any:
    return plan_absences(away, now, deadline, "Europe/Berlin", HOURS, return_grace_hours=grace)


# -- the domain ---------------------------------------------------------------------------------------


def test_a_week_away_pauses_the_deadline_by_the_week() -> None:
    now, deadline = berlin(2, "08:00"), berlin(9, "08:00")
    week = Interval(berlin(3), berlin(10))  # Tuesday to Tuesday
    absences = plan([week], now, deadline)
    assert absences.paused == timedelta(days=7)
    assert absences.deadline == berlin(16, "08:00")


def test_time_away_before_now_still_paused_the_deadline_since_the_window_opened() -> None:
    opened, deadline = berlin(2, "08:00"), berlin(9, "08:00")
    absences = plan([Interval(berlin(2, "12:00"), berlin(4, "12:00"))], opened, deadline)
    assert absences.deadline == berlin(11, "08:00")


def test_absences_after_the_deadline_change_nothing() -> None:
    now, deadline = berlin(2, "08:00"), berlin(9, "08:00")
    absences = plan([Interval(berlin(10), berlin(12))], now, deadline)
    assert (absences.paused, absences.deadline, absences.absences) == (timedelta(0), deadline, ())


def test_the_return_grace_counts_working_hours_not_the_night() -> None:
    back_at_midnight = Interval(berlin(2), berlin(10))  # back on Tuesday 10 March at 00:00
    (blocked,) = plan([back_at_midnight], berlin(2, "08:00"), berlin(9, "08:00")).blocked
    assert blocked.end == berlin(10, "13:00")  # 09:00 + 4 working hours


def test_the_return_grace_runs_over_the_weekend() -> None:
    back_on_friday_afternoon = Interval(berlin(4), berlin(6, "16:00"))
    (blocked,) = plan([back_on_friday_afternoon], berlin(2, "08:00"), berlin(9, "08:00")).blocked
    assert blocked.end == berlin(9, "12:00")  # 1 hour on Friday, 3 on Monday


def test_a_deadline_that_would_fall_in_the_grace_gets_a_day_after_it() -> None:
    now, deadline = berlin(2, "08:00"), berlin(9, "08:00")
    leaves_just_before = Interval(berlin(9, "07:00"), berlin(12, "00:00"))  # back Thursday 12 March
    absences = plan([leaves_just_before], now, deadline)
    assert absences.deadline == berlin(13, "13:00")  # grace ends Thursday 13:00, plus a day


def test_overlapping_and_unordered_absences_are_merged() -> None:
    absences = plan(
        [Interval(berlin(4), berlin(6)), Interval(berlin(3), berlin(5))], berlin(2, "08:00"), berlin(9, "08:00"), 0
    )
    assert absences.blocked == (Interval(berlin(3).astimezone(UTC), berlin(6).astimezone(UTC)),)
    assert absences.paused == timedelta(days=3)


# -- the slot finder ----------------------------------------------------------------------------------


def test_double_book_never_books_over_time_away() -> None:
    now = berlin(2, "07:00")
    solid = [Interval(berlin(2), berlin(30))]
    away = [Interval(berlin(6), berlin(10))]  # Friday to Monday
    choice = find_slot(solid, "Europe/Berlin", now, SlotRules(fallback=Fallback.DOUBLE_BOOK), away=away)
    assert isinstance(choice, SlotChoice)
    assert choice.double_booked
    assert not any(Interval(choice.start, choice.end).overlaps(period) for period in away)
    assert choice.local_start.date() == date(2026, 3, 5)  # Thursday: the last working day not away


def test_days_away_are_not_business_days_for_the_sooner_term() -> None:
    now = berlin(2, "07:00")
    monday_gap = [Interval(berlin(2, "09:00"), berlin(2, "15:00")), Interval(berlin(2, "16:00"), berlin(2, "17:00"))]
    away = [Interval(berlin(3), berlin(4))]  # Tuesday off: Wednesday is the very next business day
    plain = find_slot(monday_gap, "Europe/Berlin", now, SlotRules())
    with_day_off = find_slot([*monday_gap, *away], "Europe/Berlin", now, SlotRules(), away=away)
    assert isinstance(plain, SlotChoice)
    assert isinstance(with_day_off, SlotChoice)
    assert plain.local_start.day == 3
    assert (with_day_off.local_start.day, f"{with_day_off.local_start:%H:%M}") == (4, "12:00")


# -- the planner --------------------------------------------------------------------------------------


def test_a_person_back_from_a_week_away_is_booked_after_the_grace_with_a_paused_deadline() -> None:
    world = World()
    back = MONDAY.replace(hour=0) + timedelta(days=7)  # Monday 10 March 2031, 00:00 UTC
    world.calendar.add_event(ALICE, "holiday", MONDAY.replace(hour=0), back, event_type="outOfOffice")
    world.host(1, ALICE)
    world.plan()
    (window,) = world.windows()
    assert window.start is not None
    assert window.start >= back.replace(hour=13)
    assert window.start.date() == back.date()
    assert window.base_deadline == MONDAY + timedelta(days=7)
    assert window.deadline == back + timedelta(days=7)
    assert window.away_until == back
    assert "deadline_paused" in [entry.kind for entry in window.history]
    assert "You are out of office until Monday, March 10" in window.event_html
    assert "it moved to Monday, March 17" in window.event_html
    assert world.calendar.calls["out_of_office"] == 1


def test_a_fallback_never_books_over_out_of_office_time() -> None:
    world = World()
    world.calendar.add_event(ALICE, "solid", MONDAY, MONDAY + timedelta(days=40))
    world.calendar.add_event(
        ALICE, "away", MONDAY + timedelta(days=3), MONDAY + timedelta(days=6), event_type="outOfOffice"
    )
    world.host(1, ALICE)
    world.plan()
    (window,) = world.windows()
    assert window.start is not None
    assert window.end is not None
    assert window.fallback == "double_book"
    away = Interval(MONDAY + timedelta(days=3), MONDAY + timedelta(days=6))
    assert not Interval(window.start, window.end).overlaps(away)


def test_people_with_short_meetings_only_cost_no_out_of_office_call() -> None:
    world = World()
    world.calendar.add_event(ALICE, "call", MONDAY + timedelta(hours=3), MONDAY + timedelta(hours=4))
    world.host(1, ALICE)
    world.plan()
    assert world.calendar.calls["out_of_office"] == 0


def test_unreadable_out_of_office_time_books_nothing_yet() -> None:
    world = World()
    world.calendar.add_event(ALICE, "long", MONDAY + timedelta(hours=2), MONDAY + timedelta(hours=7))
    world.host(1, ALICE)
    world.calendar.fail_next("out_of_office", CalendarError("events.list: HTTP 403", status=403, reason="forbidden"))
    report = world.plan()
    assert report.windows_booked == 0
    (window,) = world.windows()
    document = world.store.get("windows", window.window_id) or {}
    assert document["unplaced_reason"] == "calendar not readable: forbidden"
    world.plan()  # the next run reads it and books
    (window,) = world.windows()
    assert window.start is not None


# -- the Google module and mw slot --------------------------------------------------------------------


def test_the_query_asks_for_out_of_office_events_only() -> None:
    query = out_of_office_query(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC), 250)
    assert query["eventTypes"] == ["outOfOffice"]
    assert query["singleEvents"] is True
    assert (query["timeMin"], query["timeMax"]) == ("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z")


def test_answers_are_read_across_pages_and_errors_stay_per_user() -> None:
    def item(start: str, end: str, **extra: str) -> dict[str, Any]:
        return {"eventType": "outOfOffice", "start": {"dateTime": start}, "end": {"dateTime": end}, **extra}

    first: dict[str, dict[str, Any] | CalendarError] = {
        "a@x": {"items": [item("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")], "nextPageToken": "p2"},
        "b@x": CalendarError("events.list: HTTP 404 notFound", status=404, reason="notFound"),
        "c@x": {"items": [item("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z", status="cancelled")]},
    }
    later = [{"items": [item("2026-03-10T09:00:00+01:00", "2026-03-10T12:00:00+01:00")]}]
    results = collect(["a@x", "b@x", "c@x"], first, lambda _email, token: later if token == "p2" else [])
    assert [period.start.day for period in results["a@x"].away] == [3, 10]
    assert results["b@x"].error == "notFound"
    assert results["c@x"].away == ()
    assert away_periods([{"items": [{"eventType": "default", "start": {}, "end": {}}]}]) == ()


def test_mw_slot_reads_event_types(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    busy = tmp_path / "busy.json"
    busy.write_text(
        '[{"start": "2026-03-02T00:00:00+01:00", "end": "2026-03-07T00:00:00+01:00", "eventType": "outOfOffice"},'
        ' {"start": "2026-03-09T09:00:00+01:00", "end": "2026-03-09T17:00:00+01:00", "eventType": "workingLocation"}]'
    )
    assert mw(["slot", "--busy", str(busy), "--tz", "Europe/Berlin", "--now", "2026-03-02T07:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Monday 09 March 13:00")
    assert "deadline paused" in out
    busy.write_text('[{"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z", "eventType": "birthday"}]')
    assert mw(["slot", "--busy", str(busy), "--tz", "Europe/Berlin"]) == 1
    assert "eventType 'birthday'" in capsys.readouterr().err
