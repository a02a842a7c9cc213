"""Following open windows over a simulated day: Calendar calls with no change, and per change.

Set-up: 1,000 people, each with a failing Mac, a booked window and an open push channel, against the Calendar
stand-in in its own process; calendar_notifications runs in process behind a loopback HTTP server (the
stand-in pushes to it), the planner runs every 15 minutes of simulated time (the Terraform default
schedule) with the memory store, the memory Fleet and the memory task queue. The channels' expirations are
spread evenly over their renewal period, as they are once a deployment has run for a week (each channel was
opened on a different day), so a day sees its share of renewals rather than none or all.

Two days are simulated one after the other:
- a quiet day: nobody's calendar changes; every Calendar call is the upkeep of open windows;
- a busy day at a stated change rate: every call beyond the renewals is the cost of following changes.

The reference is Fleet's calendar integration, which reads each event back with events.get every 30 minutes
(48 calls per open window per day) whether or not anything changed, and notices a change up to 30 minutes
late.

Wall times are not the point (the machine is shared); the counts are exact, from the stand-in's counters.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from infra.bench.processes import free_port, progress, python, serving
from infra.serving import BackgroundServer
from maintenance_windows.adapters.calendar_credentials import local_credentials
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.ids import user_key
from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications
from maintenance_windows.handlers.http import HttpRequest
from maintenance_windows.ports.fleet import DeviceEmail, FleetPolicy
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.channels import RENEW_BEFORE, ChannelKeeper
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanOptions, plan_windows
from maintenance_windows.service.policy_texts import policy_document

DOMAIN = "steady.example"
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney", "UTC"]
PLAN_EVERY = timedelta(minutes=15)
DAY = timedelta(days=1)
CHANNEL_TTL = timedelta(days=7)  # follow.channel_ttl_days' default; the stand-in grants it in full
FLEET_CALLS_PER_WINDOW_PER_DAY = 48  # events.get every 30 minutes
RENEWAL_METHODS = ("calendar.events.watch", "calendar.channels.stop")


@dataclass(frozen=True)
class ChangeRate:
    """Changes per person per simulated day, in their own calendar, made by them or their colleagues."""

    new_meetings: int = 3
    moved_meetings: int = 2
    deleted_meetings: int = 1
    #: The share of people who move their maintenance window that day (once).
    window_moves: float = 0.05

    def describe(self) -> str:
        return (
            f"per person per day: {self.new_meetings} new meetings, {self.moved_meetings} moved, "
            f"{self.deleted_meetings} deleted; {self.window_moves:.0%} of people move their maintenance window once"
        )


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Person:
    email: str
    meetings: list[str] = field(default_factory=list)


class Notifications:
    """calendar_notifications on loopback, as Google would reach it."""

    def __init__(self, ctx: PlanningContext) -> None:
        self.ctx = ctx
        self.answers: Counter[int] = Counter()
        # Thousands of pushes: counted in `answers`, not printed (BackgroundServer is quiet).
        self._server = BackgroundServer(self._app, name="calendar-notifications").start()

    @property
    def url(self) -> str:
        return f"{self._server.url}/calendar_notifications"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        answer = handle_calendar_notifications(
            HttpRequest(request.method, dict(request.headers.items()), {}, request.get_data()), self.ctx
        )
        self.answers[answer.status] += 1
        return Response(answer.encoded(), answer.status, content_type="application/json")(environ, start_response)

    def close(self) -> None:
        self._server.stop()


def run(people: int = 1_000, rate: ChangeRate | None = None, seed: int = 14) -> dict[str, Any]:
    rate = rate or ChangeRate()
    port = free_port()
    with serving(python("-m", "infra.calendar_server", "--port", str(port)), port, "calendar-steady") as url:
        admin = _Admin(url)
        clock = SimClock(datetime.now(UTC).replace(microsecond=0))
        crowd = _seed(admin, people, clock.now)
        ctx = _context(url, clock, people)
        notifications = Notifications(ctx)
        ctx.notifications_url = notifications.url
        try:
            progress(f"booking {people:,} windows and opening their channels")
            first = plan_windows(
                ctx, PlanOptions(time_budget=timedelta(minutes=30)), [ChannelKeeper(time_budget=timedelta(minutes=30))]
            )
            admin.settle(ctx)
            _spread_channel_ages(ctx, clock.now)
            progress("a quiet day: nobody's calendar changes")
            quiet = _simulate_day(ctx, admin, clock, lambda _step: 0)
            progress(f"a busy day: {rate.describe()}")
            plan = _change_plan(crowd, rate, random.Random(seed))
            busy = _simulate_day(ctx, admin, clock, lambda step: _apply(admin, ctx, plan.get(step, []), clock))
        finally:
            notifications.close()
    return _result(people, first.windows_booked, rate, quiet, busy, notifications.answers)


# ---- the day ---------------------------------------------------------------------------------------------


@dataclass
class DayCounts:
    calls: dict[str, int]
    planner_runs: int
    changes: Counter[str]
    open_windows: int

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def renewals(self) -> int:
        return sum(self.calls.get(method, 0) for method in RENEWAL_METHODS)


def _simulate_day(
    ctx: PlanningContext, admin: _Admin, clock: SimClock, changes_at: Callable[[int], Counter[str] | int]
) -> DayCounts:
    admin.post("counters/reset", {})
    made: Counter[str] = Counter()
    steps = int(DAY / PLAN_EVERY)
    keeper = ChannelKeeper()
    for step in range(steps):
        clock.now += PLAN_EVERY
        applied = changes_at(step)
        if isinstance(applied, Counter):
            made.update(applied)
        admin.settle(ctx)
        plan_windows(ctx, PlanOptions(time_budget=timedelta(minutes=5)), [keeper])
        admin.settle(ctx)
    calls = admin.counters()["calls"]
    return DayCounts(dict(calls), steps, made, len(window_records.open_windows(ctx.store)))


def _change_plan(crowd: list[Person], rate: ChangeRate, rng: random.Random) -> dict[int, list[tuple[str, Person]]]:
    """Which change happens in which 15-minute step, spread evenly over the day."""
    steps = int(DAY / PLAN_EVERY)
    changes: list[tuple[str, Person]] = []
    for person in crowd:
        changes += [("new_meeting", person)] * rate.new_meetings + [("moved_meeting", person)] * rate.moved_meetings
        changes += [("deleted_meeting", person)] * rate.deleted_meetings
        if rng.random() < rate.window_moves:
            changes.append(("moved_window", person))
    rng.shuffle(changes)
    plan: dict[int, list[tuple[str, Person]]] = {}
    for index, change in enumerate(changes):
        plan.setdefault(index * steps // len(changes), []).append(change)
    return plan


def _apply(admin: _Admin, ctx: PlanningContext, changes: list[tuple[str, Person]], clock: SimClock) -> Counter[str]:
    """Make the step's changes as the people would, through the stand-in's admin API (each one pushes)."""
    made: Counter[str] = Counter()
    new = [person for kind, person in changes if kind == "new_meeting"]
    if new:
        events = [
            _meeting(person.email, clock.now + timedelta(days=2, hours=index % 8)) for index, person in enumerate(new)
        ]
        for person, event_id in zip(new, admin.post("events", {"events": events})["ids"], strict=True):
            person.meetings.append(event_id)
        made["new_meeting"] += len(new)
    for kind, person in changes:
        if kind == "moved_meeting" and person.meetings:
            start = clock.now + timedelta(days=3, hours=len(person.meetings) % 8)
            admin.post(
                f"users/{person.email}/events/{person.meetings[-1]}/move",
                {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
            )
            made[kind] += 1
        elif kind == "deleted_meeting" and person.meetings:
            admin.post(f"users/{person.email}/events/{person.meetings.pop(0)}/delete", {})
            made[kind] += 1
        elif kind == "moved_window":
            window = window_records.load_many(ctx.store, [f"{user_key(person.email)}-0001"]).get(
                f"{user_key(person.email)}-0001"
            )
            if window is not None and window.event_id and window.start:
                start = max(window.start, clock.now).replace(minute=0, second=0) + timedelta(days=1)
                end = start + timedelta(minutes=30)
                admin.post(
                    f"users/{person.email}/events/{window.event_id}/move",
                    {"start": start.isoformat(), "end": end.isoformat()},
                )
                made[kind] += 1
    return made


# ---- set-up ----------------------------------------------------------------------------------------------


def _seed(admin: _Admin, people: int, now: datetime) -> list[Person]:
    crowd = [Person(f"person{index:05d}@{DOMAIN}") for index in range(people)]
    admin.post("users", {"users": [{"email": p.email, "timeZone": ZONES[i % len(ZONES)]} for i, p in enumerate(crowd)]})
    events = [_meeting(person.email, now + timedelta(days=day, hours=3 + day)) for person in crowd for day in (1, 2, 3)]
    ids = admin.post("events", {"events": events})["ids"]
    for index, person in enumerate(crowd):
        person.meetings = list(ids[index * 3 : index * 3 + 3])
    return crowd


def _meeting(email: str, start: datetime) -> dict[str, Any]:
    return {
        "user": email,
        "summary": "Meeting",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }


def _context(url: str, clock: SimClock, people: int) -> PlanningContext:
    store, fleet = MemoryStore(), MemoryFleet()
    now = clock.now
    # Fleet's text of policy 1 as the planner stores it; the memory Fleet serves it when it goes stale.
    policy = FleetPolicy(
        1, "macOS up to date", None, description="Update.", resolution="Update macOS.", critical=True, platform="darwin"
    )
    fleet.add_policy(policy)
    writes = [Write("set", "policies", "1", {**policy_document(policy), "fetched_at": now})]
    for index in range(people):
        host_id, email = index + 1, f"person{index:05d}@{DOMAIN}"
        host = FleetHost(
            host_id,
            f"uuid-{host_id}",
            f"SN{host_id}",
            "darwin",
            None,
            f"Mac {host_id}",
            (HostPolicy(1, "macOS up to date", "fail"),),
        )
        fleet.add_host(host, [DeviceEmail(email, "mdm_idp_accounts")])
        writes.append(
            Write(
                "set",
                "host_policies",
                f"{host_id}-1",
                {
                    "host_id": host_id,
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
                str(host_id),
                {
                    "host_id": host_id,
                    "fleet_display_name": f"Mac {host_id}",
                    "user_email": email,
                    "user_key": user_key(email),
                    "team_id": None,
                    "email_problem": None,
                    "owner_checked_at": now,
                    "uuid": f"uuid-{host_id}",
                    "platform": "darwin",
                },
            )
        )
    store.commit(writes)
    calendar = GoogleCalendarAdapter(credentials_for=local_credentials(), api_endpoint=f"{url}/calendar/v3/")
    return PlanningContext(
        store=store,
        calendar=calendar,
        fleet=fleet,
        tasks=MemoryTaskQueue(),
        explainer=TemplateExplainer(),
        teams=parse_teams({"organization": "Bench", "defaults": {"domains": [DOMAIN]}}),
        clock=clock,
        catalog=fleet,
    )


def _spread_channel_ages(ctx: PlanningContext, now: datetime) -> None:
    """Expirations evenly over (now + RENEW_BEFORE, now + TTL]: the ages of channels opened on different days."""
    records = sorted(channel_records.all_channels(ctx.store), key=lambda record: record.channel_id)
    period = CHANNEL_TTL - RENEW_BEFORE
    spread = [
        replace(record, expiration=now + RENEW_BEFORE + period * (index + 1) / len(records))
        for index, record in enumerate(records)
    ]
    ctx.store.commit([channel_records.save(record) for record in spread])


class _Admin:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def post(self, path: str, body: Any) -> Any:
        answer = self.http.post(f"{self.url}/_admin/{path}", json=body, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def counters(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(f"{self.url}/_admin/counters", timeout=30).json()
        return answer

    def settle(self, ctx: PlanningContext, timeout: float = 120) -> None:
        """Until every push was delivered and followed: nothing in flight, nothing pending, twice in a row."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("notifications did not settle")
            idle = self.counters()["notifications_in_flight"] == 0 and not ctx.store.query(channel_records.PENDING)
            quiet = quiet + 1 if idle else 0
            time.sleep(0.02)


# ---- figures ---------------------------------------------------------------------------------------------


def _result(
    people: int, booked: int, rate: ChangeRate, quiet: DayCounts, busy: DayCounts, answers: Counter[int]
) -> dict[str, Any]:
    changes = sum(busy.changes.values())
    following = busy.total - busy.renewals
    return {
        "people": people,
        "windows_booked": booked,
        "planner_runs_per_day": quiet.planner_runs,
        "channel_ttl_days": CHANNEL_TTL.days,
        "renew_before_hours": RENEW_BEFORE / timedelta(hours=1),
        "quiet_day": {
            "open_windows": quiet.open_windows,
            "calendar_calls": quiet.total,
            "calls_by_method": quiet.calls,
            "calls_per_open_window_per_day": round(quiet.total / max(quiet.open_windows, 1), 3),
        },
        "busy_day": {
            "change_rate": rate.describe(),
            "changes": dict(busy.changes),
            "changes_total": changes,
            "calendar_calls": busy.total,
            "calls_by_method": busy.calls,
            "renewal_calls": busy.renewals,
            "calls_following_changes": following,
            "calls_per_change": round(following / max(changes, 1), 3),
            "open_windows_at_end": busy.open_windows,
        },
        "notification_answers": {str(status): count for status, count in sorted(answers.items())},
        "fleet_pattern": {
            "calls_per_open_window_per_day": FLEET_CALLS_PER_WINDOW_PER_DAY,
            "note": "events.get per event every 30 minutes, changed or not; a change is seen up to 30 minutes late",
        },
    }
