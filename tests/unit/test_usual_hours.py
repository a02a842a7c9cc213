"""Opt-in working hours inferred from the user's last four weeks of accepted events."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.adapters.memory_calendar import MemoryCalendar
from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.rules import DailyHours, SlotRules, Weekday
from maintenance_windows.ports.calendar import CalendarError
from maintenance_windows.service.booking import usual_hours
from maintenance_windows.service.context import PlanningContext

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
WIDE: dict[Weekday, DailyHours] = {day: DailyHours(start=time(7), end=time(19)) for day in WEEKDAYS}


EMAIL = "a@acme.example"


def early_bird(fail: bool = False) -> MemoryCalendar:
    """Four weeks of days that run 07:30–15:00, plus a declined late call each day."""
    calendar = MemoryCalendar(lambda: NOW)
    tz = ZoneInfo(ZONE)
    for day in range(28):
        date = (NOW - timedelta(days=day + 1)).astimezone(tz).date()
        if date.weekday() >= 5:
            continue
        for start_h, end_h, declined in ((7.5, 8.5, False), (14, 15, False), (18, 19, True)):
            midnight = datetime.combine(date, time(), tz)
            calendar.add_event(
                EMAIL,
                f"e{day}h{int(start_h * 10)}",
                midnight + timedelta(hours=start_h),
                midnight + timedelta(hours=end_h),
                declined=declined,
            )
    if fail:
        calendar.fail_next("recent_events", CalendarError("calendar down", status=500))
    return calendar


def _ctx(calendar: MemoryCalendar) -> PlanningContext:
    return PlanningContext(
        MemoryStore(), calendar, MemoryFleet(), MemoryTaskQueue(), TemplateExplainer(), parse_teams({})
    )


def test_inferred_hours_follow_accepted_events_inside_the_team_bounds() -> None:
    rules = SlotRules(working_hours=WIDE, infer_working_hours=True)
    hours = usual_hours(_ctx(early_bird()), EMAIL, ZONE, rules, NOW)
    assert hours is not None
    assert hours["tue"].start <= time(7, 30)
    assert hours["tue"].end == time(15)


def test_off_by_default_and_no_calendar_call() -> None:
    calendar = early_bird()
    assert usual_hours(_ctx(calendar), EMAIL, ZONE, SlotRules(working_hours=WIDE), NOW) is None
    assert calendar.calls["recent_events"] == 0


def test_a_calendar_error_falls_back_to_team_hours() -> None:
    rules = SlotRules(working_hours=WIDE, infer_working_hours=True)
    assert usual_hours(_ctx(early_bird(fail=True)), EMAIL, ZONE, rules, NOW) is None
