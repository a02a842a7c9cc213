"""`mw`'s read commands on a world with long names: every table fits 120 columns, --json holds the same
rows in full, and people without a window stay visible with the reason."""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Any

import pytest

from maintenance_windows.cli import channel_commands, commands, planning_commands
from maintenance_windows.cli.main import main as mw
from maintenance_windows.cli.tables import MAX_WIDTH, render_table
from maintenance_windows.domain import windows as window_states
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.channels import CHANNELS, ChannelRecord, ChannelState, channel_to_document
from maintenance_windows.repository.hosts import HOSTS
from tests.support.world import DOMAIN, World

LONG = "a-very-long-name-" * 6
DECLINER = f"{LONG}decliner@{DOMAIN}"
BOOKED = f"{LONG}booked@{DOMAIN}"
REFUSED = f"refused@{DOMAIN}"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    world = World()
    world.host(1, BOOKED, failing=list(range(100, 130)))
    world.host(2, DECLINER)
    world.host(3, None)
    world.host(4, REFUSED, failing=(7,))
    world.plan()
    by_user = {w.user_email: w for w in world.windows()}
    declined = window_states.decline(by_user[DECLINER], world.clock(), "deleted twice " + LONG)
    window_records.save(world.store, [declined])
    refused = window_states.failed(
        window_states.dispatched(by_user[REFUSED], world.clock(), "sent"), world.clock(), "Fleet refused"
    )
    window_records.save(world.store, [refused])
    world.store.commit(
        [
            Write(
                "set",
                "claims",
                "c1",
                {
                    "status": "finished",
                    "result": "failed",
                    "window_id": refused.window_id,
                    "problem": "422 No script exists for the provided name.",
                },
            ),
            Write(
                "set",
                CHANNELS,
                "ch1",
                channel_to_document(
                    ChannelRecord(
                        "ch-" + LONG,
                        "key",
                        BOOKED,
                        "digest",
                        ChannelState.CURRENT,
                        world.clock(),
                        resource_id="r" * 80,
                        expiration=world.clock() + timedelta(days=7),
                        sync_token="t" * 200,
                    )
                ),
            ),
        ]
    )
    store = functools.cache(lambda: world.store)
    for module in (commands, planning_commands, channel_commands):
        monkeypatch.setattr(module, "store_from_stack", store)
    return world


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert mw(list(argv)) == 0, argv
    return capsys.readouterr().out


TABLES = [
    ("hosts",),
    ("hosts", "--state", "none"),
    ("windows",),
    ("windows", "--all"),
    ("channels",),
    ("user", BOOKED),
    ("host", "1"),
    ("host", "2"),
]


@pytest.mark.parametrize("argv", TABLES, ids=" ".join)
@pytest.mark.usefixtures("world")
def test_every_table_fits_120_columns(capsys: pytest.CaptureFixture[str], argv: tuple[str]) -> None:
    shown = run(capsys, *argv)
    if argv[0] in ("hosts", "windows", "channels"):
        assert "a-very-long-name" in shown  # the long values are there, cut to fit
    widest = max(len(line) for line in shown.splitlines())
    assert widest <= MAX_WIDTH, f"{argv}: {widest} columns"


@pytest.mark.usefixtures("world")
def test_a_cut_cell_ends_with_an_ellipsis_and_json_keeps_it_whole(capsys: pytest.CaptureFixture[str]) -> None:
    table = run(capsys, "hosts")
    assert "…" in table
    assert BOOKED not in table
    rows = json.loads(run(capsys, "hosts", "--json"))
    assert BOOKED in [row["user"] for row in rows]
    assert len(rows) == len(table.splitlines()) - 1  # same rows as the table, header aside


def test_render_table_narrows_the_widest_columns_only() -> None:
    lines = render_table([{"a": "x", "b": "y" * 300}], ["a", "b"])
    assert lines[1].startswith("x  yyy")
    assert lines[1].endswith("…")
    assert len(lines[1]) == MAX_WIDTH


@pytest.mark.usefixtures("world")
def test_people_without_a_window_are_listed_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    rows = {row["host_id"]: row for row in json.loads(run(capsys, "hosts", "--json"))}
    assert rows[1]["window"] in ("planned", "scheduled")
    assert rows[2]["window"] == "none"
    assert rows[2]["why"].startswith("declined")
    assert rows[3]["why"].startswith("no email")
    assert rows[4]["why"] == "permanent Fleet error: 422 No script exists for the provided name."
    listed = json.loads(run(capsys, "windows", "--json"))
    assert DECLINER not in [w["user"] for w in listed["windows"]]  # closed, so not among the open ones
    waiting = {entry["user"]: entry["why"] for entry in listed["without_window"]}
    assert waiting[DECLINER].startswith("declined")
    assert waiting["-"].startswith("no email")
    assert "no window:" in run(capsys, "windows")


def test_filters_apply_to_tables_and_json_alike(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    only = json.loads(run(capsys, "hosts", "--json", "--user", REFUSED.upper()))
    assert [row["host_id"] for row in only] == [4]
    assert [row["host_id"] for row in json.loads(run(capsys, "hosts", "--json", "--host", "3"))] == [3]
    assert json.loads(run(capsys, "hosts", "--json", "--team", "9")) == []
    later = (world.clock() + timedelta(days=1)).isoformat()
    assert json.loads(run(capsys, "hosts", "--json", "--since", later)) == []
    declined = json.loads(run(capsys, "windows", "--json", "--state", "declined"))["windows"]
    assert [w["user"] for w in declined] == [DECLINER]


@pytest.mark.usefixtures("world")
def test_host_and_user_show_the_history_across_windows(capsys: pytest.CaptureFixture[str]) -> None:
    detail: dict[str, Any] = json.loads(run(capsys, "host", "2", "--json"))
    assert [w["state"] for w in detail["windows"]] == ["declined"]
    assert "declined" in [entry["kind"] for entry in detail["windows"][0]["history"]]
    person = json.loads(run(capsys, "user", DECLINER, "--json"))
    assert [h["host_id"] for h in person["hosts"]] == [2]
    assert len(person["windows"]) == 1
    window_id = person["windows"][0]["window_id"]
    assert json.loads(run(capsys, "window", window_id, "--json"))["state"] == "declined"
    assert "history:" in run(capsys, "window", window_id)


@pytest.mark.usefixtures("world")
def test_unknown_host_user_or_window_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert mw(["host", "999"]) == 1
    assert mw(["user", "nobody@example.com"]) == 1
    assert mw(["window", "nope"]) == 1
    assert "no host 999" in capsys.readouterr().err


def test_a_stored_host_document_is_shown_in_full_in_json(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    hold = {"kind": "excluded", "detail": "by label Kiosks", "reason": "excluded: by label Kiosks"}
    world.store.commit([Write("merge", HOSTS, "3", {"hold": hold, "extra_note": "kept"})])
    row = json.loads(run(capsys, "host", "3", "--json"))
    assert row["why"] == "excluded: by label Kiosks"
    assert row["details"]["hold"] == hold
    assert row["details"]["extra_note"] == "kept"
