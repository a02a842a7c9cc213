"""Dispatch and verification against the stand-in Fleet (its hosts check in every second), with windows,
claims and host cases in the Firestore emulator: Fleet's answers and reports read as Fleet gives them.

- Resends Fleet already holds (409 script queued, 400 pending install) count as already sent.
- A script Fleet does not know is refused for good: no retry, the host needs attention with Fleet's message,
  and `mw hosts` shows it.
- Verification trusts only results reported after the fix: not the read right after a refetch; an
  offline host is waited for and verified once it is back.
- A macOS 27 Mac gets no ScheduleOSUpdate and is verified by the OS version it reports; a macOS 15 Mac
  without a team deadline still gets the command.
- The calendar webhook goes out once the host reported during the window, with its failing calendar
  policies only, and a 429 is retried.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.fleet_server import FleetAdmin, RunningFleet, serve_in_thread
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.cli import commands
from maintenance_windows.cli.main import main as mw
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.failing_policies import HostSighting
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.dispatch import TaskOutcome, run_task
from maintenance_windows.service.dispatch_context import DispatchContext, TaskBody
from maintenance_windows.service.errors import NothingToDo
from maintenance_windows.service.os_updates import OsUpdates

pytestmark = pytest.mark.stack

SEED: dict[str, Any] = {
    "settings": {"checkin_interval_seconds": 1},
    "teams": [{"id": 3, "name": "Workstations"}],
    "hosts": [
        {
            "id": 1,
            "uuid": "uuid-1",
            "hardware_serial": "SN1",
            "platform": "darwin",
            "team_id": 3,
            "display_name": "Ann's Mac",
            "os_version": "macOS 15.3",
            "policies": {"1": "fail", "2": "fail"},
        },
        {
            "id": 2,
            "uuid": "uuid-2",
            "hardware_serial": "SN2",
            "platform": "darwin",
            "team_id": 3,
            "display_name": "Dana's Mac",
            "os_version": "macOS 27.0",
        },
        {
            "id": 3,
            "uuid": "uuid-3",
            "hardware_serial": "SN3",
            "platform": "darwin",
            "team_id": 3,
            "display_name": "Gita's Mac",
            "os_version": "macOS 15.3",
            "policies": {"1": "fail"},
        },
    ],
    "policies": [
        {"id": 1, "name": "Firewall on", "team_id": 3, "calendar_events_enabled": True},
        {"id": 2, "name": "Agent installed", "team_id": 3},
        {"id": 4, "name": "macOS latest", "team_id": 3, "min_os_version": "27.1", "platform": "darwin"},
    ],
    "scripts": [{"id": 7, "name": "Enable firewall", "team_id": 3}],
    "software_titles": [{"id": 9, "name": "Agent", "team_ids": [3]}],
}
FIREWALL = {"policy_id": 1, "actions": [{"type": "script", "script_name": "Enable firewall"}]}
AGENT = {"policy_id": 2, "actions": [{"type": "software_install", "software_title_id": 9}]}
LATEST_MACOS = {"policy_id": 4, "actions": [{"type": "os_update", "product_version": "27.1"}]}
FAST = RetryPolicy(max_attempts=2, base_delay_seconds=0.01, max_delay_seconds=0.05)


@pytest.fixture
def fleet() -> Iterator[RunningFleet]:
    with serve_in_thread(SEED) as running:
        yield running


@pytest.fixture
def admin(fleet: RunningFleet) -> Iterator[FleetAdmin]:
    client = FleetAdmin(fleet.url)
    yield client
    client.close()


@pytest.fixture
def client(fleet: RunningFleet) -> Iterator[FleetHttpClient]:
    http = FleetHttpClient(fleet.url, fleet.token, retry=FAST)
    yield http
    http.close()


def context(
    store: FirestoreStore, client: FleetHttpClient, *entries: dict[str, Any], **defaults: Any
) -> DispatchContext:
    teams = parse_teams(
        {"defaults": {"actions": list(entries), "verify": {"grace_minutes": 0, "max_rechecks": 5}, **defaults}}
    )
    return DispatchContext(store, client, MemoryTaskQueue(), teams, os_updates=OsUpdates(store, client), catalog=client)


def store_window(store: FirestoreStore, hosts: tuple[int, ...], policies: tuple[int, ...]) -> Window:
    now = datetime.now(UTC)
    window = Window(
        window_id=f"fa{time.monotonic_ns()}-0001",
        user_key="fa",
        user_email="ann@acme.example",
        team_id=3,
        host_ids=hosts,
        policy_ids=policies,
        deadline=now + timedelta(days=3),
        created_at=now - timedelta(days=1),
        state=WindowState.SCHEDULED,
        revision=1,
        start=now,
        end=now + timedelta(minutes=10),
    )
    window_records.save(store, [window])
    host_records.record_failures(
        store, [HostSighting(h, p, now - timedelta(minutes=1)) for h in hosts for p in policies]
    )
    store.commit(
        [
            Write(
                "set",
                host_records.HOSTS,
                str(host_id),
                {"host_id": host_id, "fleet_display_name": f"Mac {host_id}", "team_id": 3},
            )
            for host_id in hosts
        ]
    )
    return window


def deliver(ctx: DispatchContext, window: Window, purpose: str = "dispatch", attempt: int = 0) -> Any:
    """The task's outcome (Dispatched, a verification outcome or WebhookPolled), as dispatch_window runs it."""
    body = {"window_id": window.window_id, "revision": window.revision, "purpose": purpose, "attempt": attempt}
    outcome: TaskOutcome = run_task(ctx, TaskBody.model_validate(body))
    return outcome


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def verified(ctx: DispatchContext, window: Window, admin: FleetAdmin, host_id: int, attempt: int) -> str:
    """Look until the window is decided, waiting for each asked-for report in between. Fleet's times have
    whole seconds, so a report in the same second as the fix is not yet proof; the next one is."""
    for look in range(attempt, attempt + 4):
        wait_for(reported(admin, host_id))
        status = str(deliver(ctx, window, "verify", look).status)
        if status not in ("recheck", "waiting"):
            return status
    return status


def reported(admin: FleetAdmin, host_id: int) -> Callable[[], bool]:
    return lambda: not admin.host(host_id)["refetch_requested"]


def actions(admin: FleetAdmin, host_id: int) -> list[tuple[str, list[str]]]:
    return [(a["kind"], a["references"]) for a in admin.state()["actions"] if a["host_id"] == host_id]


def test_resends_fleet_already_holds_count_as_already_sent(
    store: FirestoreStore, client: FleetHttpClient, admin: FleetAdmin
) -> None:
    admin.set_online(1, False)  # so both stay pending on the host
    client.run_script(1, script_name="Enable firewall", team_id=3)  # an earlier delivery's sends
    client.install_software(1, 9)
    ctx = context(store, client, FIREWALL, AGENT)
    outcome = deliver(ctx, store_window(store, (1,), (1, 2)))
    assert (outcome.actions_already_sent, outcome.actions_sent, outcome.actions_failed) == (2, 0, 0)
    statuses = [r["status"] for r in admin.requests(method="POST") if r["path"] != "/api/v1/fleet/hosts/1/refetch"]
    assert statuses == [202, 202, 409, 400]  # Fleet's own answers to the resends
    assert [kind for kind, _ in actions(admin, 1)] == ["script", "software_install"]


def test_an_unknown_script_is_permanent_and_mw_hosts_shows_fleets_message(
    store: FirestoreStore,
    client: FleetHttpClient,
    admin: FleetAdmin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = {"policy_id": 1, "actions": [{"type": "script", "script_name": "Missing script"}]}
    ctx = context(store, client, missing)
    window = store_window(store, (1,), (1,))
    assert deliver(ctx, window).actions_failed == 1
    case = store.get(host_records.HOSTS, "1") or {}
    assert case["needs_attention"] is True
    assert "Script 'Missing script' doesn’t exist." in case["attention_reason"]
    with pytest.raises(NothingToDo, match="dispatched"):
        deliver(ctx, window)  # the task is done: no loop of resends
    assert [r["status"] for r in admin.requests(method="POST", path="/api/v1/fleet/scripts/run")] == [422]
    monkeypatch.setattr(commands, "store_from_stack", functools.cache(lambda: store))
    assert mw(["hosts", "--host", "1"]) == 0
    assert "needs attention: Fleet refused the fix" in capsys.readouterr().out  # the table's why column
    assert mw(["host", "1"]) == 0
    detail = " ".join(capsys.readouterr().out.split())  # wrapped to 120 columns
    assert "Script 'Missing script' doesn’t exist." in detail
    assert "needs_attention true" in detail.lower()


def test_the_first_read_after_a_refetch_is_not_trusted_and_the_fix_is_verified_once_reported(
    store: FirestoreStore, client: FleetHttpClient, admin: FleetAdmin
) -> None:
    admin.pass_on_action(1, 1, "script")
    ctx = context(store, client, FIREWALL)
    window = store_window(store, (1,), (1,))
    deliver(ctx, window)
    wait_for(lambda: admin.host(1)["queued"]["scripts"] == 0)
    # The script ran at a check-in, but Fleet's results are from before it: not evidence.
    assert deliver(ctx, window, "verify", 0).status == "recheck"
    assert admin.host(1)["refetch_requested"] is True
    assert deliver(ctx, window, "verify", 1).status == "recheck"  # refetch still owed
    assert verified(ctx, window, admin, 1, attempt=2) == "verified"


def test_an_offline_host_waits_and_is_verified_once_it_is_back(
    store: FirestoreStore, client: FleetHttpClient, admin: FleetAdmin
) -> None:
    admin.set_online(3, False)
    admin.pass_on_action(3, 1, "script")
    ctx = context(store, client, FIREWALL)
    window = store_window(store, (3,), (1,))
    assert deliver(ctx, window).actions_sent == 1  # Fleet queues it for the host
    waiting = deliver(ctx, window, "verify", 0)
    assert waiting.status == "waiting"
    assert waiting.offline_hosts == [3]
    loaded = window_records.load(store, window.window_id)
    assert loaded is not None
    assert loaded.history[-1].detail.startswith("waiting for the device to come online")
    admin.set_online(3, True)  # it checks in at once: runs the script, then answers the refetch
    assert verified(ctx, window, admin, 3, attempt=1) == "verified"


def test_a_macos_27_mac_gets_no_schedule_os_update_and_is_verified_by_its_os_version(
    store: FirestoreStore, client: FleetHttpClient, admin: FleetAdmin
) -> None:
    ctx = context(store, client, LATEST_MACOS)
    window = store_window(store, (2,), (4,))
    outcome = deliver(ctx, window)
    assert (outcome.actions_by_person, outcome.actions_sent) == (1, 0)
    assert actions(admin, 2) == []
    assert admin.requests(path="/api/v1/fleet/commands/run") == []
    admin.update_now(2, "27.1")  # the person clicked Update Now
    wait_for(lambda: admin.host(2)["os_version"] == "macOS 27.1")
    assert verified(ctx, window, admin, 2, attempt=0) == "verified"


def test_a_macos_15_mac_without_a_team_deadline_still_gets_schedule_os_update(
    store: FirestoreStore, client: FleetHttpClient, admin: FleetAdmin
) -> None:
    update = {"policy_id": 1, "actions": [{"type": "os_update", "product_version": "15.4"}]}
    ctx = context(store, client, update)
    assert deliver(ctx, store_window(store, (1,), (1,))).actions_sent == 1
    ((kind, references),) = actions(admin, 1)
    assert kind == "mdm_command"
    assert references[0] == "ScheduleOSUpdate"


def test_the_calendar_webhook_waits_for_the_report_and_lists_calendar_policies_only(
    store: FirestoreStore, client: FleetHttpClient, admin: FleetAdmin
) -> None:
    ctx = context(store, client, compatible_webhook_url=admin.hook_url("tines"))
    window = store_window(store, (1,), (1, 2))
    assert deliver(ctx, window).webhooks_awaited == 1
    assert admin.hook_requests("tines") == []
    wait_for(reported(admin, 1))
    admin.hook_faults("tines", fail_next=2, status=429)  # more than the client's own two tries
    assert deliver(ctx, window, "webhook", 0).waiting == 1
    assert deliver(ctx, window, "webhook", 1).sent == 1
    answered = [r["answered"] for r in admin.hook_requests("tines")]
    assert answered == [429, 429, 200]  # two refused within the first look, sent at the next
    body = admin.hook_requests("tines")[-1]["body"]
    assert body["failing_policies"] == [{"id": 1, "name": "Firewall on"}]
    assert body["host_id"] == 1
    assert deliver(ctx, window, "webhook", 2).sent == 0  # once
