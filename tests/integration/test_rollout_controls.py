"""Rollout controls on the local stack: a dry run books nothing, a pause stops booking and dispatch, and the
pilot and exclude rules hold, with Fleet's labels read from the stand-in's host API."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import stack as local_stack
from infra.client import LocalStack
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.cli.main import main as mw
from maintenance_windows.config.settings import Settings
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.windows import WindowState
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanOptions, plan_windows
from tests.integration.test_plan_windows import failing_webhook
from tests.support import stack as stack_support

pytestmark = pytest.mark.stack
ALICE, BOB, CHEN, DANA = (f"{name}@acme.example" for name in ("alice", "bob", "chen", "dana"))
#: Bob's Mac carries the label "Executives", Dana's "Early adopters" (infra/local/fleet-seed.json).
ROLLOUT_RULES = """
  exclude:
    labels: [Executives]
teams:
  "1":
    name: Workstations
    pilot:
      labels: [Early adopters]
"""


@pytest.fixture
def local(stack: dict[str, Any], store: FirestoreStore, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    client = LocalStack(stack)
    client.quiet_calendar()
    stack_support.wipe(store)
    client.seed_fleet()
    zones = {ALICE: "Europe/Berlin", BOB: "America/New_York", CHEN: "Asia/Singapore", DANA: "America/Los_Angeles"}
    client.reset_calendar([{"email": email, "timeZone": zone} for email, zone in zones.items()])
    monkeypatch.setenv("MW_STACK_FILE", os.environ.get("MW_STACK_FILE") or str(local_stack.stack_file("test")))
    return client


def rules_file(tmp_path: Path) -> Path:
    """The local team file with the rollout rules added to its defaults and a pilot for team 1."""
    base = (local_stack.ROOT / "infra" / "local" / "teams.yaml").read_text()
    head, _ = base.split("\nteams:\n", 1)
    path = tmp_path / "rollout.yaml"
    path.write_text(head + ROLLOUT_RULES)
    return path


def replay_everyone(local: LocalStack, fleet_fixtures: str) -> None:
    assert local.replay(failing_webhook(1, [1, 2], fleet_fixtures)).status_code == 202  # Alice, Bob
    assert local.replay(failing_webhook(2, [4, 5], fleet_fixtures)).status_code == 202  # Chen, Dana (team 1)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert mw(list(argv)) == 0, capsys.readouterr()
    return json.loads(capsys.readouterr().out)


def test_a_dry_run_lists_who_would_be_booked_and_books_nothing(
    local: LocalStack,
    store: FirestoreStore,
    fleet_fixtures: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay_everyone(local, fleet_fixtures)
    inserts = local.counters()["calls"].get("calendar.events.insert", 0)
    result = cli(capsys, "plan", "--dry-run", "--json", "--config", str(rules_file(tmp_path)))
    actions = {(person["action"], person["user"]): person for person in result["people"]}
    assert set(actions) == {("book", ALICE), ("book", DANA), ("held", BOB), ("held", CHEN)}
    assert actions[("held", BOB)]["why"] == "excluded: by label Executives"
    assert actions[("held", CHEN)]["why"].startswith("not in pilot: the Workstations pilot")
    assert actions[("book", ALICE)]["when"]
    assert actions[("book", ALICE)]["why"]
    assert result["withheld"]["calendar.insert"] == 2
    assert result["withheld"]["tasks.schedule"] == 2
    # Nothing left the process: no window, no lease, no event, no Fleet action.
    assert window_records.all_windows(store) == []
    assert store.query("leases") == []
    assert all(case.get("hold") is None for _, case in store.query("hosts"))
    assert local.counters()["calls"].get("calendar.events.insert", 0) == inserts
    assert all(local.our_events(email) == [] for email in (ALICE, BOB, CHEN, DANA))
    assert local.fleet.state()["actions"] == []


def test_pilot_and_exclude_hold_in_a_live_run(
    local: LocalStack, stack: dict[str, Any], store: FirestoreStore, fleet_fixtures: str, tmp_path: Path
) -> None:
    replay_everyone(local, fleet_fixtures)
    settings = Settings.from_env(stack["function_env"])
    teams = parse_teams(yaml.safe_load(rules_file(tmp_path).read_text()))
    ctx = PlanningContext(
        store,
        GoogleCalendarAdapter.from_settings(settings),
        FleetHttpClient.from_settings(settings),
        MemoryTaskQueue(),
        TemplateExplainer(),
        teams,
    )
    report = plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=5)))
    assert report.windows_booked == 2
    assert report.extra["hosts_held_excluded"] == 1
    assert sorted(w.user_email for w in window_records.all_windows(store)) == [ALICE, DANA]
    assert local.our_events(BOB) == []
    assert local.our_events(CHEN) == []
    assert len(local.our_events(DANA)) == 1
    rows = {row["host_id"]: row for row in cli_rows()}
    assert rows[2]["why"] == "excluded: by label Executives"
    assert rows[4]["why"].startswith("not in pilot")


def cli_rows() -> list[dict[str, Any]]:
    from maintenance_windows.cli.commands import host_rows

    class Args:
        user = host = team = state = since = None

    return host_rows(Args())  # type: ignore[arg-type]


def test_a_pause_stops_booking_and_dispatch_and_the_window_is_rebooked_after_it(
    local: LocalStack, store: FirestoreStore, fleet_fixtures: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert local.replay(failing_webhook(1, [1], fleet_fixtures)).status_code == 202  # Alice
    cli(capsys, "pause", "--reason", "incident 12", "--yes", "--json")
    held = local.plan(lead_minutes=0).json()
    assert (held["windows_booked"], held["hosts_held_paused"]) == (0, 1)
    assert local.our_events(ALICE) == []
    assert cli(capsys, "windows", "--json")["without_window"][0]["why"].startswith("paused: all teams")
    cli(capsys, "resume", "--yes", "--json")
    assert local.plan(lead_minutes=1).json()["windows_booked"] == 1  # a minute ahead: time to pause first
    (booked,) = window_records.all_windows(store)
    cli(capsys, "pause", "--reason", "incident 13", "--yes", "--json")
    # The queue delivers the dispatch task at the start: the dispatcher finds the pause and sends nothing.
    deadline = datetime.now(UTC) + timedelta(seconds=120)
    while (current := window_records.load(store, booked.window_id)) and current.state is WindowState.SCHEDULED:
        assert datetime.now(UTC) < deadline, "the dispatch task never came"
        time.sleep(0.5)
    assert current is not None
    assert current.state is WindowState.PLANNED
    assert current.put_off_start == booked.start
    assert local.fleet.state()["actions"] == []
    assert local.plan(lead_minutes=10).json()["windows_booked"] == 0  # still paused
    cli(capsys, "resume", "--yes", "--json")
    assert local.plan(lead_minutes=10).json()["windows_booked"] == 1
    (rebooked,) = window_records.all_windows(store)
    assert rebooked.state is WindowState.SCHEDULED
    assert rebooked.start
    assert booked.start
    assert rebooked.start > booked.start
    (event,) = local.our_events(ALICE)
    assert "maintenance was paused at the time first booked" in event["description"]
