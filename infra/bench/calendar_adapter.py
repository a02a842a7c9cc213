"""Two Calendar adapter choices, measured against the stand-in: the batch size, and the full sync's cost.

batch_sizes: time_zones + insert_events for N users at each batch size, 50 ms per round trip, Google's
project quota; the stand-in takes Google's 1,000 calls per batch.

full_sync: one calendar with 50 weekly series and a few single events, listed as a full sync with the
adapter's query (singleEvents=false) and with the former one (singleEvents=true, which the stand-in expands
into instances up to its recurrence horizon, as Google does up to its own unpublished one).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from infra.bench.processes import free_port, progress, python, serving
from maintenance_windows.adapters.calendar_credentials import local_credentials
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.domain.intervals import to_rfc3339
from maintenance_windows.ports.calendar import EventSpec

QUOTA = {"project_quota_per_minute": 10_000, "user_quota_per_minute": 600}
PAGE_SIZE = 250


def batch_sizes(users: int, sizes: tuple[int, ...] = (10, 25, 50, 100, 250, 1000)) -> dict[str, Any]:
    port = free_port()
    command = python("-m", "infra.calendar_server", "--port", str(port))
    emails = [f"user{index:05d}@bench.example" for index in range(users)]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    rows = []
    with serving(command, port, "calendar-batch-size") as url:
        http = requests.Session()
        for size in sizes:
            http.post(f"{url}/_admin/reset", timeout=30)
            http.post(
                f"{url}/_admin/users", json={"users": [{"email": e, "timeZone": "UTC"} for e in emails]}, timeout=60
            )
            http.put(f"{url}/_admin/config", json={**QUOTA, "latency_ms": 50}, timeout=10)
            adapter = GoogleCalendarAdapter(
                credentials_for=local_credentials(), api_endpoint=f"{url}/calendar/v3/", batch_size=size
            )
            progress(f"batch size {size}: {users:,} time zones and {users:,} inserts")
            cpu, wall = time.process_time(), time.monotonic()
            adapter.time_zones(emails)
            zones_seconds = time.monotonic() - wall
            adapter.insert_events([_spec(email, index, start) for index, email in enumerate(emails)])
            wall_seconds, cpu_seconds = time.monotonic() - wall, time.process_time() - cpu
            server = http.get(f"{url}/_admin/counters", timeout=10).json()
            rows.append(
                {
                    "batch_size": size,
                    "calls": server["total_calls"],
                    "round_trips": server["round_trips"],
                    "rejected": server["rejected"],
                    "time_zones_seconds": round(zones_seconds, 2),
                    "wall_seconds": round(wall_seconds, 2),
                    "client_cpu_seconds": round(cpu_seconds, 2),
                }
            )
    return {"users": users, "latency_ms": 50, "quota": QUOTA, "by_batch_size": rows}


def full_sync(series: int = 50, singles: int = 3) -> dict[str, Any]:
    port = free_port()
    user = "owner@bench.example"
    now = datetime.now(UTC).replace(microsecond=0)
    with serving(python("-m", "infra.calendar_server", "--port", str(port)), port, "calendar-full-sync") as url:
        http = requests.Session()
        http.post(f"{url}/_admin/users", json={"users": [{"email": user, "timeZone": "UTC"}]}, timeout=10)
        weekly = [
            _timed(user, now + timedelta(days=1, hours=index), recurrence=["RRULE:FREQ=WEEKLY"])
            for index in range(series)
        ]
        ours = [_timed(user, now + timedelta(days=day + 1)) for day in range(singles)]
        http.post(f"{url}/_admin/events", json={"events": weekly + ours}, timeout=30).raise_for_status()
        adapter = GoogleCalendarAdapter(
            credentials_for=local_credentials(), api_endpoint=f"{url}/calendar/v3/", page_size=PAGE_SIZE
        )
        changes = adapter.list_changes(user, None)
        adapter_calls = adapter.stats.snapshot()["total_calls"]
        former = _pages(http, url, user, single_events=True, time_min=now)
        current = _pages(http, url, user, single_events=False, time_min=now)
    return {
        "series": series,
        "single_events": singles,
        "page_size": PAGE_SIZE,
        "adapter_full_sync": {"items": len(changes.events), "calls": adapter_calls},
        "measured_single_events_false": current,
        "measured_single_events_true": former,
    }


def _pages(http: requests.Session, url: str, user: str, *, single_events: bool, time_min: datetime) -> dict[str, int]:
    params: dict[str, Any] = {
        "singleEvents": str(single_events).lower(),
        "showDeleted": "true",
        "timeMin": to_rfc3339(time_min),
        "maxResults": PAGE_SIZE,
    }
    pages = items = 0
    while True:
        answer = http.get(
            f"{url}/calendar/v3/calendars/primary/events",
            params=params,
            timeout=30,
            headers={"Authorization": f"Bearer local:{user}"},
        )
        answer.raise_for_status()
        body = answer.json()
        pages += 1
        items += len(body.get("items", []))
        if not body.get("nextPageToken"):
            return {"pages": pages, "items": items}
        params["pageToken"] = body["nextPageToken"]


def _timed(user: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "user": user,
        "summary": "meeting",
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
        **extra,
    }


def _spec(email: str, index: int, start: datetime) -> EventSpec:
    return EventSpec(email, f"bench{index:08d}", start, start + timedelta(minutes=30), "UTC", "Maintenance", "Fix")
