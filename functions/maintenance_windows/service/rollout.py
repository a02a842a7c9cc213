"""Rollout controls in the planner: pauses, pilots, exclusions and preview mode (domain/rollout.py decides).

Each planning run reads the pauses, holds back every failing host whose person may not be booked now, and
records the reason on the host case (`hold`), where `mw hosts` and a status page read it. Windows of
people excluded or outside the pilot are cancelled (their event deleted) before they can dispatch; windows
of a paused or previewing team stay as they are and are not booked until the pause ends or the team goes
live. Preview teams get a stored report (`previews/team-N`) of what the run would have booked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from maintenance_windows.domain.host_cases import HostCase
from maintenance_windows.domain.rollout import WHO_HOLDS, Hold, HoldKind, Pause, hold_for, window_hold
from maintenance_windows.domain.rules import RolloutMode
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.store import DocumentStore, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import pauses as pause_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.owners import Owner
from maintenance_windows.service.reconcile import cancel_window

logger = get_logger(__name__)
#: On the host case: why its person is held back ({kind, detail, since}), or None.
HOLD = "hold"
PREVIEWS = "previews"
#: A preview report lists at most this many people (a Firestore document holds 1 MiB); the count is complete.
PREVIEW_ENTRIES = 500


@dataclass
class RolloutCheck:
    pauses: list[Pause]
    #: The cases whose people may be booked now.
    allowed: list[HostCase] = field(default_factory=list)
    held: dict[int, Hold] = field(default_factory=dict)
    #: Cases held back by their team's preview mode alone: what the preview report is about.
    preview: list[HostCase] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted = Counter(hold.kind.value for hold in self.held.values())
        return {f"hosts_held_{kind.value}": counted.get(kind.value, 0) for kind in HoldKind}


def check_cases(ctx: PlanningContext, cases: Sequence[HostCase], owners: Mapping[int, Owner]) -> RolloutCheck:
    """Split the failing cases into those that may be booked and those held back; store each host's reason."""
    check = RolloutCheck(pause_records.active_pauses(ctx.store))
    for case in cases:
        owner = owners.get(case.host_id)
        if owner is None or owner.email is None:  # no email: never booked, and mw says so already
            check.allowed.append(case)
            continue
        rules = ctx.teams.rules_for(owner.team_id)
        labels = [str(label) for label in owner.details.get("labels") or ()]
        hold = hold_for(rules, owner.team_id, owner.email, labels, check.pauses)
        if hold is None:
            check.allowed.append(case)
            continue
        check.held[case.host_id] = hold
        if hold.kind is HoldKind.PREVIEW:
            check.preview.append(case)
    ctx.store.commit(_hold_writes(cases, check.held, ctx.clock()))
    logger.info(
        "rollout controls",
        event="rollout_controls",
        paused=[pause.scope for pause in check.pauses],
        pause_reasons=[pause.reason for pause in check.pauses],
        preview_teams=preview_teams(ctx),
        **check.counts(),
    )
    return check


def _hold_writes(cases: Sequence[HostCase], held: Mapping[int, Hold], now: datetime) -> list[Write]:
    """Only changes are written: a host held for the same reason as last run costs nothing."""
    writes: list[Write] = []
    for case in cases:
        stored = case.extra.get(HOLD)
        hold = held.get(case.host_id)
        if hold is None:
            if stored:
                writes.append(Write("merge", host_records.HOSTS, str(case.host_id), {HOLD: None}))
            continue
        if stored and (stored.get("kind"), stored.get("detail")) == (hold.kind.value, hold.detail):
            continue
        value = {"kind": hold.kind.value, "detail": hold.detail, "reason": hold.describe(), "since": now}
        writes.append(Write("merge", host_records.HOSTS, str(case.host_id), {HOLD: value}))
    return writes


def preview_teams(ctx: PlanningContext) -> list[str]:
    teams = [f"team {team}" for team, rules in sorted(ctx.teams.teams.items()) if rules.mode is RolloutMode.PREVIEW]
    return (["defaults"] if ctx.teams.defaults.mode is RolloutMode.PREVIEW else []) + teams


def cancel_excluded(ctx: PlanningContext, open_windows: Sequence[Window], check: RolloutCheck) -> int:
    """Open windows (not yet dispatched) whose every host is now excluded or outside the pilot are cancelled:
    such a person is never booked, so their event goes too."""
    cancelled = 0
    now = ctx.clock()
    for window in open_windows:
        if window.state is WindowState.DISPATCHED:
            continue
        holds = [check.held.get(host) for host in window.host_ids]
        if holds and all(hold is not None and hold.kind in WHO_HOLDS for hold in holds):
            first = holds[0]
            assert first is not None
            cancel_window(ctx, window, first.describe(), now)
            cancelled += 1
    return cancelled


def window_holds(ctx: PlanningContext, windows: Sequence[Window], pauses: Sequence[Pause]) -> dict[str, Hold]:
    """The windows not to book now (their team is paused or previewing), by window id."""
    held: dict[str, Hold] = {}
    for window in windows:
        hold = window_hold(ctx.teams.rules_for(window.team_id), window.team_id, pauses)
        if hold is not None:
            held[window.window_id] = hold
    return held


def record_waiting(ctx: PlanningContext, windows: Sequence[Window], held: Mapping[str, Hold]) -> None:
    """Held windows say why they wait (`mw windows`: "not placed: paused: ..."); unchanged ones cost nothing."""
    writes = [
        Write("merge", window_records.WINDOWS, window.window_id, {"unplaced_reason": held[window.window_id].describe()})
        for window in windows
        if window.window_id in held and window.unplaced_reason != held[window.window_id].describe()
    ]
    ctx.store.commit(writes)


# -- preview reports -----------------------------------------------------------------------------------------


def preview_id(team_id: int | None) -> str:
    return "no-team" if team_id is None else f"team-{int(team_id)}"


def record_previews(
    ctx: PlanningContext, planned: Sequence[Window], unplaced: Sequence[tuple[Window, str]]
) -> dict[str, dict[str, Any]]:
    """One report per previewing team, replacing the last run's: who would be booked when, and who could not
    be placed and why. Teams in preview with nobody to book get an empty report, so `mw previews` shows the
    run happened."""
    now = ctx.clock()
    reports: dict[str, dict[str, Any]] = {}
    for team_id, rules in [(None, ctx.teams.defaults), *sorted(ctx.teams.teams.items())]:
        if rules.mode is RolloutMode.PREVIEW and team_id is not None:
            reports[preview_id(team_id)] = _empty_report(team_id, rules.name, now)
    for window in planned:
        report = reports.setdefault(preview_id(window.team_id), _empty_report(window.team_id, _name(ctx, window), now))
        report["would_book"].append(_entry(window, window.reason))
    for window, reason in unplaced:
        report = reports.setdefault(preview_id(window.team_id), _empty_report(window.team_id, _name(ctx, window), now))
        report["unplaced"].append(_entry(window, reason))
    for report in reports.values():
        report["would_book_count"], report["unplaced_count"] = len(report["would_book"]), len(report["unplaced"])
        report["would_book"] = sorted(report["would_book"], key=lambda e: e["start"] or "")[:PREVIEW_ENTRIES]
        report["unplaced"] = report["unplaced"][:PREVIEW_ENTRIES]
        logger.info(
            "preview: what this run would book",
            event="preview_report",
            team_id=report["team_id"],
            would_book=report["would_book_count"],
            unplaced=report["unplaced_count"],
        )
    stale = [doc_id for doc_id, _ in ctx.store.query(PREVIEWS) if doc_id not in reports]
    ctx.store.commit(
        [Write("set", PREVIEWS, doc_id, report) for doc_id, report in sorted(reports.items())]
        + [Write("delete", PREVIEWS, doc_id) for doc_id in stale]
    )
    return reports


def _name(ctx: PlanningContext, window: Window) -> str:
    return ctx.teams.rules_for(window.team_id).name


def _empty_report(team_id: int | None, name: str, now: datetime) -> dict[str, Any]:
    return {"team_id": team_id, "team_name": name, "at": now, "would_book": [], "unplaced": []}


def _entry(window: Window, reason: str) -> dict[str, Any]:
    return {
        "user": window.user_email,
        "hosts": list(window.host_ids),
        "policies": list(window.policy_ids),
        "start": window.start.astimezone(UTC).isoformat() if window.start else None,
        "time_zone": window.time_zone,
        "reason": reason,
    }


def previews(store: DocumentStore) -> list[dict[str, Any]]:
    """The stored preview reports (for `mw previews` and a status page)."""
    return [document for _, document in store.query(PREVIEWS)]
