"""OS-update windows and refused fixes, planner to verification, on the memory doubles.

On Apple OS 27 and later, and wherever Fleet manages a team's updates, ScheduleOSUpdate is never sent: the
window is the time the person starts the update, the event says how and when the device installs it
anyway, and verification compares the reported OS version with the target. A fix Fleet refuses for good
blocks its policy on the host instead of being rebooked every day.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from maintenance_windows.cli.host_view import host_row, read_snapshot
from maintenance_windows.config.teams import TeamsConfig, parse_teams
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.fleet import AppleOSUpdates, WindowsOSUpdates
from maintenance_windows.service.dispatch import run_task
from maintenance_windows.service.dispatch_context import TaskBody
from tests.support.world import DOMAIN, MONDAY, World

DANA = f"dana@{DOMAIN}"
LA = ZoneInfo("America/Los_Angeles")
STEPS = "System Settings → General → Software Update → Update Now"


def teams(action: dict[str, Any], **team_one: Any) -> TeamsConfig:
    entry = {"policy_id": 1, "actions": [{"type": "os_update", **action}]}
    return parse_teams(
        {"defaults": {"domains": [DOMAIN], "actions": [entry]}, "teams": {"1": team_one} if team_one else {}}
    )


def world_with(config: TeamsConfig) -> World:
    world = World(teams=config)
    world.calendar.set_time_zone(DANA, "America/Los_Angeles")
    return world


def only_window(world: World) -> Window:
    (window,) = world.windows()
    return window


def text_of(world: World, window: Window) -> str:
    event = world.calendar.stored(window.user_email, window.event_id or "")
    assert event is not None
    return unescape(event.description_html)


def deliver(world: World, window: Window, purpose: str = "dispatch", attempt: int = 0) -> Any:
    body = TaskBody.model_validate(
        {"window_id": window.window_id, "revision": window.revision, "purpose": purpose, "attempt": attempt}
    )
    return run_task(world.dispatch_ctx, body)


def test_a_macos_27_mac_gets_no_command_its_event_has_the_steps_and_fleets_deadline_and_its_version_is_verified() -> (
    None
):
    world = world_with(teams({"product_version": "latest"}))
    world.fleet.set_team_os_updates(1, macos=AppleOSUpdates("27.1", "2031-03-07"))
    world.host(5, DANA, failing=(1,), team_id=1, os_version="macOS 27.0")
    world.plan()
    window = only_window(world)
    fleet_deadline = datetime(2031, 3, 7, 12, tzinfo=LA)
    assert window.deadline == fleet_deadline
    assert window.end is not None
    assert window.end <= fleet_deadline
    text = text_of(world, window)
    assert STEPS in text
    assert "Friday 7 March 2031, 12:00 (America/Los_Angeles)" in text
    assert "your Mac installs macOS 27.1 by itself and restarts" in text
    assert "Nothing is installed automatically when this window starts" in text

    world.clock.now = window.start or MONDAY
    dispatched = deliver(world, window)
    assert (dispatched.actions_by_person, dispatched.actions_sent) == (1, 0)
    assert [a.detail["request_type"] for a in world.fleet.sent("mdm_command")] == []
    note = next(e for e in world.window(window.window_id).history if e.kind == "action_by_person")
    assert "macOS 27.0 no longer accepts ScheduleOSUpdate" in note.detail
    assert STEPS in note.detail
    assert world.host_case(5)["os_update"]["targets"] == {"1": "27.1"}

    world.fleet.update_now(5, "27.1")  # the person clicked Update Now during the window
    world.clock.now = (window.end or MONDAY) + timedelta(minutes=15)
    outcome = deliver(world, window, "verify", 0)
    if outcome.status == "recheck":
        world.clock.now += timedelta(minutes=5)
        outcome = deliver(world, window, "verify", 1)
    assert outcome.status == "verified"
    # Fleet still holds the policy's last run as failing: the reported OS version decided.
    assert world.fleet.get_host(5).os_version == "macOS 27.1"
    assert world.stored_case(5).status.value == "closed"


def test_a_macos_27_mac_that_was_not_updated_is_still_failing_by_version() -> None:
    world = world_with(teams({"product_version": "27.1"}))
    world.host(5, DANA, failing=(1,), team_id=1, os_version="macOS 27.0")
    world.plan()
    window = only_window(world)
    assert "Your IT team" not in text_of(world, window).split("Why it matters")[0]  # no Fleet date to promise
    world.clock.now = window.start or MONDAY
    deliver(world, window)
    world.clock.now = (window.end or MONDAY) + timedelta(minutes=15)
    outcomes = []
    for attempt in range(3):
        world.fleet.set_policy(5, 1, "pass")  # even a passing policy result does not fake the version
        outcomes.append(deliver(world, window, "verify", attempt))
        world.clock.now += timedelta(minutes=5)
    assert outcomes[-1].status == "failed"
    assert outcomes[-1].verdicts == {"5": "still failing “Policy 1”"}


def test_a_macos_15_mac_without_a_team_deadline_still_gets_schedule_os_update() -> None:
    world = world_with(teams({"product_version": "15.4"}))
    world.host(2, DANA, failing=(1,), os_version="macOS 15.3")
    world.plan()
    window = only_window(world)
    text = text_of(world, window)
    assert "your Mac will install the macOS update 15.4 and restart" in text
    assert STEPS not in text
    world.clock.now = window.start or MONDAY
    assert deliver(world, window).actions_sent == 1
    (command,) = world.fleet.sent("mdm_command")
    assert command.detail["request_type"] == "ScheduleOSUpdate"
    assert world.host_case(2)["os_update"]["targets"] == {"1": "15.4"}


def test_a_team_with_fleet_os_update_settings_never_gets_the_command_even_on_macos_15() -> None:
    world = world_with(teams({"product_version": "15.4"}))
    world.fleet.set_team_os_updates(1, macos=AppleOSUpdates("15.4", "2031-03-20"))
    world.host(2, DANA, failing=(1,), team_id=1, os_version="macOS 15.3")
    world.plan()
    window = only_window(world)
    world.clock.now = window.start or MONDAY
    assert deliver(world, window).actions_by_person == 1
    assert world.fleet.sent("mdm_command") == []


def test_an_ipad_and_a_windows_pc_get_their_own_steps() -> None:
    world = world_with(teams({}))
    world.fleet.set_team_os_updates(1, ipados=AppleOSUpdates("18.4", "2031-03-20"), windows=WindowsOSUpdates(5, 2))
    world.host(6, DANA, failing=(1,), team_id=1, platform="ipados", os_version="iPadOS 18.3")
    world.host(7, DANA, failing=(1,), team_id=1, platform="windows", os_version="Windows 11 Pro 24H2 10.0.26100")
    world.plan()
    text = text_of(world, only_window(world))
    assert "Settings → General → Software Update." in text
    assert "your iPad installs iPadOS 18.4 by itself" in text
    assert "Settings → Windows Update → Check for updates, then Restart now" in text
    assert "Windows installs required updates by itself 5 days after they are offered to your PC" in text


def test_fleets_deadline_sooner_than_any_free_slot_books_the_earliest_and_says_so() -> None:
    world = world_with(teams({"product_version": "27.1"}))
    world.fleet.set_team_os_updates(1, macos=AppleOSUpdates("27.1", "2031-03-03"))  # Monday, 12:00 in LA
    monday = datetime(2031, 3, 3, tzinfo=LA)
    world.calendar.add_event(
        DANA, "busy-morning", monday + timedelta(hours=8), monday + timedelta(hours=12, minutes=30)
    )
    world.host(5, DANA, failing=(1,), team_id=1, os_version="macOS 27.0")
    world.plan()
    window = only_window(world)
    assert window.start is not None
    assert window.start >= monday + timedelta(hours=12, minutes=30)
    assert window.reason.startswith("Fleet installs the update by itself on Monday 3 March 2031, 12:00")
    assert "this is the earliest free slot" in window.reason
    assert "sooner than any free time in your calendar" in text_of(world, window)


def test_manage_sets_the_teams_deadline_after_its_last_window_once() -> None:
    world = world_with(teams({"product_version": "latest"}, os_updates={"role": "manage"}))
    world.host(5, DANA, failing=(1,), team_id=1, os_version="macOS 27.0")
    report = world.plan()
    assert report.extra["os_update_settings_changed"] == 1
    ((team, patch),) = world.fleet.team_patches
    window = only_window(world)
    assert window.end is not None
    assert team == 1
    assert patch["macos"].minimum_version == "27.1"
    deadline = datetime.fromisoformat(patch["macos"].deadline).replace(hour=12, tzinfo=LA)
    assert deadline > window.end  # Fleet enforces only after the person's window
    assert f"{deadline:%A %-d %B %Y}, 12:00 (America/Los_Angeles)" in text_of(world, window)
    world.clock.advance(timedelta(minutes=30))
    assert world.plan().extra["os_update_settings_changed"] == 0
    assert len(world.fleet.team_patches) == 1


def test_observe_never_changes_fleets_settings() -> None:
    world = world_with(teams({"product_version": "latest"}))
    world.fleet.set_team_os_updates(1, macos=AppleOSUpdates("27.1", "2031-03-07"))
    world.host(5, DANA, failing=(1,), team_id=1, os_version="macOS 27.0")
    world.plan()
    assert len(world.fleet.team_patches) == 1  # only the test's own seeding


def test_an_unknown_script_is_not_rebooked_until_its_fix_changes(caplog: pytest.LogCaptureFixture) -> None:
    script = {"policy_id": 2, "actions": [{"type": "script", "script_name": "Turn on FileVault"}]}
    world = World(teams=parse_teams({"defaults": {"domains": [DOMAIN], "actions": [script]}}))
    world.fleet.add_script(11, "Turn on FileVault (v2)")
    world.host(1, DANA, failing=(2,))
    world.plan()
    window = only_window(world)
    world.clock.now = window.start or MONDAY
    with caplog.at_level(logging.ERROR):
        assert deliver(world, window).actions_failed == 1
    case = world.host_case(1)
    assert case["needs_attention"] is True
    assert "Script 'Turn on FileVault' doesn’t exist." in case["attention_reason"]
    world.clock.now = (window.end or MONDAY) + timedelta(minutes=15)
    for attempt in range(3):
        deliver(world, window, "verify", attempt)
        world.clock.now += timedelta(minutes=5)
    assert world.window(window.window_id).state is WindowState.FAILED
    for day in range(1, 4):  # the next days' planning runs book nothing for the refused fix, and say nothing
        world.clock.now = MONDAY + timedelta(days=day)
        report = world.plan()
        assert (report.windows_opened, report.extra["hosts_blocked"]) == (0, 1)
    assert [getattr(r, "event", "") for r in caplog.records].count("host_needs_attention") == 1
    snapshot = read_snapshot(world.store)
    row = host_row(next(case for case in snapshot.hosts if case.host_id == 1), snapshot)  # what `mw hosts` shows
    assert row["needs_attention"] is True
    assert row["blocked_policies"] == [2]
    assert row["why"].startswith("needs attention: Fleet refused the fix for “Policy 2”")
    fixed = parse_teams(
        {
            "defaults": {
                "domains": [DOMAIN],
                "actions": [{"policy_id": 2, "actions": [{"type": "script", "script_id": 11}]}],
            }
        }
    )
    world.teams = world.ctx.teams = fixed
    assert world.plan().windows_opened == 1  # a new fix is a new attempt
