"""OS-update windows on the local stack (functions-framework, emulators, the stand-in Fleet and Calendar),
with the local team file: team 1 lets the service manage its macOS deadline, policy 4 asks Macs on
macOS 27 for the latest release (27.1 in the stand-in's copy of the SOFA feed).

A macOS 27 Mac gets a window that is the person's time to click Update Now; its event has the steps and
the date Fleet installs it anyway; `manage` sets that date in Fleet once; the dispatcher sends no
ScheduleOSUpdate; the person's Update Now (the stand-in's admin call) is verified by the OS version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.client import LocalStack
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.repository import windows as window_records

pytestmark = pytest.mark.stack
DANA = "dana@acme.example"
DANA_ZONE = "America/Los_Angeles"
STEPS = "System Settings → General → Software Update → Update Now"
TEAM_PATCH = "/api/v1/fleet/teams/1"


def failing_webhook(policy_id: int, host_ids: list[int], fleet_fixtures: str) -> dict[str, Any]:
    with open(f"{fleet_fixtures}/failing_policies_webhook.json") as handle:
        payload: dict[str, Any] = json.load(handle)
    payload["policy"].update(id=policy_id, name="macOS - latest version", team_id=1)
    payload["timestamp"] = datetime.now(UTC).isoformat()
    payload["hosts"] = [{"id": h, "hostname": f"h{h}", "display_name": f"Host {h}", "url": ""} for h in host_ids]
    return payload


@pytest.fixture
def local(
    stack: dict[str, Any],
    store: FirestoreStore,  # noqa: ARG001  # wipes Firestore first
) -> LocalStack:
    client = LocalStack(stack)
    client.seed_fleet()
    client.reset_calendar([{"email": DANA, "timeZone": DANA_ZONE}])
    client.fleet.clear_requests()
    return client


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s")


def start_now(store: FirestoreStore, window: Window) -> Window:
    """Move the window's start to a minute ago, as waiting for it would: dispatch_window refuses a dispatch
    task long before its window's start, and this test delivers the task at once."""
    assert window.start is not None
    assert window.end is not None
    start = datetime.now(UTC) - timedelta(minutes=1)
    moved = replace(window, start=start, end=start + (window.end - window.start))
    window_records.save(store, [moved])
    return moved


def dana_window(store: FirestoreStore) -> Window:
    (window,) = [w for w in window_records.all_windows(store) if w.user_email == DANA]
    return window


def test_a_macos_27_window_is_the_persons_with_fleets_date_and_is_verified_by_version(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    assert local.replay(failing_webhook(4, [5], fleet_fixtures)).status_code == 202
    report = local.plan()
    assert report.status_code == 200, report.text
    assert report.json()["os_update_settings_changed"] == 1
    assert report.json()["windows_booked"] == 1
    window = dana_window(store)
    assert window.end is not None

    # manage: Fleet now enforces macOS 27.1 for team 1, after Dana's window, at 12:00 on the deadline day.
    (patch,) = local.fleet.requests(method="PATCH", path=TEAM_PATCH)
    settings = patch["body"]["mdm"]["macos_updates"]
    deadline = date.fromisoformat(settings["deadline"])
    assert settings["minimum_version"] == "27.1"
    assert datetime.combine(deadline, datetime.min.time(), ZoneInfo(DANA_ZONE)).replace(hour=12) > window.end
    (event,) = local.our_events(DANA)
    text = unescape(event["description"])
    assert STEPS in text
    assert f"{deadline:%A %-d %B %Y}, 12:00 ({DANA_ZONE})" in text
    assert "your Mac installs macOS 27.1 by itself" in text

    again = local.plan().json()
    assert again["os_update_settings_changed"] == 0
    assert len(local.fleet.requests(method="PATCH")) == 1

    window = start_now(store, window)
    body = {"window_id": window.window_id, "revision": window.revision, "purpose": "dispatch"}
    dispatched = local.deliver_task(body).json()
    assert dispatched["status"] == "dispatched"
    assert dispatched["actions_by_person"] == 1
    assert local.fleet.requests(path="/api/v1/fleet/commands/run") == []  # no ScheduleOSUpdate for macOS 27

    # The declaration reaches the Mac at its next check-in; then Dana clicks Update Now and 27.1 installs.
    wait_for(lambda: (local.fleet.host(5)["declaration"] or [""])[0] == "27.1")
    local.fleet.update_now(5)
    wait_for(lambda: local.fleet.host(5)["os_version"] == "macOS 27.1")
    verify = {**body, "purpose": "verify"}
    for attempt in range(4):
        answer = local.deliver_task({**verify, "attempt": attempt}).json()
        if answer["status"] == "verified":
            break
        wait_for(lambda: not local.fleet.host(5)["refetch_requested"])
    assert answer["status"] == "verified"
    assert dana_window(store).state is WindowState.VERIFIED


def test_a_macos_15_mac_without_a_team_deadline_gets_schedule_os_update(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str
) -> None:
    local.reset_calendar()
    payload = failing_webhook(1, [2], fleet_fixtures)  # Bob's MacBook Air: macOS 15.3, in no team
    payload["policy"].update(name="macOS - OS version up to date", team_id=None)
    assert local.replay(payload).status_code == 202
    assert local.plan().json()["windows_booked"] == 1
    (window,) = window_records.all_windows(store)
    window = start_now(store, window)
    body = {"window_id": window.window_id, "revision": window.revision, "purpose": "dispatch"}
    assert local.deliver_task(body).json()["actions_sent"] == 1
    (command,) = [a for a in local.fleet.state()["actions"] if a["kind"] == "mdm_command"]
    assert command["host_id"] == 2
    assert command["references"][0] == "ScheduleOSUpdate"
    assert local.fleet.requests(method="PATCH") == []
