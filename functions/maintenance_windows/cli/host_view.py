"""What `mw hosts`, `mw host` and `mw user` show: each host with its window, or why it has none.

A person who declined twice, a host without an email, a fix Fleet refused: none of them has an open
window, and each must stay visible with the reason rather than vanish from the listings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.domain.host_cases import HostCase, HostStatus
from maintenance_windows.domain.rollout import Pause, pause_for
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.store import DocumentStore, Filter
from maintenance_windows.repository.hosts import all_hosts
from maintenance_windows.repository.pauses import active_pauses
from maintenance_windows.repository.windows import all_windows

CLAIMS = "claims"  # service/dispatch_context.CLAIMS; read here without importing the dispatch side
#: service/rollout.HOLD: why the planner held the host's person back ({kind, detail, reason, since}).
HOLD = "hold"
#: Holds about who may be booked at all; they outrank a pause, which is about when.
_WHO_HOLDS = ("excluded", "not_in_pilot")


@dataclass(frozen=True)
class Snapshot:
    hosts: list[HostCase]
    windows: list[Window]
    refusals: Mapping[str, str]  # window id -> what Fleet answered when it refused an action for good
    pauses: Sequence[Pause] = ()

    def windows_of(self, host_id: int) -> list[Window]:
        return sorted((w for w in self.windows if host_id in w.host_ids), key=lambda w: w.created_at)


def read_snapshot(store: DocumentStore) -> Snapshot:
    refusals: dict[str, str] = {}
    # A finished dispatch claim records the outcome as `result` (repository/claims.py, service/dispatch.py).
    for _, claim in store.query(CLAIMS, [Filter("result", "==", "failed")]):
        if claim.get("window_id"):
            refusals.setdefault(str(claim["window_id"]), str(claim.get("problem") or "refused"))
    return Snapshot(all_hosts(store), all_windows(store), refusals, active_pauses(store))


def window_or_reason(
    case: HostCase, windows: Sequence[Window], refusals: Mapping[str, str], pauses: Sequence[Pause] = ()
) -> tuple[str, str]:
    """(the open window's state, or "none"; why, in a few words). A host that needs a person says so first,
    with the reason: Fleet's own message for a refused fix (domain/attention.py)."""
    latest = windows[-1] if windows else None
    attention = case.extra.get("attention_reason") if case.extra.get("needs_attention") else None
    if latest is not None and latest.is_open:
        return latest.state.value, f"needs attention: {attention}" if attention else window_why(latest)
    if case.status is not HostStatus.FAILING:
        return "none", "no failing policy"
    return "none", _why_no_window(case.extra, latest, refusals, attention, pauses)


def _why_no_window(
    extra: Mapping[str, Any],
    latest: Window | None,
    refusals: Mapping[str, str],
    attention: object,
    pauses: Sequence[Pause] = (),
) -> str:
    """Why a failing host has no open window, in a few words."""
    held = _held(extra, pauses, extra.get("team_id"))
    if held:
        return held
    if extra.get("email_problem") or (extra.get("owner_checked_at") and not extra.get("user_email")):
        return f"no email: {extra.get('email_problem') or 'no owner found'}"
    if extra.get("calendar_problem"):
        return str(extra["calendar_problem"])
    if latest is not None and latest.state is WindowState.DECLINED:
        return f"declined ({latest.deletions} deletions)"
    if attention:
        return f"needs attention: {attention}"
    if latest is not None and latest.window_id in refusals:
        return f"permanent Fleet error: {refusals[latest.window_id]}"
    if extra.get("needs_attention"):
        return f"needs attention after {extra.get('failed_windows', '?')} failed windows"
    rebook = extra.get("rebook_after")
    if isinstance(rebook, datetime) and rebook > datetime.now(UTC):
        return f"rebooks after {rebook.astimezone(UTC):%Y-%m-%d %H:%M}Z"
    return "waiting for the next plan"


def _held(extra: Mapping[str, Any], pauses: Sequence[Pause], team_id: int | None) -> str | None:
    """Excluded or not in pilot (the planner's last word), else a pause in force now (read live, so a
    resume shows at once), else preview."""
    hold = extra.get(HOLD) or {}
    if hold.get("kind") in _WHO_HOLDS:
        return str(hold.get("reason") or hold["kind"])
    pause = pause_for(pauses, team_id)
    if pause is not None:
        return f"paused: {pause.describe()}"
    if hold.get("kind") == "preview":
        return str(hold.get("reason") or "preview")
    return None


def window_why(window: Window) -> str:
    """The slot's reason, or why the planner could not place the window (no slot, calendar access refused)."""
    # Planning a window clears its unplaced reason; one that is set says why the last run did not book it.
    return f"not placed: {window.unplaced_reason}" if window.unplaced_reason else window.reason


def host_row(case: HostCase, snapshot: Snapshot) -> dict[str, Any]:
    windows = snapshot.windows_of(case.host_id)
    state, why = window_or_reason(case, windows, snapshot.refusals, snapshot.pauses)
    return {
        "host_id": case.host_id,
        "display_name": case.extra.get("fleet_display_name", ""),
        "status": case.status.value,
        "failing_policies": list(case.failing_policy_ids),
        "team_id": case.extra.get("team_id"),
        "user": case.extra.get("user_email"),
        "window": state,
        "why": why,
        "needs_attention": bool(case.extra.get("needs_attention")),
        "attention_reason": case.extra.get("attention_reason"),
        "blocked_policies": sorted(int(p) for p in case.extra.get("blocked_policies") or {}),
        "window_ids": [w.window_id for w in windows],
        "first_seen": case.first_seen.isoformat(),
        "last_seen": case.last_seen.isoformat(),
        "details": {key: _plain(value) for key, value in sorted(case.extra.items())},
    }


def window_row(window: Window) -> dict[str, Any]:
    zone = ZoneInfo(window.time_zone)
    return {
        "window_id": window.window_id,
        "state": window.state.value,
        "user": window.user_email,
        "team_id": window.team_id,
        "hosts": list(window.host_ids),
        "policies": list(window.policy_ids),
        "created_at": window.created_at.astimezone(UTC).isoformat(),
        "deadline": window.deadline.astimezone(UTC).isoformat(),
        "start_utc": window.start.astimezone(UTC).isoformat() if window.start else None,
        "end_utc": window.end.astimezone(UTC).isoformat() if window.end else None,
        "start_local": window.start.astimezone(zone).isoformat() if window.start else None,
        "end_local": window.end.astimezone(zone).isoformat() if window.end else None,
        "time_zone": window.time_zone,
        "revision": window.revision,
        "event_id": window.event_id,
        "task": window.task_name,
        "reason": window.reason,
        "unplaced_reason": window.unplaced_reason,
        "why": window_why(window),
        "fallback": window.fallback,
        "late": window.late,
        "deletions": window.deletions,
        "note": window.note,
        "text_source": window.explanation_source,
        "event_text": window.event_html,
        "history": [
            {"at": entry.at.isoformat(), "kind": entry.kind, "detail": entry.detail} for entry in window.history
        ],
    }


def people_without_windows(snapshot: Snapshot) -> dict[str, list[dict[str, Any]]]:
    """Failing hosts with no open window, by user (None: no email), for `mw windows`."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in snapshot.hosts:
        row = host_row(case, snapshot)
        if row["status"] == HostStatus.FAILING.value and row["window"] == "none":
            grouped[row["user"] or "-"].append(row)
    return dict(grouped)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
