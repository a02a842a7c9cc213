"""Duplicate delivery on the whole local stack: every webhook 3×, every push notification 10×, every task 3×
(at the same time, as an at-least-once queue may), over 200 windows (1,000 with MW_RELIABILITY_SIZE=large).
Expected: one event per window, one task per window revision, one of each Fleet action per host."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from maintenance_windows.domain.intervals import parse_rfc3339
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from tests.reliability.support import (
    EXPECTED_ACTIONS,
    Figures,
    Population,
    Rig,
    Size,
    current_size,
    settle_notifications,
    tasks_per_window_revision,
)

pytestmark = [pytest.mark.stack, pytest.mark.timeout(current_size().timeout_seconds)]

WEBHOOK_COPIES = 3
PUSH_COPIES = 10
TASK_COPIES = 3


def _move_every_event(rig: Rig, windows: list[Window]) -> None:
    """Each user drags their event one hour later, in their own calendar (the stand-in pushes the change)."""

    def move(window: Window) -> None:
        assert window.start is not None
        assert window.end is not None
        shift = timedelta(hours=1)
        body = {"start": (window.start + shift).isoformat(), "end": (window.end + shift).isoformat()}
        rig.local.calendar("POST", f"users/{window.user_email}/events/{window.event_id}/move", body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(move, windows))


def test_repeated_webhooks_pushes_and_tasks_leave_no_duplicates(rig: Rig, size: Size, figures: Figures) -> None:
    population = Population("d", size.windows)
    rig.reset(population)
    rig.calendar_config(push_duplicates=PUSH_COPIES)
    timings: dict[str, float] = {}
    began = time.monotonic()

    statuses = rig.replay_webhooks(population, WEBHOOK_COPIES)
    assert Counter(statuses) == {202: 2 * WEBHOOK_COPIES}
    cases = host_records.all_hosts(rig.store)
    assert len(cases) == size.windows
    assert all(case.failing_policy_ids == (1, 2) for case in cases)
    timings["webhooks_s"] = time.monotonic() - began

    mark = time.monotonic()
    reports = rig.plan_until_complete()
    settle_notifications(rig)  # the `sync` message of every new channel, 10 times each
    timings["plan_s"] = time.monotonic() - mark
    booked = window_records.all_windows(rig.store)
    assert len(booked) == size.windows
    assert {w.state for w in booked} == {WindowState.SCHEDULED}

    mark = time.monotonic()
    _move_every_event(rig, booked)
    settle_notifications(rig)
    timings["follow_moves_s"] = time.monotonic() - mark
    pushes = rig.local.counters()
    moved = {w.window_id: w for w in window_records.all_windows(rig.store)}
    for before in booked:
        after = moved[before.window_id]
        assert before.start is not None
        assert (after.state, after.revision, after.booking) == (WindowState.SCHEDULED, 1, 0), after.window_id
        assert after.start == before.start + timedelta(hours=1)

    events = rig.events_by_window(population)
    assert set(events) == set(moved)
    duplicated = {window_id: len(found) for window_id, found in events.items() if len(found) != 1}
    assert duplicated == {}
    for window_id, (event,) in events.items():
        assert event["id"] == moved[window_id].event_id
        assert event["status"] == "confirmed"
        assert parse_rfc3339(event["start"]["dateTime"]) == moved[window_id].start

    queued = rig.queued_tasks()
    dispatch_tasks = tasks_per_window_revision(queued, "dispatch")
    assert set(dispatch_tasks) == {(w, r) for w in moved for r in (0, 1)}  # the booking's, then the move's
    assert set(dispatch_tasks.values()) == {1}

    rig.start_windows_now(moved)
    mark = time.monotonic()
    current = [t.body for t in queued if t.purpose == "dispatch" and t.revision == 1]
    stale = [t.body for t in queued if t.purpose == "dispatch" and t.revision == 0]
    deliveries = rig.deliver_all(current, TASK_COPIES) + rig.deliver_all(stale, 1)
    timings["dispatch_s"] = time.monotonic() - mark
    assert {d.final for d in deliveries} == {200}
    stale_answers = [rig.local.deliver_task(body, timeout=60).json() for body in stale[:5]]
    assert {answer["status"] for answer in stale_answers} == {"stale"}

    actions = rig.actions_by_host()
    assert set(actions) == set(population.host_ids)
    wrong = {host: kinds for host, kinds in actions.items() if kinds != EXPECTED_ACTIONS}
    assert wrong == {}
    dispatched = window_records.all_windows(rig.store)
    assert {w.state for w in dispatched} == {WindowState.DISPATCHED}

    queued_verify = [t for t in rig.queued_tasks() if t.purpose == "verify"]
    verify_tasks = tasks_per_window_revision(queued_verify, "verify")
    assert set(verify_tasks) == {(w, 1) for w in moved}
    # Concurrent deliveries may each schedule the verify task; they use one name, which Cloud Tasks
    # refuses to create twice (the emulator does not deduplicate names, hence the count below).
    assert len({t.name for t in queued_verify}) == len(moved)
    figures.record(
        "duplicates",
        windows=size.windows,
        webhook_posts=len(statuses),
        notifications_pushed=pushes["notifications_sent"],
        notifications_failed=pushes["notifications_failed"],
        task_deliveries=sum(len(d.statuses) for d in deliveries),
        task_deliveries_answered_503=sum(d.statuses.count(503) for d in deliveries),
        duplicate_events=sum(len(found) - 1 for found in events.values()),
        duplicate_fleet_actions=sum(n - 1 for kinds in actions.values() for n in kinds.values()),
        duplicate_verify_tasks_in_emulator=sum(n - 1 for n in verify_tasks.values()),
        plan_runs=len(reports),
        seconds={key: round(value, 1) for key, value in {**timings, "total_s": time.monotonic() - began}.items()},
    )
    print(json.dumps(figures.values["duplicates"]))
