"""`mw pause`, `mw resume`, `mw pauses`, `mw previews` and the pause banner, on the memory doubles."""

from __future__ import annotations

import functools
import json

import pytest

from maintenance_windows.cli import commands, planning_commands, rollout_commands
from maintenance_windows.cli.main import main as mw
from maintenance_windows.cli.tables import MAX_WIDTH
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.repository import pauses as pause_records
from tests.support.world import DOMAIN, World

ALICE = f"alice@{DOMAIN}"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    world = World(teams=parse_teams({"defaults": {"domains": [DOMAIN]}, "teams": {"5": {"mode": "preview"}}}))
    world.host(1, ALICE)
    world.host(2, f"bob@{DOMAIN}", team_id=5)
    store = functools.cache(lambda: world.store)
    for module in (commands, planning_commands, rollout_commands):
        monkeypatch.setattr(module, "store_from_stack", store)
    return world


def out(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    capsys.readouterr()
    assert mw(list(argv)) == code, argv
    return capsys.readouterr().out


def test_pause_asks_first_and_without_a_terminal_or_yes_writes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert mw(["pause", "--reason", "incident"]) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert pause_records.active_pauses(world.store) == []


def test_pause_then_resume_a_team_with_yes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert "paused team 3 since" in out(capsys, "pause", "--team", "3", "--reason", "lab  move", "--yes")
    (pause,) = pause_records.active_pauses(world.store)
    assert (pause.team_id, pause.reason) == (3, "lab move")
    rows = json.loads(out(capsys, "pauses", "--json"))
    assert [(row["scope"], row["reason"]) for row in rows] == [("team 3", "lab move")]
    assert out(capsys, "resume", "--team", "4", "--yes", code=1) == ""
    assert "resumed team 3" in out(capsys, "resume", "--team", "3", "--yes")
    assert pause_records.active_pauses(world.store) == []
    assert "nothing is paused" in out(capsys, "pauses")


def test_listings_show_a_pause_at_the_top_and_as_the_reason(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    out(capsys, "pause", "--reason", "change freeze", "--yes")
    world.plan()
    listing = out(capsys, "hosts")
    assert listing.splitlines()[0].startswith("PAUSED all teams since")
    assert "change freeze" in listing
    assert all(len(line) <= MAX_WIDTH for line in listing.splitlines())
    rows = {row["host_id"]: row for row in json.loads(out(capsys, "hosts", "--json"))}
    assert rows[1]["why"].startswith("paused: all teams")
    assert rows[2]["why"].startswith("paused: all teams")
    windows = json.loads(out(capsys, "windows", "--json"))
    assert windows["pauses"][0]["reason"] == "change freeze"
    assert {p["user"] for p in windows["without_window"]} == {ALICE, f"bob@{DOMAIN}"}
    assert out(capsys, "windows").startswith("PAUSED all teams")


def test_previews_show_what_the_preview_team_would_book(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.plan()
    (report,) = json.loads(out(capsys, "previews", "--json"))
    assert (report["team_id"], report["would_book_count"]) == (5, 1)
    table = out(capsys, "previews")
    assert "would book 1" in table
    assert f"bob@{DOMAIN}" in table
    assert all(len(line) <= MAX_WIDTH for line in table.splitlines())
    rows = {row["host_id"]: row for row in json.loads(out(capsys, "hosts", "--json"))}
    assert rows[2]["why"] == "preview: Default runs in preview: nothing is booked"
    assert rows[1]["window"] == "scheduled"
