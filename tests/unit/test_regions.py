"""Rules that fit where people are: regions inside a team, a fallback zone, and travellers."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from maintenance_windows.config.settings import ConfigurationError
from maintenance_windows.config.teams import TeamsConfig, parse_teams
from maintenance_windows.domain.rules import DailyHours, SlotRules
from maintenance_windows.repository import windows as window_records
from tests.support.world import DOMAIN, MONDAY, World

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ALICE, BOB, CARLA = (f"{name}@{DOMAIN}" for name in ("alice", "bob", "carla"))


def documented_regions() -> TeamsConfig:
    """The example of the page's "Rules by region" section, as a team file."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("#### Rules by region") :]
    snippet = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert snippet is not None
    raw = yaml.safe_load(snippet.group(1))
    raw["defaults"]["domains"] = [DOMAIN]
    return parse_teams(raw)


def test_the_documented_regions_give_each_zone_its_lunch_hours_and_holidays() -> None:
    config = documented_regions()
    kolkata = config.slot_rules_for(None, "Asia/Kolkata")
    madrid = config.slot_rules_for(None, "Europe/Madrid")
    berlin = config.slot_rules_for(None, "Europe/Berlin")
    assert kolkata.lunch == DailyHours(start=time(13), end=time(14))
    assert date(2026, 8, 15) in kolkata.holidays
    assert date(2026, 8, 15) not in berlin.holidays
    assert madrid.lunch == DailyHours(start=time(14), end=time(15, 30))
    assert madrid.working_hours["fri"] == DailyHours(start=time(8), end=time(15))
    assert berlin.lunch == DailyHours(start=time(12), end=time(13, 30))
    assert berlin.working_hours == SlotRules().working_hours


def test_the_first_matching_region_wins_and_patterns_match() -> None:
    rules = SlotRules.model_validate(
        {
            "regions": [
                {"name": "Canaries", "zones": ["Atlantic/Canary"], "lunch": {"start": "13:00", "end": "14:00"}},
                {"name": "Europe", "zones": ["Europe/*", "Atlantic/*"], "lunch": {"start": "12:30", "end": "13:30"}},
            ]
        }
    )
    assert rules.for_zone("Atlantic/Canary").lunch.start == time(13)
    assert rules.for_zone("Europe/Lisbon").lunch.start == time(12, 30)
    assert rules.for_zone("Asia/Tokyo") is rules


def test_a_misspelt_zone_is_refused_at_cold_start() -> None:
    with pytest.raises(ConfigurationError, match="'Asia/Calcuta' is not an IANA time zone"):
        parse_teams({"defaults": {"slots": {"regions": [{"zones": ["Asia/Calcuta"]}]}}})
    with pytest.raises(ConfigurationError, match="fallback_time_zone"):
        parse_teams({"defaults": {"slots": {"fallback_time_zone": "Mars/Olympus"}}})


def test_the_fallback_zone_stands_in_for_a_calendar_without_one() -> None:
    rules = SlotRules(fallback_time_zone="America/New_York")
    assert rules.zone_of(None) == rules.zone_of("Etc/GMT") == "America/New_York"
    assert rules.zone_of("Europe/Berlin") == "Europe/Berlin"
    assert SlotRules().zone_of("Etc/GMT") == "Etc/GMT"
    assert SlotRules().zone_of(None) == "UTC"


def _local(world: World, email: str) -> tuple[str, str]:
    (window,) = [window for window in world.windows() if window.user_email == email]
    assert window.start is not None
    return window.time_zone, f"{window.start.astimezone(ZoneInfo(window.time_zone)):%a %H:%M}"


def test_the_planner_books_each_person_at_their_regions_lunch() -> None:
    world = World(teams=documented_regions())
    world.clock.now = MONDAY.replace(hour=2)  # 07:30 in Kolkata, 03:00 in Madrid and Berlin
    world.calendar.set_time_zone(ALICE, "Asia/Kolkata")
    world.calendar.set_time_zone(BOB, "Europe/Madrid")
    world.calendar.set_time_zone(CARLA, "Europe/Berlin")
    world.host(1, ALICE)
    world.host(2, BOB)
    world.host(3, CARLA)
    world.plan()
    assert _local(world, ALICE) == ("Asia/Kolkata", "Mon 13:00")
    assert _local(world, BOB) == ("Europe/Madrid", "Mon 14:00")
    assert _local(world, CARLA) == ("Europe/Berlin", "Mon 12:00")


def test_a_person_without_a_calendar_zone_is_booked_in_the_fallback_zone() -> None:
    world = World(
        teams=parse_teams({"defaults": {"domains": [DOMAIN], "slots": {"fallback_time_zone": "America/New_York"}}})
    )
    world.host(1, ALICE)  # the memory calendar answers Etc/GMT, as Google does for a zone never set
    world.plan()
    zone, local = _local(world, ALICE)
    assert zone == "America/New_York"
    assert local == "Mon 12:00"


def test_a_traveller_is_booked_in_the_zone_they_are_in_not_their_home_zone() -> None:
    world = World()
    world.store.commit(
        [
            window_records.user_write(
                _key(ALICE), email=ALICE, time_zone="Europe/Berlin", time_zone_checked_at=MONDAY - timedelta(days=2)
            )
        ]
    )
    world.calendar.set_time_zone(ALICE, "America/Los_Angeles")  # changed on arrival
    world.host(1, ALICE)
    world.plan()
    zone, local = _local(world, ALICE)
    assert zone == "America/Los_Angeles"
    assert local == "Mon 12:00"
    assert world.calendar.calls["time_zones"] == 1


def test_a_zone_read_within_twelve_hours_is_not_read_again() -> None:
    world = World()
    world.store.commit(
        [
            window_records.user_write(
                _key(ALICE), email=ALICE, time_zone="Europe/Berlin", time_zone_checked_at=MONDAY - timedelta(hours=11)
            )
        ]
    )
    world.host(1, ALICE)
    world.plan()
    assert world.calendar.calls["time_zones"] == 0
    assert _local(world, ALICE) == ("Europe/Berlin", "Mon 12:00")


def _key(email: str) -> str:
    from maintenance_windows.domain.ids import user_key

    return user_key(email)
