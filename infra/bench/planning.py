"""Planning at scale: our batched planner against a naive per-user strategy like Fleet's.

Both talk to the local Calendar stand-in (a separate process) with 50 ms per round trip and Google's quota
(10,000 requests/min per project, 600/min per user). The planner runs in process with the in-memory store
(the Firestore emulator's write cost grows with collection size and would swamp the figure); the store's
own write and RPC counts are reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from infra.bench.processes import free_port, progress, python, serving
from maintenance_windows.adapters.caching_explainer import CachingExplainer
from maintenance_windows.adapters.calendar_credentials import local_credentials
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.adapters.memory_explanation_cache import MemoryExplanationCache
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.ids import user_key
from maintenance_windows.ports.store import Write
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanOptions, plan_windows

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney", "UTC"]
DOMAIN = "bench.example"
TOKEN = "bench-fleet-token"
QUOTA = {"project_quota_per_minute": 10_000, "user_quota_per_minute": 600}


def _email(index: int) -> str:
    return f"user{index:05d}@{DOMAIN}"


def _fleet_seed(users: int) -> dict[str, Any]:
    return {
        "policies": [
            {
                "id": 1,
                "name": "macOS - OS version up to date",
                "platform": "darwin",
                "critical": True,
                "description": "Macs must run a supported macOS.",
                "resolution": "Update macOS.",
            }
        ],
        "hosts": [
            {
                "id": i,
                "uuid": f"uuid-{i}",
                "platform": "darwin",
                "display_name": f"Mac {i}",
                "emails": [{"email": _email(i), "source": "idp"}],
                "policies": {"1": "fail"},
            }
            for i in range(1, users + 1)
        ],
    }


def _seed_calendar(admin: str, users: int, now: datetime) -> None:
    http = requests.Session()
    http.post(
        f"{admin}/_admin/users",
        timeout=60,
        json={"users": [{"email": _email(i), "timeZone": ZONES[i % len(ZONES)]} for i in range(1, users + 1)]},
    )
    events = []
    for i in range(1, users + 1):
        for day in range(1, 6):  # a realistic week: a few meetings a day
            start = (now + timedelta(days=day)).replace(hour=(i + day * 3) % 24, minute=0, second=0, microsecond=0)
            events.append(
                {
                    "user": _email(i),
                    "summary": "Meeting",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
                }
            )
    for chunk in range(0, len(events), 5000):
        http.post(f"{admin}/_admin/events", json={"events": events[chunk : chunk + 5000]}, timeout=120)
    http.put(f"{admin}/_admin/config", json={**QUOTA, "latency_ms": 50}, timeout=10)
    http.post(f"{admin}/_admin/counters/reset", timeout=10)


def _store_after_webhooks(users: int, now: datetime, warm_time_zones: bool) -> MemoryStore:
    """What fleet_webhook and an earlier planning run leave behind: failing hosts with known owners."""
    store = MemoryStore()
    # Fleet's text of policy 1, as the planner stores it (read again from the Fleet stand-in once stale).
    writes = [
        Write(
            "set",
            "policies",
            "1",
            {
                "policy_id": 1,
                "name": "macOS - OS version up to date",
                "description": "Macs must run a supported macOS.",
                "resolution": "Update macOS.",
                "platform": "darwin",
                "critical": True,
                "fetched_at": now,
            },
        )
    ]
    for i in range(1, users + 1):
        writes.append(
            Write(
                "set",
                "host_policies",
                f"{i}-1",
                {
                    "host_id": i,
                    "policy_id": 1,
                    "state": "failing",
                    "first_seen": now,
                    "last_seen": now,
                    "passed_at": None,
                },
            )
        )
        writes.append(
            Write(
                "set",
                "hosts",
                str(i),
                {
                    "host_id": i,
                    "fleet_display_name": f"Mac {i}",
                    "user_email": _email(i),
                    "user_key": user_key(_email(i)),
                    "team_id": None,
                    "email_problem": None,
                    "owner_checked_at": now,
                    "uuid": f"uuid-{i}",
                    "platform": "darwin",
                },
            )
        )
        if warm_time_zones:
            writes.append(
                Write(
                    "set",
                    "users",
                    user_key(_email(i)),
                    {"email": _email(i), "time_zone": ZONES[i % len(ZONES)], "time_zone_checked_at": now},
                )
            )
    store.commit(writes)
    store.stats.__init__()  # type: ignore[misc]  # count only what planning does
    return store


def run_planner(users: int, *, warm_time_zones: bool = True, with_channels: bool = False) -> dict[str, Any]:
    calendar_port, fleet_port = free_port(), free_port()
    now = datetime.now(UTC)
    seed_file = _write_seed(users)
    calendar_server = python("-m", "infra.calendar_server", "--port", str(calendar_port))
    fleet_server = python("-m", "infra.fleet_server", f"--port={fleet_port}", f"--seed={seed_file}", "--quiet")
    with (
        serving(calendar_server, calendar_port, "calendar") as cal,
        serving(fleet_server, fleet_port, "fleet", env={"FLEET_SERVER_TOKEN": TOKEN}) as fleet,
    ):
        progress(f"seeding {users:,} users and {users * 5:,} meetings")
        _seed_calendar(cal, users, now)
        store = _store_after_webhooks(users, now, warm_time_zones)
        calendar = GoogleCalendarAdapter(
            credentials_for=local_credentials(),
            api_endpoint=f"{cal}/calendar/v3/",
            quota_per_minute=QUOTA["project_quota_per_minute"],
        )
        fleet_client = FleetHttpClient(fleet, TOKEN)
        ctx = PlanningContext(
            store=store,
            calendar=calendar,
            fleet=fleet_client,
            catalog=fleet_client,
            tasks=MemoryTaskQueue(),
            explainer=CachingExplainer(TemplateExplainer(), MemoryExplanationCache(), "template"),
            teams=parse_teams({"organization": "Bench", "defaults": {"domains": [DOMAIN]}}),
            notifications_url="https://127.0.0.1:9/notifications",  # nothing listens: pushes fail quietly
        )
        hooks = (ChannelKeeper(time_budget=timedelta(minutes=30)),) if with_channels else ()
        progress(f"planning {users:,} users ({'warm' if warm_time_zones else 'cold'} time-zone cache)")
        started = time.monotonic()
        report = plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=30)), hooks)
        wall = time.monotonic() - started
        server = requests.get(f"{cal}/_admin/counters", timeout=10).json()
    booked = report.windows_booked
    return {
        "strategy": "batched planner"
        + ("" if warm_time_zones else ", cold time-zone cache")
        + (", opening push channels" if with_channels else ""),
        "users": users,
        "windows_booked": booked,
        "calendar_calls": server["total_calls"],
        "calendar_round_trips": server["round_trips"],
        "calls_per_user": round(server["total_calls"] / max(booked, 1), 3),
        "round_trips_per_user": round(server["round_trips"] / max(booked, 1), 4),
        "calls_by_method": server["calls"],
        "rejected_by_server": server["rejected"],
        "wall_seconds": round(wall, 1),
        "store": store.stats.snapshot(),
        "tasks_created": len(ctx.tasks.pending()),  # type: ignore[attr-defined]
    }


def _write_seed(users: int) -> str:
    import json

    from infra.bench.processes import ROOT

    path = ROOT / ".local" / "bench" / f"fleet-seed-{users}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_fleet_seed(users)))
    return str(path)


def run_naive(users: int, workers: int = 18) -> dict[str, Any]:
    """Fleet's way: per user, settings.get + events.list for the day + events.insert + events.watch."""
    from googleapiclient.discovery import build
    from googleapiclient.errors import HttpError

    calendar_port = free_port()
    now = datetime.now(UTC)
    with serving(
        python("-m", "infra.calendar_server", "--port", str(calendar_port)), calendar_port, "calendar-naive"
    ) as cal:
        _seed_calendar(cal, users, now)
        credentials = local_credentials()

        def book(index: int) -> None:
            email = _email(index)
            service = build(
                "calendar",
                "v3",
                credentials=credentials(email),
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": f"{cal}/calendar/v3/"},
            )
            day = now + timedelta(days=4)
            calls: list[Callable[[], Any]] = [
                lambda: service.settings().get(setting="timezone").execute(),
                lambda: (
                    service.events()
                    .list(
                        calendarId="primary",
                        singleEvents=True,
                        timeMin=day.isoformat(),
                        timeMax=(day + timedelta(days=1)).isoformat(),
                    )
                    .execute()
                ),
                lambda: (
                    service.events()
                    .insert(
                        calendarId="primary",
                        sendUpdates="none",
                        body={
                            "summary": "Maintenance",
                            "start": {"dateTime": day.isoformat()},
                            "end": {"dateTime": (day + timedelta(minutes=30)).isoformat()},
                        },
                    )
                    .execute()
                ),
                lambda: (
                    service.events()
                    .watch(
                        calendarId="primary",
                        body={"id": f"naive-{index}", "type": "web_hook", "address": "https://127.0.0.1:9/none"},
                    )
                    .execute()
                ),
            ]
            for call in calls:
                for attempt in range(8):  # Fleet backs off on rate limits too
                    try:
                        call()
                        break
                    except HttpError as error:
                        if error.resp.status not in (403, 429) or attempt == 7:
                            raise
                        time.sleep(min(2**attempt * 0.25, 8))

        progress(f"naive strategy: {users:,} users with {workers} workers")
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(book, range(1, users + 1)))
        wall = time.monotonic() - started
        server = requests.get(f"{cal}/_admin/counters", timeout=10).json()
    calls_per_user = server["total_calls"] / users
    return {
        "strategy": f"naive per-user ({workers} workers), like Fleet",
        "users": users,
        "calendar_calls": server["total_calls"],
        "calendar_round_trips": server["round_trips"],
        "calls_per_user": round(calls_per_user, 3),
        "round_trips_per_user": round(server["round_trips"] / users, 4),
        "wall_seconds": round(wall, 1),
        "projected_10000_users_seconds_at_quota": round(calls_per_user * 10_000 / (10_000 / 60), 1),
        "rejected_by_server": server["rejected"],
    }
