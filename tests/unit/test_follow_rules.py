"""What a calendar change means for a window (domain/calendar_changes.classify): pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain.calendar_changes import ChangeKind, classify
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.calendar import CalendarEvent

NOW = datetime(2031, 3, 3, 8, 0, tzinfo=UTC)
START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)

WINDOW = Window(
    window_id="u1-0001",
    user_key="u1",
    user_email="alice@example.com",
    team_id=None,
    host_ids=(1,),
    policy_ids=(7,),
    deadline=NOW + timedelta(days=3),
    created_at=NOW,
    state=WindowState.SCHEDULED,
    revision=2,
    start=START,
    end=END,
    event_id="ev1",
    event_etag='"100"',
)


def _event(**changes: object) -> CalendarEvent:
    event = CalendarEvent(
        event_id="ev1",
        status="confirmed",
        start=START,
        end=END,
        all_day=False,
        etag='"100"',
        updated=NOW,
        private_properties={"mw_window_id": "u1-0001", "mw_revision": "2"},
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def test_our_own_write_is_ignored() -> None:
    change = classify(WINDOW, _event(), NOW)
    assert (change.kind, change.why) == (ChangeKind.IGNORED, "our own write")


def test_a_text_edit_with_a_new_etag_is_not_a_move() -> None:
    change = classify(WINDOW, _event(etag='"101"', summary="renamed"), NOW)
    assert (change.kind, change.why) == (ChangeKind.IGNORED, "the time did not change")


def test_an_older_revision_is_stale_even_with_another_time() -> None:
    stale = _event(etag='"090"', start=START + timedelta(hours=2), end=END + timedelta(hours=2))
    stale = replace(stale, private_properties={"mw_window_id": "u1-0001", "mw_revision": "1"})
    assert classify(WINDOW, stale, NOW).kind is ChangeKind.IGNORED


def test_a_move_carries_the_new_time() -> None:
    later = START + timedelta(hours=3)
    change = classify(WINDOW, _event(etag='"102"', start=later, end=later + timedelta(minutes=30)), NOW)
    assert change.kind is ChangeKind.MOVED
    assert (change.start, change.end, change.late) == (later, later + timedelta(minutes=30), False)


def test_our_etag_with_another_time_is_still_a_move() -> None:
    """A concurrent writer may have stored the etag of a state that already held the user's move."""
    later = START + timedelta(hours=1)
    assert classify(WINDOW, _event(start=later, end=later + timedelta(minutes=30)), NOW).kind is ChangeKind.MOVED


def test_a_move_past_the_deadline_is_late() -> None:
    late = WINDOW.deadline + timedelta(hours=1)
    change = classify(WINDOW, _event(etag='"103"', start=late, end=late + timedelta(minutes=30)), NOW)
    assert (change.kind, change.late) == (ChangeKind.MOVED, True)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"status": "cancelled", "private_properties": {}}, "the event was deleted"),
        ({"declined_by_owner": True, "etag": '"104"'}, "the user declined the event"),
        ({"all_day": True, "start": None, "end": None, "etag": '"105"'}, "the event was made an all-day event"),
        (
            {"start": NOW - timedelta(hours=2), "end": NOW - timedelta(hours=1, minutes=30), "etag": '"106"'},
            "the event was moved into the past",
        ),
    ],
)
def test_removals(changes: dict[str, object], why: str) -> None:
    change = classify(WINDOW, _event(**changes), NOW)
    assert (change.kind, change.why) == (ChangeKind.REMOVED, why)


def test_a_minimal_cancelled_item_without_properties_is_a_removal() -> None:
    gone = CalendarEvent("ev1", "cancelled", None, None, all_day=False, etag=None, updated=None)
    assert classify(WINDOW, gone, NOW).kind is ChangeKind.REMOVED
