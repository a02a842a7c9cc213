"""Working hours the calendar states (Microsoft 365's workingHours) are used, inside the team's rules."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from maintenance_windows.domain.rules import DailyHours
from maintenance_windows.domain.working_hours import stated_within_rules
from tests.support.world import DOMAIN, World

ALICE = f"alice@{DOMAIN}"
TEAM = {day: DailyHours(start=time(9), end=time(17)) for day in ("mon", "tue", "wed", "thu", "fri")}


def test_stated_hours_are_cut_to_the_teams_and_days_outside_either_are_dropped() -> None:
    stated = {
        "mon": DailyHours(start=time(7), end=time(13)),
        "tue": DailyHours(start=time(13), end=time(20)),
        "sat": DailyHours(start=time(9), end=time(12)),
        "wed": DailyHours(start=time(17), end=time(20)),
    }
    kept = stated_within_rules(stated, TEAM)  # type: ignore[arg-type]
    assert kept == {"mon": DailyHours(start=time(9), end=time(13)), "tue": DailyHours(start=time(13), end=time(17))}


def test_a_person_who_works_afternoons_is_booked_in_the_afternoon() -> None:
    world = World()
    world.calendar.set_time_zone(ALICE, "Europe/Berlin")
    afternoons = {day: DailyHours(start=time(13), end=time(18)) for day in ("mon", "tue", "wed", "thu", "fri")}
    world.calendar.set_working_hours(ALICE, afternoons, "Europe/Berlin")  # type: ignore[arg-type]
    world.host(1, ALICE)
    world.plan()
    (window,) = world.windows()
    assert window.start is not None
    assert window.end is not None
    local_start = window.start.astimezone(ZoneInfo("Europe/Berlin")).time()
    local_end = window.end.astimezone(ZoneInfo("Europe/Berlin")).time()
    assert time(13) <= local_start
    assert local_end <= time(17)


def test_hours_stated_in_another_zone_than_the_persons_are_not_used() -> None:
    world = World()
    world.calendar.set_time_zone(ALICE, "Europe/Berlin")
    evenings = {day: DailyHours(start=time(16), end=time(17)) for day in ("mon", "tue", "wed", "thu", "fri")}
    world.calendar.set_working_hours(ALICE, evenings, "Asia/Tokyo")  # type: ignore[arg-type]
    world.host(1, ALICE)
    world.plan()
    (window,) = world.windows()
    assert window.start is not None
    assert window.start.astimezone(ZoneInfo("Europe/Berlin")).time() < time(16)
