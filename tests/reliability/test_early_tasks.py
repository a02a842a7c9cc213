"""A dispatch task long before its window's start does nothing, on the whole local stack.

calendar_notifications is public and holds the right to enqueue tasks (it reschedules moved windows), so a
task with a valid token can still be one no schedule made. Here such a task, for a real window at its current
revision but starting in three days, is enqueued through the product's own CloudTasksQueue for now: the Tasks
emulator delivers it, the relay adds the invoker's token, and dispatch_window must answer 200 (so the queue
stops) having sent nothing, written nothing, and logged why.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from infra.tasks_relay import DELIVERIES_PATH
from maintenance_windows.adapters.cloud_tasks import CloudTasksQueue
from maintenance_windows.config.settings import Settings
from maintenance_windows.domain.windows import WindowState
from maintenance_windows.repository import windows as window_records
from tests.reliability.support import Population, Rig, wait_until

pytestmark = pytest.mark.stack


def _relay_answers(rig: Rig, task: str) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = requests.get(
        rig.stack["urls"]["tasks_relay"] + DELIVERIES_PATH, timeout=10
    ).json()["deliveries"]
    return [delivery for delivery in deliveries if delivery["task"] == task]


def test_a_dispatch_task_three_days_early_sends_nothing_writes_nothing_and_says_why(rig: Rig) -> None:
    population = Population("e", 1)
    rig.reset(population)
    assert set(rig.replay_webhooks(population, copies=1)) == {202}
    rig.plan_until_complete()
    (booked,) = window_records.all_windows(rig.store)
    in_three_days = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    (window,) = rig.move_window_starts([booked.window_id], in_three_days)
    rig.purge_tasks()  # the booking's own task: only the forged one may arrive
    before, fleet_before = rig.snapshot(), len(rig.local.fleet.requests())

    queue = CloudTasksQueue.from_settings(Settings.from_env(rig.stack["function_env"]))
    name = f"early-{uuid.uuid4().hex[:12]}"
    payload = {"window_id": window.window_id, "revision": window.revision, "purpose": "dispatch"}
    assert queue.schedule(name, datetime.now(UTC), payload)
    wait_until(lambda: bool(_relay_answers(rig, name)), 60, "the emulator never delivered the early task")

    (delivery, *_) = _relay_answers(rig, name)
    assert delivery["status"] == 200  # so Cloud Tasks stops: this is an answer, not a failure
    assert rig.snapshot() == before
    assert len(rig.local.fleet.requests()) == fleet_before
    logged = [
        entry for entry in rig.log_events("dispatch_window", "task_early") if entry.get("window_id") == window.window_id
    ]
    assert logged
    assert logged[-1]["severity"] == "WARNING"
    assert logged[-1]["start"] == in_three_days.isoformat()

    direct = rig.local.deliver_task(payload, timeout=60)  # the same body, sent by hand with the invoker's token
    assert (direct.status_code, direct.json()["status"]) == (200, "early")
    assert rig.snapshot() == before

    # The refusal was about the time only: once the start has come, the same task dispatches.
    rig.start_windows_now([window.window_id])
    answer = rig.local.deliver_task(payload, timeout=120)
    assert (answer.status_code, answer.json()["status"]) == (200, "dispatched"), answer.text
    dispatched = window_records.load(rig.store, window.window_id)
    assert dispatched is not None
    assert dispatched.state is WindowState.DISPATCHED
