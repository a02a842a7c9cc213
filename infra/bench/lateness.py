"""Dispatch lateness: how long after a window's start its actions reach Fleet, on the local stack.

Windows are booked a minute ahead (the local short-lead option), the Tasks emulator fires them at their
start, and dispatch_window sends the actions. Lateness = the `dispatched` history entry's time minus the
window's start. The reference is the emulator's own delivery delay, measured with a task to a no-op URL.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from infra import stack as local_stack
from infra.bench.processes import progress
from infra.client import LocalStack
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.repository.windows import all_windows

PROFILE = "bench"


def _seed(windows: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
    hosts = [
        {
            "id": i,
            "uuid": f"uuid-{i}",
            "platform": "darwin",
            "display_name": f"Mac {i}",
            "emails": [{"email": f"user{i}@acme.example", "source": "idp"}],
            "policies": {"1": "fail"},
        }
        for i in range(1, windows + 1)
    ]
    seed = {"policies": [{"id": 1, "name": "macOS - OS version up to date", "platform": "darwin"}], "hosts": hosts}
    users = [{"email": f"user{i}@acme.example", "timeZone": "UTC"} for i in range(1, windows + 1)]
    return seed, users


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(windows: int) -> dict[str, Any]:
    info = local_stack.up(PROFILE)
    try:
        client = LocalStack(info)
        import os

        os.environ["FIRESTORE_EMULATOR_HOST"] = info["firestore_emulator_host"]
        store = FirestoreStore.connect(info["project"])
        seed, users = _seed(windows)
        client.seed_fleet(seed)
        client.reset_calendar(users)
        payload = {
            "timestamp": datetime.now(UTC).isoformat(),
            "policy": {"id": 1, "name": "macOS up to date"},
            "hosts": [{"id": i} for i in range(1, windows + 1)],
        }
        assert client.replay(json.dumps(payload).encode()).status_code == 202
        report = client.plan(lead_minutes=1).json()
        progress(f"{report['windows_booked']} windows booked a minute ahead; waiting for their start")
        deadline = time.monotonic() + 240
        lateness: list[float] = []
        while time.monotonic() < deadline:
            booked = all_windows(store)
            dispatched = [w for w in booked if any(entry.kind == "dispatched" for entry in w.history)]
            if len(dispatched) == len(booked):
                for window in dispatched:
                    entry = next(entry for entry in window.history if entry.kind == "dispatched")
                    assert window.start is not None
                    lateness.append((entry.at - window.start).total_seconds())
                break
            time.sleep(1)
    finally:
        local_stack.down(PROFILE)
    if not lateness:
        return {"windows": windows, "error": "windows were not all dispatched within 4 minutes"}
    return {
        "windows": windows,
        "lateness_seconds": {
            "p50": round(statistics.median(lateness), 3),
            "p95": round(_percentile(lateness, 0.95), 3),
            "max": round(max(lateness), 3),
        },
        "note": "all windows start in the same minute; the Tasks emulator delivers them one after another",
    }
