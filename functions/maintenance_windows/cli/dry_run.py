"""`mw plan --dry-run`: the real planner against the real store, calendars and Fleet, writing nothing.

The ports are wrapped (adapters/rehearsal.py): reads go through, writes stay in this process. The planner
code is the one plan_windows runs; only two things differ, both to keep the run free of side effects:
the event text comes from the template (no model call, no explanation cache written) and the follow-up
hooks (push channels) do not run. It runs as the admin's own identity (docs/deploy.md lists the roles).
"""

from __future__ import annotations

import argparse
import contextlib
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.adapters.rehearsal import (
    OverlayStore,
    Recorder,
    RecordingCalendar,
    RecordingFleet,
    RecordingTasks,
)
from maintenance_windows.cli.commands import TARGET, fail, store_from_stack
from maintenance_windows.cli.stack_info import StackNotRunning, load_stack, use_stack_environment
from maintenance_windows.cli.tables import print_json, print_table
from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanOptions, PlanReport, plan_windows
from maintenance_windows.service.rollout import HOLD, PREVIEWS


def run_dry(args: argparse.Namespace) -> int:
    if not TARGET.project:
        with contextlib.suppress(StackNotRunning):
            use_stack_environment(load_stack())
    try:
        settings = Settings.from_env()
        ctx, store, recorder = rehearsal_context(settings, args.config or settings.team_config_path)
    except ConfigurationError as problem:
        return fail(f"cannot dry-run: {problem}")
    report = plan_windows(ctx, PlanOptions(time_budget=timedelta(seconds=settings.plan_time_budget_seconds)))
    result = summarize(report, store, recorder)
    if args.json:
        print_json(result)
        return 0 if report.complete else 1
    print_table(result["people"], ["action", "user", "hosts", "when", "why"], empty="nobody would be booked")
    withheld = ", ".join(f"{k} {v}" for k, v in sorted(result["withheld"].items())) or "none"
    print(f"\ndry run: nothing written. Withheld writes: {withheld}")
    if not report.complete:
        print(f"incomplete: {report.skipped or 'the time budget ran out'}")
    return 0 if report.complete else 1


def rehearsal_context(settings: Settings, team_config: str | None) -> tuple[PlanningContext, OverlayStore, Recorder]:
    """The planning context plan_windows builds (wiring.planning_context), with every port read-only."""
    from maintenance_windows.adapters.fleet_http import FleetHttpClient
    from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
    from maintenance_windows.adapters.sofa_feed import SofaFeed
    from maintenance_windows.adapters.template_explainer import TemplateExplainer
    from maintenance_windows.config.check import load_checked_teams
    from maintenance_windows.service.os_updates import OsUpdates

    recorder = Recorder()
    store = OverlayStore(store_from_stack(), recorder)
    fleet = RecordingFleet(FleetHttpClient.from_settings(settings), recorder)
    ctx = PlanningContext(
        store=store,
        calendar=RecordingCalendar(GoogleCalendarAdapter.from_settings(settings), recorder),
        fleet=fleet,
        tasks=RecordingTasks(recorder),
        explainer=TemplateExplainer(),
        teams=load_checked_teams(team_config),
        notifications_url=settings.notifications_url,
        os_updates=OsUpdates(store, fleet, SofaFeed(settings.os_releases_url)),
    )
    return ctx, store, recorder


def summarize(report: PlanReport, store: OverlayStore, recorder: Recorder) -> dict[str, Any]:
    """Who would be booked when and why, who would not and why, and the writes that were withheld."""
    people = [
        _window_entry(window, store.original(window_records.WINDOWS, window.window_id)) for window in _windows(store)
    ]
    people += _held_entries(store)
    for preview in store.written(PREVIEWS).values():
        for entry in preview.get("would_book", []):
            people.append(
                {
                    "action": "preview",
                    "user": entry["user"],
                    "hosts": entry["hosts"],
                    "when": _when(entry["start"], entry["time_zone"]),
                    "why": f"{preview['team_name']} in preview; would book: {entry['reason']}",
                }
            )
    withheld = Counter(f"{w.target}.{w.kind}" for w in recorder.writes)
    return {
        "dry_run": True,
        "report": report.as_dict(),
        "people": sorted(people, key=lambda p: (p["action"], p["user"] or "")),
        "withheld": dict(withheld),
        "withheld_calls": [{"target": w.target, "kind": w.kind, **w.detail} for w in recorder.writes],
    }


def _windows(store: OverlayStore) -> list[Window]:
    return [window_records.window_from_document(doc) for doc in store.written(window_records.WINDOWS).values()]


def _window_entry(window: Window, before: dict[str, Any] | None) -> dict[str, Any]:
    if window.state is WindowState.SCHEDULED and (before or {}).get("state") == WindowState.SCHEDULED.value:
        action, why = "update", "already booked; its scope or text would change"
    elif window.state is WindowState.SCHEDULED:
        action, why = "book", window.reason
    elif window.state is WindowState.CANCELLED:
        action, why = "cancel", window.history[-1].detail if window.history else ""
    else:
        action, why = "unplaced", window.unplaced_reason or f"left {window.state.value}"
    start = window.start.isoformat() if window.start and action in ("book", "update") else None
    return {
        "action": action,
        "user": window.user_email,
        "hosts": list(window.host_ids),
        "when": _when(start, window.time_zone),
        "why": why,
        "window_id": window.window_id,
    }


def _held_entries(store: OverlayStore) -> list[dict[str, Any]]:
    """People the rollout controls hold back, and hosts without an email: one row per person and reason."""
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for case in host_records.failing_hosts(store):
        hold = case.extra.get(HOLD)
        if hold:
            grouped[(str(case.extra.get("user_email")), str(hold.get("reason")))].append(case.host_id)
        elif case.extra.get("owner_checked_at") and not case.extra.get("user_email"):
            grouped[("-", f"no email: {case.extra.get('email_problem') or 'no owner found'}")].append(case.host_id)
    return [
        {"action": "held", "user": user, "hosts": hosts, "when": None, "why": why}
        for (user, why), hosts in sorted(grouped.items())
    ]


def _when(start: str | None, zone: str) -> str | None:
    if not start:
        return None
    from datetime import datetime

    local = datetime.fromisoformat(start).astimezone(ZoneInfo(zone))
    return f"{local:%a %Y-%m-%d %H:%M} {zone}"
