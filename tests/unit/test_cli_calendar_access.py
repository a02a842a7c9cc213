"""`mw hosts` and `mw windows` show why a person cannot be booked when their calendar refuses us."""

from __future__ import annotations

import json

import pytest

from maintenance_windows.cli import commands, planning_commands
from maintenance_windows.cli.main import main as mw
from tests.support.world import DOMAIN, World

BOB = f"bob@{DOMAIN}"
REFUSED = "calendar access refused (not_delegated) since 2031-03-03 07:00 UTC, 1 time(s); next try 2031-03-03 08:00 UTC"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    world = World()
    world.host(7, BOB)
    world.calendar.refuse_delegation(BOB, "not_delegated")
    world.plan()
    monkeypatch.setattr(commands, "store_from_stack", lambda: world.store)
    monkeypatch.setattr(planning_commands, "store_from_stack", lambda: world.store)
    return world


def test_hosts_show_the_calendar_problem(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert mw(["hosts", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["host_id"], row["user"], row["calendar_problem"]) == (7, BOB, REFUSED)
    assert mw(["hosts"]) == 0
    assert "CALENDAR_PROBLEM" in capsys.readouterr().out


def test_windows_show_why_they_are_not_placed(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert mw(["windows", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["state"], row["unplaced_reason"], row["start_utc"]) == ("new", REFUSED, None)
    assert mw(["windows"]) == 0
    assert f"not placed: {REFUSED}" in capsys.readouterr().out
