"""Rollout controls on the memory doubles: pause, pilot, exclude, preview, and a dry run that writes nothing."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from maintenance_windows.adapters.rehearsal import (
    OverlayStore,
    Recorder,
    RecordingCalendar,
    RecordingFleet,
    RecordingTasks,
)
from maintenance_windows.cli.dry_run import summarize
from maintenance_windows.cli.host_view import host_row, read_snapshot
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.rollout import HoldKind, Pause, hold_for, pause_for
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.windows import WindowState
from maintenance_windows.repository import pauses as pause_records
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.dispatch import run_task
from maintenance_windows.service.dispatch_context import TaskBody
from maintenance_windows.service.errors import NothingToDo
from maintenance_windows.service.planner import PlanOptions, plan_windows
from maintenance_windows.service.rollout import PREVIEWS
from tests.support.world import DOMAIN, MONDAY, World

ALICE, BOB, CAROL = f"alice@{DOMAIN}", f"bob@{DOMAIN}", f"carol@{DOMAIN}"


def world_with(rules: dict[str, Any]) -> World:
    return World(teams=parse_teams({"defaults": {"domains": [DOMAIN]}, **rules}))


def why(world: World, host_id: int) -> str:
    snapshot = read_snapshot(world.store)
    case = next(case for case in snapshot.hosts if case.host_id == host_id)
    return str(host_row(case, snapshot)["why"])


def dispatch_due(world: World) -> Any:
    (window,) = world.windows()
    assert window.start is not None
    world.clock.now = window.start + timedelta(seconds=5)
    return run_task(
        world.dispatch_ctx, TaskBody(window_id=window.window_id, revision=window.revision, purpose="dispatch")
    )


# -- the rules, pure -------------------------------------------------------------------------------------


def test_exclusion_outranks_the_pilot_and_a_pause_and_labels_match_case_blind() -> None:
    rules = TeamRules.model_validate({"pilot": {"emails": [ALICE]}, "exclude": {"labels": ["Kiosks"]}})
    pause = Pause(None, "incident 42", MONDAY)
    assert hold_for(rules, None, ALICE, ["kiosks"], [pause]).kind is HoldKind.EXCLUDED  # type: ignore[union-attr]
    assert hold_for(rules, None, BOB, [], [pause]).kind is HoldKind.NOT_IN_PILOT  # type: ignore[union-attr]
    assert hold_for(rules, None, "Alice@Acme.Example", [], [pause]).kind is HoldKind.PAUSED  # type: ignore[union-attr]
    assert hold_for(rules, None, ALICE, [], []) is None


def test_a_pause_of_every_team_outranks_a_teams_own() -> None:
    every, team = Pause(None, "all", MONDAY), Pause(3, "team three", MONDAY)
    assert pause_for([team, every], 3) is every
    assert pause_for([team], 3) is team
    assert pause_for([team], 4) is None
    assert pause_for([team], None) is None


def test_an_empty_pilot_is_refused_and_a_bad_email_is_named() -> None:
    with pytest.raises(ValueError, match="books nobody"):
        TeamRules.model_validate({"pilot": {}})
    with pytest.raises(ValueError, match="not an email address"):
        TeamRules.model_validate({"exclude": {"emails": ["Executives"]}})


# -- pause -------------------------------------------------------------------------------------------------


def test_a_pause_books_nothing_and_resume_books_what_waited() -> None:
    world = World()
    world.host(1, ALICE)
    world.pause("bad script in policy 1")
    report = world.plan()
    assert (report.windows_opened, report.windows_booked, report.extra["hosts_held_paused"]) == (0, 0, 1)
    assert world.calendar.events_of(ALICE) == []
    assert world.tasks.pending() == []
    assert why(world, 1) == f"paused: all teams since {MONDAY:%Y-%m-%d %H:%M}Z: bad script in policy 1"
    world.resume()
    assert why(world, 1) == "waiting for the next plan"  # read live: a resume shows at once
    assert world.plan().windows_booked == 1
    assert len(world.calendar.events_of(ALICE)) == 1
    assert world.host_case(1)["hold"] is None


def test_a_team_pause_holds_that_team_only() -> None:
    world = world_with({"teams": {"3": {"name": "Lab"}}})
    world.host(1, ALICE, team_id=3)
    world.host(2, BOB)
    world.pause("lab move", team_id=3)
    report = world.plan()
    assert report.windows_booked == 1
    assert [w.user_email for w in world.windows()] == [BOB]
    assert why(world, 1).startswith("paused: team 3 since")


def test_a_window_due_during_a_pause_sends_nothing_and_is_rebooked_after_it_saying_so() -> None:
    world = World()
    world.host(1, ALICE)
    world.plan()
    (booked,) = world.windows()
    world.pause("incident 7")
    with pytest.raises(NothingToDo) as held:
        dispatch_due(world)
    assert held.value.status == "paused"
    assert world.fleet.sent() == []
    (put_off,) = world.windows()
    assert (put_off.state, put_off.revision, put_off.put_off_start) == (WindowState.PLANNED, 1, booked.start)
    assert put_off.unplaced_reason is not None
    assert "incident 7" in put_off.unplaced_reason
    with pytest.raises(NothingToDo):  # a retry of the same task finds the new revision
        run_task(world.dispatch_ctx, TaskBody(window_id=booked.window_id, revision=0, purpose="dispatch"))
    assert world.plan().windows_booked == 0  # still paused: not booked again yet
    world.resume()
    world.plan()
    (rebooked,) = world.windows()
    assert rebooked.state is WindowState.SCHEDULED
    assert rebooked.start is not None
    assert booked.start is not None
    assert rebooked.start > booked.start
    assert rebooked.event_id == booked.event_id
    event = world.calendar.stored(ALICE, rebooked.event_id or "")
    assert event is not None
    assert event.start == rebooked.start
    assert "maintenance was paused at the time first booked" in event.description_html
    assert len(world.calendar.events_of(ALICE)) == 1
    outcome = dispatch_due(world)
    assert outcome.status in ("dispatched", "verified"), outcome


# -- pilot, exclude, preview --------------------------------------------------------------------------------


def test_only_the_pilot_is_booked_by_email_or_label_and_the_others_say_why() -> None:
    world = world_with({"teams": {"3": {"name": "Sales", "pilot": {"emails": [ALICE], "labels": ["Early"]}}}})
    world.host(1, ALICE, team_id=3)
    world.host(2, BOB, team_id=3, labels=["early"])
    world.host(3, CAROL, team_id=3, labels=["Finance"])
    report = world.plan()
    assert report.windows_booked == 2
    assert report.extra["hosts_held_not_in_pilot"] == 1
    assert sorted(w.user_email for w in world.windows()) == [ALICE, BOB]
    assert why(world, 3).startswith("not in pilot: the Sales pilot names neither")
    assert world.calendar.events_of(CAROL) == []


def test_an_excluded_person_is_never_booked_and_a_window_booked_before_is_cancelled() -> None:
    world = World()
    world.host(1, ALICE)
    world.host(2, BOB, labels=["Executives"])
    world.plan()
    assert len(world.windows()) == 2
    world.ctx.teams = parse_teams({"defaults": {"domains": [DOMAIN], "exclude": {"emails": [ALICE]}}})
    report = world.plan()
    assert report.extra["windows_cancelled_by_rules"] == 1
    assert [w.user_email for w in world.windows()] == [BOB]
    assert world.calendar.events_of(ALICE) == []
    assert why(world, 1) == f"excluded: by email {ALICE}"
    exclude = {"emails": [ALICE], "labels": ["executives"]}
    world.ctx.teams = parse_teams({"defaults": {"domains": [DOMAIN], "exclude": exclude}})
    world.clock.advance(timedelta(hours=25))  # label rules read the host's labels again after a day
    world.plan()
    assert world.windows() == []
    assert why(world, 2) == "excluded: by label executives"


def test_preview_books_nothing_and_stores_what_it_would_book_on_every_run() -> None:
    world = world_with({"teams": {"3": {"name": "Sales", "mode": "preview"}}})
    world.host(1, ALICE, team_id=3)
    report = world.plan()
    assert (report.windows_opened, report.windows_booked, report.extra["preview_would_book"]) == (0, 0, 1)
    assert world.calendar.events_of(ALICE) == []
    assert world.tasks.pending() == []
    assert world.windows() == []
    (preview,) = [doc for _, doc in world.store.query(PREVIEWS)]
    assert (preview["team_id"], preview["would_book_count"]) == (3, 1)
    (entry,) = preview["would_book"]
    assert entry["user"] == ALICE
    assert entry["hosts"] == [1]
    assert entry["start"] > MONDAY.isoformat()
    assert why(world, 1) == "preview: Sales runs in preview: nothing is booked"
    world.clock.advance(timedelta(hours=1))
    world.plan()
    (again,) = [doc for _, doc in world.store.query(PREVIEWS)]
    assert again["at"] == world.clock()
    assert world.windows() == []


# -- dry run ------------------------------------------------------------------------------------------------


def _collections(world: World) -> dict[str, Any]:
    names = ("hosts", "windows", "users", "leases", "claims", "pauses", PREVIEWS, "policies", "os_update_settings")
    return {name: copy.deepcopy(world.store.query(name)) for name in names}


def test_a_dry_run_computes_the_bookings_and_writes_nothing() -> None:
    world = World()
    world.host(1, ALICE)
    world.host(2, BOB)
    world.host(3, CAROL)
    world.ctx.teams = parse_teams({"defaults": {"domains": [DOMAIN], "exclude": {"emails": [CAROL]}}})
    before = _collections(world)
    recorder = Recorder()
    store = OverlayStore(world.store, recorder)
    fleet = RecordingFleet(world.fleet, recorder)
    ctx = PlanningContext(
        store,
        RecordingCalendar(world.calendar, recorder),
        fleet,
        RecordingTasks(recorder),
        world.ctx.explainer,
        world.ctx.teams,
        world.clock,
    )
    report = plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=5)))
    assert (report.windows_opened, report.windows_booked) == (2, 2)
    assert _collections(world) == before
    assert world.calendar.events_of(ALICE) == []
    assert world.tasks.pending() == []
    assert world.fleet.sent() == []
    result = summarize(report, store, recorder)
    booked = {p["user"]: p for p in result["people"] if p["action"] == "book"}
    assert set(booked) == {ALICE, BOB}
    assert all(p["when"] and p["why"] for p in booked.values())
    (held,) = [p for p in result["people"] if p["action"] == "held"]
    assert (held["user"], held["hosts"], held["why"]) == (CAROL, [3], f"excluded: by email {CAROL}")
    assert result["withheld"]["calendar.insert"] == 2
    assert result["withheld"]["tasks.schedule"] == 2
    json.dumps(result, default=str)
    world.plan()  # the real run afterwards books the same people: the dry run left no lease or window behind
    assert sorted(w.user_email for w in world.windows()) == [ALICE, BOB]


def test_the_pause_documents_are_readable_for_a_status_page() -> None:
    world = World()
    world.pause("incident 9", team_id=4)
    world.pause("freeze")
    rows = pause_records.status(world.store)
    assert [(r["scope"], r["reason"]) for r in rows] == [("all teams", "freeze"), ("team 4", "incident 9")]
    assert pause_records.pause_of(world.store, 4) is not None
    assert pause_records.pause_of(world.store, 5) is not None
    world.resume()
    assert pause_records.pause_of(world.store, 5) is None


def test_the_overlay_store_reads_through_and_keeps_every_write_to_itself() -> None:
    from maintenance_windows.adapters.memory_store import MemoryStore
    from maintenance_windows.ports.store import Filter, Write

    real = MemoryStore()
    real.commit([Write("set", "c", "a", {"n": 1, "m": {"x": 1}}), Write("set", "c", "b", {"n": 2})])
    recorder = Recorder()
    overlay = OverlayStore(real, recorder)
    overlay.commit(
        [Write("merge", "c", "a", {"m": {"y": 2}}), Write("delete", "c", "b"), Write("set", "c", "d", {"n": 1})]
    )
    assert overlay.get("c", "a") == {"n": 1, "m": {"x": 1, "y": 2}}
    assert overlay.get("c", "b") is None
    assert [doc_id for doc_id, _ in overlay.query("c", [Filter("n", "==", 1)])] == ["a", "d"]
    assert overlay.get_many("c", ["a", "b", "d"]).keys() == {"a", "d"}
    assert overlay.create("c", "a", {}) is False
    assert overlay.create("c", "b", {"n": 3}) is True
    assert overlay.update("c", "zz", {"n": 1}) is False
    assert overlay.update("c", "d", {"n": 5}) is True
    assert [doc_id for doc_id, _ in overlay.query("c", order_by="n", limit=2)] == ["a", "b"]
    assert real.query("c") == [("a", {"n": 1, "m": {"x": 1}}), ("b", {"n": 2})]
    assert recorder.count("store") == 5
    assert overlay.original("c", "b") == {"n": 2}


def test_an_event_deleted_during_a_pause_is_booked_again_only_after_it() -> None:
    from maintenance_windows.service.follow import FollowOutcome, apply_changes

    world = World()
    world.host(1, ALICE)
    world.plan()
    (booked,) = world.windows()
    world.pause("freeze")
    deleted = world.calendar.user_deletes(ALICE, booked.event_id or "")
    held = apply_changes(world.ctx, booked, [deleted.as_event()], full_sync=False, outcome=FollowOutcome())
    assert held.state is WindowState.PLANNED
    assert held.task_name is None
    assert held.booking == 1
    assert world.calendar.events_of(ALICE) == []
    assert world.tasks.pending() == []
    assert held.unplaced_reason is not None
    assert held.unplaced_reason.startswith("paused: all teams")
    world.resume()
    assert world.plan().windows_booked == 1
    assert len(world.calendar.events_of(ALICE)) == 1
