"""Opt-in working hours inferred from the user's last four weeks of accepted events."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.rules import DailyHours, SlotRules, Weekday
from maintenance_windows.ports.calendar import CalendarError, CalendarEvent
from maintenance_windows.service.booking import usual_hours
from maintenance_windows.service.context import PlanningContext

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
WIDE: dict[Weekday, DailyHours] = {day: DailyHours(start=time(7), end=time(19)) for day in WEEKDAYS}


class RecentEvents:
    """Only recent_events is used here; an early bird's days run 07:30–15:00, plus a declined late call."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        self.calls += 1
        if self.fail:
            raise CalendarError("calendar down", status=500)
        tz, events = ZoneInfo(ZONE), []
        for day in range(28):
            date = (time_max - timedelta(days=day + 1)).astimezone(tz).date()
            if date.weekday() >= 5:
                continue
            for start_h, end_h, declined in ((7.5, 8.5, False), (14, 15, False), (18, 19, True)):
                start = datetime.combine(date, time(), tz) + timedelta(hours=start_h)
                events.append(CalendarEvent(f"e{day}{start_h}", "confirmed", start,
                                            datetime.combine(date, time(), tz) + timedelta(hours=end_h),
                                            False, None, None, declined_by_owner=declined))  # fmt: skip
        return events


def _ctx(calendar: Any) -> PlanningContext:
    return PlanningContext(MemoryStore(), calendar, None, None, None, parse_teams({}))  # type: ignore[arg-type]


def test_inferred_hours_follow_accepted_events_inside_the_team_bounds() -> None:
    rules = SlotRules(working_hours=WIDE, infer_working_hours=True)
    hours = usual_hours(_ctx(RecentEvents()), "a@acme.example", ZONE, rules, NOW)
    assert hours is not None
    assert hours["tue"].start <= time(7, 30) and hours["tue"].end == time(15)  # the declined 18:00 call is ignored


def test_off_by_default_and_no_calendar_call() -> None:
    calendar = RecentEvents()
    assert usual_hours(_ctx(calendar), "a@acme.example", ZONE, SlotRules(working_hours=WIDE), NOW) is None
    assert calendar.calls == 0


def test_a_calendar_error_falls_back_to_team_hours() -> None:
    rules = SlotRules(working_hours=WIDE, infer_working_hours=True)
    assert usual_hours(_ctx(RecentEvents(fail=True)), "a@acme.example", ZONE, rules, NOW) is None
