"""CalDAV requests per planned person and per followed person per day, against a real Radicale server.

Set-up: `people` people on a CalDAV domain, each with a failing Mac and three meetings of their own in
their Radicale calendar; the planner (memory store, memory Fleet, memory task queue) books their windows and
opens their polled channels. Then two simulated days, each 288 ticks of the follow job (every 5 minutes,
Terraform's `follow_schedule` default) and, every third tick, a planning run (every 15 minutes, the
`plan_schedule` default, with its hooks):
- a quiet day: nobody's calendar changes; every request is the upkeep of following;
- a busy day: each person adds a meeting and moves one (through the `caldav` library, as their app
  would), and one in five moves their window.

The counts are the adapter's own (CallStats), one per HTTP request; wall times are not the point. Google's
figures for the same questions are in the `planning` and `steady_state` benchmarks (docs/performance.md).
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import caldav
import icalendar

from infra.bench.processes import progress
from infra.radicale_server import SERVICE_ACCOUNT, RunningRadicale
from maintenance_windows.adapters.caldav import CalDavCalendarAdapter, CalDavCredentials
from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.ports.fleet import DeviceEmail
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.ingestion import IngestionContext, ingest
from maintenance_windows.service.planner import PlanOptions, plan_windows
from maintenance_windows.service.polling import PolledFollower, follow_polled

DOMAIN = "dav-bench.example"
FOLLOW_EVERY = timedelta(minutes=5)
PLAN_EVERY_TICKS = 3
TICKS_PER_DAY = int(timedelta(days=1) / FOLLOW_EVERY)


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def run(people: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="caldav-bench-") as folder, RunningRadicale(Path(folder)) as radicale:
        crowd = [f"person{index:04d}@{DOMAIN}" for index in range(people)]
        progress(f"making {people} CalDAV calendars in Radicale, three meetings each")
        clock = SimClock(datetime.now(UTC).replace(microsecond=0))
        for index, email in enumerate(crowd):
            radicale.add_person(email, ("Europe/Berlin", "America/New_York", "Asia/Kolkata")[index % 3])
            for day in (1, 2, 3):
                _save(radicale, email, clock.now + timedelta(days=day, hours=3 + day), "Meeting")
        ctx, adapter = _context(radicale, clock, crowd)
        hooks = (ChannelKeeper(), PolledFollower())
        progress("planning: booking every window and opening the polled channels")
        first = plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=30)), hooks)
        planned = adapter.stats.snapshot()
        adapter.stats.calls.clear()
        progress("a quiet day: 288 follow ticks, 96 planning runs")
        quiet = _day(ctx, adapter, clock, hooks, lambda _tick: 0)
        progress("a busy day: each person adds and moves a meeting, one in five moves the window")
        busy = _day(ctx, adapter, clock, hooks, lambda tick: _changes(radicale, ctx, crowd, tick, clock))
    booked = max(first.windows_booked, 1)
    return {
        "people": people,
        "windows_booked": first.windows_booked,
        "first_planning_run": {
            "requests": planned["total_calls"],
            "requests_by_method": planned["calls"],
            "requests_per_planned_person": round(planned["total_calls"] / booked, 2),
        },
        "quiet_day": quiet | {"requests_per_person_per_day": round(quiet["requests"] / people, 1)},
        "busy_day": busy | {"requests_per_person_per_day": round(busy["requests"] / people, 1)},
        "follow_every_minutes": FOLLOW_EVERY / timedelta(minutes=1),
        "note": "one sync-collection per followed person per follow tick; Google pushes instead (steady_state)",
    }


def _day(
    ctx: PlanningContext, adapter: CalDavCalendarAdapter, clock: SimClock, hooks: Any, change: Any
) -> dict[str, Any]:
    adapter.stats.calls.clear()
    changes = 0
    for tick in range(TICKS_PER_DAY):
        clock.now += FOLLOW_EVERY
        changes += change(tick)
        follow_polled(ctx)
        if tick % PLAN_EVERY_TICKS == 0:
            plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=5)), hooks)
    calls = dict(adapter.stats.calls)
    return {
        "requests": sum(calls.values()),
        "requests_by_method": calls,
        "changes_made": changes,
        "open_windows_at_end": len(window_records.open_windows(ctx.store)),
    }


def _changes(radicale: RunningRadicale, ctx: PlanningContext, crowd: list[str], tick: int, clock: SimClock) -> int:
    """Spread over the day: each person's new meeting and moved meeting, and one in five window moves."""
    made = 0
    for index, email in enumerate(crowd):
        slot = index * TICKS_PER_DAY // len(crowd)
        if tick == slot:
            _save(radicale, email, clock.now + timedelta(days=2, hours=index % 8), "New meeting")
            made += 1
        if tick == (slot + TICKS_PER_DAY // 2) % TICKS_PER_DAY:
            own = [e for e in _calendar(radicale, email).events() if "X-MW-TAGS" not in e.icalendar_component]
            if own:
                _shift(own[0], timedelta(hours=1))
                made += 1
        if tick == (slot + TICKS_PER_DAY // 4) % TICKS_PER_DAY and index % 5 == 0:
            window = next((w for w in window_records.open_windows(ctx.store) if w.user_email == email), None)
            if window is not None and window.event_id and window.start:
                event = _calendar(radicale, email).event_by_url(
                    f"{radicale.url}/{email}/calendar/{window.event_id}.ics"
                )
                event.load()
                # Whole days later, into the future (the window may have started meanwhile): a move it follows.
                _shift(event, timedelta(days=max(1, (clock.now - window.start).days + 2)))
                made += 1
    return made


def _shift(event: caldav.Event, by: timedelta) -> None:
    component = event.icalendar_component
    for name in ("dtstart", "dtend"):
        moved = component[name].dt + by
        component.pop(name)
        component.add(name, moved)
    event.save()


def _calendar(radicale: RunningRadicale, email: str) -> caldav.Calendar:
    client = caldav.DAVClient(url=radicale.url, username=email, password=radicale.passwords[email])
    found: caldav.Calendar = client.calendar(url=f"{radicale.url}/{email}/calendar/")  # type: ignore[no-untyped-call]
    return found


def _save(radicale: RunningRadicale, email: str, start: datetime, summary: str) -> None:
    ical = icalendar.Calendar()
    ical.add("prodid", "-//bench//EN")
    ical.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{uuid.uuid4()}@bench")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(hours=1))
    event.add("summary", summary)
    ical.add_component(event)
    _calendar(radicale, email).save_event(ical.to_ical().decode())


def _context(
    radicale: RunningRadicale, clock: SimClock, crowd: list[str]
) -> tuple[PlanningContext, CalDavCalendarAdapter]:
    teams = parse_teams(
        {
            "organization": "Bench",
            "defaults": {"domains": [DOMAIN], "calendar": "caldav", "caldav": {"url": radicale.url}},
        }
    )
    adapter = CalDavCalendarAdapter(
        servers=teams.caldav_server_for,
        credentials=CalDavCredentials(
            {"service_account": {"username": SERVICE_ACCOUNT, "password": radicale.service_password}}
        ),
        clock=clock,
    )
    fleet, store = MemoryFleet(), MemoryStore()
    for index, email in enumerate(crowd):
        host = FleetHost(
            index + 1,
            f"uuid-{index + 1}",
            f"SN{index + 1}",
            "darwin",
            None,
            f"Mac {index + 1}",
            (HostPolicy(1, "macOS up to date", "fail"),),
        )
        fleet.add_host(host, [DeviceEmail(email, "mdm_idp_accounts")])
    ctx = PlanningContext(
        store=store,
        calendar=adapter,
        fleet=fleet,
        tasks=MemoryTaskQueue(),
        explainer=TemplateExplainer(),
        teams=teams,
        clock=clock,
        notifications_url="https://bench.invalid/calendar_notifications",
    )
    ingest(
        IngestionContext(store, ctx.tasks, clock),
        FailingPoliciesWebhook.model_validate(_webhook(len(crowd), clock.now)),
    )
    return ctx, adapter


def _webhook(hosts: int, now: datetime) -> dict[str, Any]:
    """Fleet's failing-policies webhook (the shape of shared/fixtures/fleet/failing_policies_webhook.json)."""
    policy = {
        "id": 1,
        "name": "macOS up to date",
        "query": "select 1",
        "description": "Update.",
        "resolution": "Update macOS.",
        "platform": "darwin",
        "team_id": None,
        "critical": False,
    }
    return {
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "policy": policy,
        "hosts": [
            {"id": h, "hostname": f"mac{h}", "display_name": f"Mac {h}", "url": f"https://fleet.example/hosts/{h}"}
            for h in range(1, hosts + 1)
        ],
    }
