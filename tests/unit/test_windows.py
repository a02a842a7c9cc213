"""The window state machine and the deterministic ids that make every handler idempotent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain import windows as w
from maintenance_windows.domain.ids import event_id, task_name, user_key, window_id
from maintenance_windows.domain.task_schedule import (
    EARLY_DISPATCH_TOLERANCE,
    TASK_HORIZON,
    dispatch_is_due,
    dispatch_task,
    verify_task,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _window() -> w.Window:
    key = user_key("Alice@Acme.example")
    return w.Window(window_id(key, 1), key, "alice@acme.example", 3, (1, 2), (7,), NOW + timedelta(days=7), NOW)


def _slot(hours: int = 3) -> w.Slot:
    return w.Slot(NOW + timedelta(hours=hours), NOW + timedelta(hours=hours, minutes=30), "lunch break", 4.0)


def test_user_key_ignores_case_and_hides_the_email() -> None:
    assert user_key("Alice@Acme.example ") == user_key("alice@acme.example")
    assert "alice" not in user_key("alice@acme.example")


def test_event_ids_are_google_base32hex_and_change_with_the_booking() -> None:
    first, second = event_id("w-1", 0), event_id("w-1", 1)
    for value in (first, second):
        assert re.fullmatch(r"[a-v0-9]{5,1024}", value)
    assert first == event_id("w-1", 0)
    assert first != second


def test_task_names_start_with_a_hash_and_differ_by_revision() -> None:
    name = task_name("abc-0001", 2, "dispatch")
    assert re.fullmatch(r"[0-9a-f]{12}-abc-0001-r2-dispatch", name)
    assert task_name("abc-0001", 3, "dispatch") != name


def test_plan_then_book_records_history_and_event_id() -> None:
    planned = w.plan(_window(), _slot(), "Europe/Berlin", NOW)
    assert planned.state is w.WindowState.PLANNED
    assert planned.event_id == event_id(planned.window_id, 0)
    booked = w.booked(planned, "task-1", NOW, etag="e1")
    assert booked.state is w.WindowState.SCHEDULED
    assert booked.task_name == "task-1"
    assert [entry.kind for entry in booked.history] == ["planned", "booked"]


def test_a_move_bumps_the_revision_and_keeps_the_event() -> None:
    booked = w.booked(w.plan(_window(), _slot(), "UTC", NOW), "t", NOW)
    moved = w.moved(booked, NOW + timedelta(days=1), NOW + timedelta(days=1, minutes=30), NOW, late=False, etag="e2")
    assert (moved.revision, moved.event_id, moved.task_name) == (1, booked.event_id, None)
    assert moved.history[-1].kind == "moved"
    assert "→" in moved.history[-1].detail


def test_a_deletion_rebooks_under_a_new_event_id() -> None:
    booked = w.booked(w.plan(_window(), _slot(), "UTC", NOW), "t", NOW)
    rebooked = w.rebook_after_deletion(booked, NOW, "deleted by the user")
    assert rebooked.deletions == 1
    assert rebooked.booking == 1
    assert rebooked.revision == 1
    assert rebooked.event_id == event_id(booked.window_id, 1) != booked.event_id


@pytest.mark.parametrize("closed", [w.cancel, w.decline])
def test_closed_windows_cannot_be_dispatched(closed: object) -> None:
    booked = w.booked(w.plan(_window(), _slot(), "UTC", NOW), "t", NOW)
    done = closed(booked, NOW, "why")  # type: ignore[operator]
    assert not done.is_open
    with pytest.raises(w.InvalidTransition):
        w.dispatched(done, NOW, "late task")


def test_new_window_cannot_be_verified() -> None:
    with pytest.raises(w.InvalidTransition):
        w.verified(_window(), NOW, "x")


def test_dispatch_task_at_start_within_the_horizon() -> None:
    booked = w.booked(w.plan(_window(), _slot(), "UTC", NOW), "t", NOW)
    spec = dispatch_task(booked, NOW)
    assert spec.at == booked.start
    assert spec.payload == {
        "window_id": booked.window_id,
        "revision": 0,
        "purpose": "dispatch",
    }


def test_far_windows_get_a_recheck_task_inside_the_horizon() -> None:
    far = w.plan(_window(), _slot(hours=800), "UTC", NOW)
    spec = dispatch_task(far, NOW)
    assert spec.payload["purpose"] == "recheck"
    assert spec.at == NOW + TASK_HORIZON
    assert spec.at - NOW <= timedelta(hours=720)


def test_a_dispatch_is_due_from_its_start_less_the_tolerance_and_never_without_a_start() -> None:
    booked = w.plan(_window(), _slot(hours=72), "UTC", NOW)
    assert booked.start is not None
    assert not dispatch_is_due(booked, NOW)  # three days ahead: not a delivery Cloud Tasks would make
    assert not dispatch_is_due(booked, booked.start - EARLY_DISPATCH_TOLERANCE - timedelta(microseconds=1))
    assert dispatch_is_due(booked, booked.start - EARLY_DISPATCH_TOLERANCE)
    assert dispatch_is_due(booked, booked.start + timedelta(days=2))
    assert dispatch_is_due(booked, booked.start, tolerance=timedelta(0))
    assert not dispatch_is_due(_window(), NOW + timedelta(days=365))
    assert timedelta(0) < EARLY_DISPATCH_TOLERANCE <= timedelta(minutes=5)


def test_verify_task_after_the_end_plus_grace() -> None:
    planned = w.plan(_window(), _slot(), "UTC", NOW)
    spec = verify_task(planned, timedelta(minutes=15))
    assert planned.end is not None
    assert spec.at == planned.end + timedelta(minutes=15)
    assert verify_task(planned, timedelta(minutes=15), attempt=1).name != spec.name
