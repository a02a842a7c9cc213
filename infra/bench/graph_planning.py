"""Planning 10,000 Microsoft 365 people through Graph, beside the Google figures of planning.py.

The Graph stand-in runs as its own process with 50 ms per round trip and Outlook's per-mailbox limit
(10,000 requests per 10 minutes per app and mailbox), and answers 1% of calls with 429 and Retry-After: 1,
so throttling is enforced and honoured. The planner runs in process on the in-memory store with the
people's time zones already known (as planning.py's warm run), so the figures count what planning costs:
getSchedule (20 people per call, 20 calls per $batch) and one event per person (20 per $batch).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from infra.bench.planning import ZONES, _store_after_webhooks, _write_seed
from infra.bench.processes import free_port, progress, python, serving
from maintenance_windows.adapters.caching_explainer import CachingExplainer
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.adapters.memory_explanation_cache import MemoryExplanationCache
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.microsoft_graph import GraphCalendarAdapter, LocalGraphTokens
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanOptions, plan_windows

DOMAIN = "bench.example"
TOKEN = "bench-fleet-token"
#: CLDR windowsZones names of planning.ZONES, as Exchange mailboxes keep them.
WINDOWS = {
    "Europe/Berlin": "W. Europe Standard Time",
    "America/New_York": "Eastern Standard Time",
    "Asia/Kolkata": "India Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
    "UTC": "UTC",
}
THROTTLING = {"latency_ms": 50, "mailbox_limit_per_10_minutes": 10_000, "fault_rate": 0.01}


def _email(index: int) -> str:
    return f"user{index:05d}@{DOMAIN}"


def _graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _seed(admin: str, users: int, now: datetime) -> None:
    http = requests.Session()
    people = [{"email": _email(i), "timeZone": WINDOWS[ZONES[i % len(ZONES)]]} for i in range(1, users + 1)]
    http.post(f"{admin}/_admin/users", json={"users": people}, timeout=120).raise_for_status()
    events = []
    for i in range(1, users + 1):
        for day in range(1, 6):  # a realistic week: a few meetings a day, as planning.py seeds Google's
            start = (now + timedelta(days=day)).replace(hour=(i + day * 3) % 24, minute=0, second=0, microsecond=0)
            events.append(
                {
                    "user": _email(i),
                    "subject": "Meeting",
                    "start": _graph_time(start),
                    "end": _graph_time(start + timedelta(hours=1)),
                    "showAs": "busy",
                }
            )
    for chunk in range(0, len(events), 5000):
        http.post(f"{admin}/_admin/events", json={"events": events[chunk : chunk + 5000]}, timeout=300)
    http.put(f"{admin}/_admin/config", json=THROTTLING, timeout=10).raise_for_status()


def run_graph_planner(users: int) -> dict[str, Any]:
    graph_port, fleet_port = free_port(), free_port()
    now = datetime.now(UTC)
    seed_file = _write_seed(users)
    graph_server = python("-m", "infra.graph_server", "--port", str(graph_port))
    fleet_server = python("-m", "infra.fleet_server", f"--port={fleet_port}", f"--seed={seed_file}", "--quiet")
    with (
        serving(graph_server, graph_port, "graph") as graph,
        serving(fleet_server, fleet_port, "fleet", env={"FLEET_SERVER_TOKEN": TOKEN}) as fleet,
    ):
        progress(f"seeding {users:,} Microsoft 365 mailboxes and {users * 5:,} meetings")
        _seed(graph, users, now)
        store = _store_after_webhooks(users, now, warm_time_zones=True)
        calendar = GraphCalendarAdapter(tokens=LocalGraphTokens(), endpoint=f"{graph}/v1.0")
        ctx = PlanningContext(
            store=store,
            calendar=calendar,
            fleet=FleetHttpClient(fleet, TOKEN),
            tasks=MemoryTaskQueue(),
            explainer=CachingExplainer(TemplateExplainer(), MemoryExplanationCache(), "template"),
            teams=parse_teams({"organization": "Bench", "defaults": {"domains": [DOMAIN], "calendar": "microsoft"}}),
            notifications_url="https://127.0.0.1:9/notifications",
        )
        progress(f"planning {users:,} Microsoft 365 people (warm time-zone cache, 1% 429s)")
        started = time.monotonic()
        report = plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=30)))
        wall = time.monotonic() - started
        server = requests.get(f"{graph}/_admin/counters", timeout=10).json()
    booked = report.windows_booked
    return {
        "strategy": "batched planner on Microsoft Graph ($batch of 20, getSchedule for 20 people per call)",
        "users": users,
        "windows_booked": booked,
        "graph_calls": server["total_calls"],
        "graph_round_trips": server["round_trips"],
        "calls_per_user": round(server["total_calls"] / max(booked, 1), 3),
        "round_trips_per_user": round(server["round_trips"] / max(booked, 1), 4),
        "calls_by_method": server["calls"],
        "adapter": calendar.stats.snapshot(),
        "throttling": THROTTLING,
        "wall_seconds": round(wall, 1),
        "token_library_import_ms": token_library_import_ms(),
    }


def token_library_import_ms(repeat: int = 5) -> dict[str, float]:
    """`python -X importtime -c "import msal"`, cumulative, best and median of `repeat` fresh processes."""
    samples = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import msal"], capture_output=True, text=True, check=True
        )
        last = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| msal")][-1]
        samples.append(int(last.split("|")[1]) / 1000)
    samples.sort()
    return {"msal_best": round(samples[0], 1), "msal_median": round(samples[len(samples) // 2], 1)}
