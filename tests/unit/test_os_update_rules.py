"""OS updates, Fleet's answers and refused fixes as pure rules (domain/), and the service's reading of
team settings and release versions (service/os_updates.py) on the memory doubles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.adapters.memory_os_releases import MemoryOsReleases
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.sofa_feed import latest_in_feed
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.attention import RefusedFix, blocked_fields, bookable_policies, fix_fingerprint
from maintenance_windows.domain.fleet_answers import Refusal, classify_refusal
from maintenance_windows.domain.os_update_text import OsUpdateNotice, os_update_section_html
from maintenance_windows.domain.os_updates import (
    Enforcement,
    Route,
    WindowsEnforcement,
    at_least,
    first_enforceable_day,
    managed_enforcement,
    plan_host_update,
)
from maintenance_windows.domain.remediation import OsUpdateAction
from maintenance_windows.ports.fleet import AppleOSUpdates, FleetError, FleetUnavailable, TeamOSUpdates
from maintenance_windows.service.os_updates import HostFacts, OsUpdates, sync_managed

NOW = datetime(2031, 3, 3, 7, tzinfo=UTC)
LA = ZoneInfo("America/Los_Angeles")


# -- Fleet's answers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "message", "meaning"),
    [
        ("mdm_command", 409, "command already exists", Refusal.ALREADY_SENT),
        ("os_update", 409, "command already exists", Refusal.ALREADY_SENT),
        ("script", 409, "The script is already queued on the given host.", Refusal.ALREADY_SENT),
        (
            "software_install",
            400,
            "Host already has a pending install/uninstall for this installer.",
            Refusal.ALREADY_SENT,
        ),
        ("software_install", 400, "Software title is not available for install.", Refusal.PERMANENT),
        ("script", 422, "Script 'x' doesn’t exist.", Refusal.PERMANENT),
        ("script", 402, "Requires Fleet Premium license", Refusal.PERMANENT),
        ("mdm_command", 412, "MDM turned off", Refusal.PERMANENT),
        ("script", 404, 'No script exists for the provided "script_id".', Refusal.PERMANENT),
        ("refetch", 409, "conflict", Refusal.PERMANENT),
    ],
)
def test_fleets_refusals_mean_already_sent_or_permanent(
    action: str, status: int, message: str, meaning: Refusal
) -> None:
    assert classify_refusal(action, status, message) is meaning


def test_a_block_is_new_once_per_fix_and_lifts_when_the_fix_changes() -> None:
    entries = parse_teams(
        {"defaults": {"actions": [{"policy_id": 2, "actions": [{"type": "script", "script_name": "a"}]}]}}
    ).defaults.actions
    other = parse_teams(
        {"defaults": {"actions": [{"policy_id": 2, "actions": [{"type": "script", "script_name": "b"}]}]}}
    ).defaults.actions
    fix = fix_fingerprint(entries, 2, "FileVault", "darwin")
    assert fix != fix_fingerprint(other, 2, "FileVault", "darwin")
    assert fix == fix_fingerprint(entries, 2, "", None)
    refusal = RefusedFix(2, "FileVault", "host 1 policy 2: script a", 422, "Script 'a' doesn’t exist.", fix, NOW)
    fields, new = blocked_fields({}, [refusal])
    assert new == [refusal]
    assert fields["needs_attention"] is True
    assert fields["attention_reason"] == (
        "Fleet refused the fix for “FileVault” (host 1 policy 2: script a): Script 'a' doesn’t exist."
    )
    assert blocked_fields(fields, [refusal])[1] == []  # the same fix refused again is not news
    assert bookable_policies((1, 2), fields["blocked_policies"], lambda _policy: fix) == (1,)
    assert bookable_policies((1, 2), fields["blocked_policies"], lambda _policy: "changed") == (1, 2)


# -- routes, versions, deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "os_version", "enforced", "route"),
    [
        ("darwin", "macOS 15.3", False, Route.MDM_COMMAND),
        ("darwin", "macOS 26.4", False, Route.MDM_COMMAND),
        ("darwin", "macOS 27.0", False, Route.PERSON),
        ("darwin", "macOS 15.3", True, Route.PERSON),
        ("darwin", "macOS 13.6", True, Route.MDM_COMMAND),  # Fleet declares to macOS 14 and later only
        ("ipados", "iPadOS 18.3", True, Route.PERSON),
        ("ios", "iOS 18.3", False, Route.MDM_COMMAND),
        ("ios", "iOS 27.0", False, Route.PERSON),
        ("windows", "Windows 11", False, Route.PERSON),
    ],
)
def test_each_host_takes_the_route_its_os_and_team_allow(
    platform: str, os_version: str, enforced: bool, route: Route
) -> None:
    enforcement = Enforcement.of("27.1", "2031-03-07") if enforced else None
    assert plan_host_update(platform, os_version, None, enforcement).route is route


def test_the_target_is_the_actions_version_else_fleets_and_fleet_applies_only_to_older_hosts() -> None:
    enforcement = Enforcement.of("26.1", "2031-03-07")
    assert enforcement is not None
    assert enforcement.instant("America/Los_Angeles") == datetime(2031, 3, 7, 12, tzinfo=LA)
    assert plan_host_update("darwin", "macOS 15.3", None, enforcement).target_version == "26.1"
    assert plan_host_update("darwin", "macOS 15.3", "26.2", enforcement).target_version == "26.2"
    newer = plan_host_update("darwin", "macOS 27.0", "27.1", enforcement)
    assert newer.enforcement is None  # 27.0 already meets Fleet's 26.1: Fleet forces nothing on it
    windows = plan_host_update("windows", "Windows 11", None, None, WindowsEnforcement(5, 2))
    assert windows.windows == WindowsEnforcement(5, 2)
    assert windows.steps.startswith("Settings → Windows Update")
    assert Enforcement.of("", "2031-03-07") is None
    assert Enforcement.of("26.1", "soon") is None


def test_versions_compare_as_numbers() -> None:
    assert at_least("macOS 26.10", "26.9")
    assert at_least("26.1", "26.1.0")
    assert not at_least("macOS 26.0.1", "26.1")
    assert not at_least("", "1.0")


def test_manage_puts_the_deadline_after_the_last_window_and_never_earlier() -> None:
    noon = datetime(2031, 3, 5, 12, tzinfo=LA)
    assert first_enforceable_day(noon - timedelta(minutes=1)) == date(2031, 3, 5)
    assert first_enforceable_day(noon) == date(2031, 3, 6)
    ends = [datetime(2031, 3, 4, 10, tzinfo=LA), noon + timedelta(hours=3)]
    wanted = managed_enforcement(None, "27.1", ends, margin_days=1)
    assert wanted == Enforcement("27.1", date(2031, 3, 7))
    assert managed_enforcement(wanted, "27.1", ends, 1) is None  # already serves: nothing written
    later = Enforcement("27.1", date(2031, 3, 20))
    assert managed_enforcement(later, "27.1", ends, 1) is None  # never moved earlier
    assert managed_enforcement(later, "27.2", ends, 1) == Enforcement("27.2", date(2031, 3, 7))
    assert managed_enforcement(None, "latest?", ends, 1) is None
    assert managed_enforcement(None, "27.1", [], 1) is None


def test_the_your_update_section_escapes_and_names_each_device_once() -> None:
    notice = OsUpdateNotice(device="Mac", product="macOS", steps="A → B <b>", target_version="27.1")
    section = os_update_section_html([notice, notice])
    assert section.count("Start the update yourself") == 1
    assert "&lt;b&gt;" in section
    assert os_update_section_html([]) == ""
    windows = OsUpdateNotice(device="PC", product="Windows", steps="S", windows_deadline_days=5)
    assert "5 days after they are offered to your PC." in os_update_section_html([windows])


# -- the release feed --------------------------------------------------------------------------------------


def test_latest_is_the_highest_product_version_whatever_the_order() -> None:
    feed = {
        "OSVersions": [
            {"OSVersion": "Sequoia 15", "Latest": {"ProductVersion": "15.7.4"}},
            {"OSVersion": "27", "Latest": {"ProductVersion": "27.1"}},
            {"OSVersion": "Tahoe 26", "Latest": {"ProductVersion": "26.10"}},
            {"OSVersion": "broken", "Latest": None},
            "junk",
        ]
    }
    assert latest_in_feed(feed) == "27.1"
    assert latest_in_feed({"OSVersions": []}) is None
    assert latest_in_feed([]) is None


# -- team settings and "latest" in the service ---------------------------------------------------------------


def clock() -> datetime:
    return NOW


def test_team_settings_are_read_once_per_run_and_kept_for_calendar_notifications() -> None:
    store, fleet = MemoryStore(), MemoryFleet()
    fleet.set_team_os_updates(1, macos=AppleOSUpdates("27.1", "2031-03-07"))
    planner = OsUpdates(store, fleet, None, clock)
    assert planner.team_settings(1) == fleet.teams[1]
    assert planner.team_settings(None) is None
    fleet.set_team_os_updates(1, macos=AppleOSUpdates("27.2", "2031-03-08"))
    assert planner.team_settings(1).macos.minimum_version == "27.1"  # type: ignore[union-attr]  # same run
    planner.begin()
    assert planner.team_settings(1).macos.minimum_version == "27.2"  # type: ignore[union-attr]
    no_token = OsUpdates(store, None, None, clock)
    assert no_token.team_settings(1) == fleet.teams[1]
    assert no_token.team_settings(2) is None


def test_an_outage_keeps_the_last_copy_and_fleet_free_has_no_settings() -> None:
    store, fleet = MemoryStore(), MemoryFleet()
    fleet.set_team_os_updates(1, macos=AppleOSUpdates("27.1", "2031-03-07"))
    updates = OsUpdates(store, fleet, None, clock)
    updates.team_settings(1)
    updates.begin()
    fleet.fail_next("team_os_updates", FleetUnavailable("503"))
    assert updates.team_settings(1) == fleet.teams[1]
    fleet.fail_next("team_os_updates", FleetError("Requires Fleet Premium license", status=402))
    assert updates.team_settings(3) is None


def test_latest_comes_from_the_feed_and_an_unreadable_feed_gives_no_version() -> None:
    releases = MemoryOsReleases({"darwin": "27.1", "ios": "27.0.1"})
    updates = OsUpdates(None, None, releases, clock)
    latest = OsUpdateAction(type="os_update", product_version="latest")
    assert updates.target_version(latest, "darwin") == "27.1"
    assert updates.target_version(latest, "ipados") == "27.0.1"
    releases.fail_next()
    assert updates.target_version(latest, "darwin") is None
    assert OsUpdates().target_version(latest, "darwin") is None
    assert OsUpdates().latest("darwin") is None
    assert updates.host_update(latest, HostFacts(1, "darwin", "macOS 15.3", None, (1,))).target_version == "27.1"


def test_manage_writes_the_platforms_setting_and_skips_without_a_version() -> None:
    fleet = MemoryFleet()
    teams = parse_teams({"teams": {"1": {"os_updates": {"role": "manage"}}}})
    updates = OsUpdates(MemoryStore(), fleet, MemoryOsReleases(), clock)
    updates.set_apple_enforcement(1, "ipados", Enforcement("18.4", date(2031, 3, 9)))
    updates.set_apple_enforcement(1, "ios", Enforcement("18.4", date(2031, 3, 9)))
    assert fleet.teams[1] == TeamOSUpdates(
        1, ios=AppleOSUpdates("18.4", "2031-03-09"), ipados=AppleOSUpdates("18.4", "2031-03-09")
    )
    with pytest.raises(FleetError):
        OsUpdates().set_apple_enforcement(1, "darwin", Enforcement("27.1", date(2031, 3, 9)))
    assert sync_managed(teams, updates, []) == []
