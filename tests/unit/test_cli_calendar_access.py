"""`mw hosts` and `mw windows` show why a person cannot be booked when their calendar refuses us."""

from __future__ import annotations

import functools
import json

import pytest

from maintenance_windows.cli import channel_commands, commands, planning_commands
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
    store = functools.cache(lambda: world.store)
    for module in (commands, planning_commands, channel_commands):
        monkeypatch.setattr(module, "store_from_stack", store)
    return world


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert mw(list(argv)) == 0, argv
    return capsys.readouterr().out


@pytest.mark.usefixtures("world")
def test_hosts_show_the_calendar_problem(capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = json.loads(_out(capsys, "hosts", "--json"))
    assert (row["host_id"], row["user"], row["window"]) == (7, BOB, "new")
    assert row["why"] == f"not placed: {REFUSED}"
    assert row["details"]["calendar_problem"] == REFUSED
    assert "not placed: calendar" in _out(capsys, "hosts")  # the table cuts long cells; --json holds them whole


@pytest.mark.usefixtures("world")
def test_windows_show_why_they_are_not_placed(capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = json.loads(_out(capsys, "windows", "--json"))["windows"]
    assert (row["state"], row["unplaced_reason"], row["start_utc"]) == ("new", REFUSED, None)
    assert row["why"] == f"not placed: {REFUSED}"
    assert "not placed: calendar" in _out(capsys, "windows")
