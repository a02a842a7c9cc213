"""What the status page shows, read from the store once per request: one snapshot, several views of it.

The reasons a host has no window are `mw`'s own (cli/host_view.py), so the page and the command line never
disagree; here they are only sorted into the kinds an admin acts on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.cli.host_view import Snapshot, host_row, read_snapshot, window_row
from maintenance_windows.domain import compliance
from maintenance_windows.domain.host_cases import HostStatus
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import pauses

#: Attention kinds, in the order the page lists them.
FAILED_FIX = "failed fix"
FLEET_ERROR = "permanent Fleet error"
DELEGATION = "delegation failure"
NO_EMAIL = "no email"
DECLINED = "declined"
UNPLACED = "unplaced"
ATTENTION_KINDS = (FAILED_FIX, FLEET_ERROR, DELEGATION, NO_EMAIL, DECLINED, UNPLACED)


@dataclass(frozen=True)
class Attention:
    kind: str
    host_id: int
    user: str | None
    reason: str
    window_id: str | None = None


@dataclass(frozen=True)
class PausedTeam:
    team: str
    since: datetime
    reason: str


@dataclass(frozen=True)
class Overview:
    now: datetime
    figures: compliance.Figures
    states: tuple[str, ...]
    by_team: dict[str, Counter[str]]  # team label -> state -> windows
    next_day: list[dict[str, Any]]
    attention: list[Attention]
    per_day: list[tuple[str, Counter[str]]]
    #: Paused teams (repository/pauses.py).
    paused: list[PausedTeam] = field(default_factory=list)


def attention_kind(row: dict[str, Any], extra: dict[str, Any]) -> str | None:
    """Which kind of attention a host row's reason is, or None when it needs none (booked, waiting, held)."""
    why = str(row["why"])
    if extra.get("calendar_problem") and row["window"] == "none":
        return DELEGATION
    if why.startswith("no email"):
        return NO_EMAIL
    if why.startswith("declined"):
        return DECLINED
    if why.startswith("permanent Fleet error") or (why.startswith("needs attention") and row["blocked_policies"]):
        return FLEET_ERROR
    if why.startswith("needs attention"):
        return FAILED_FIX
    if why.startswith("not placed"):
        return UNPLACED
    return None


def attention_items(snapshot: Snapshot) -> list[Attention]:
    found = []
    for case in sorted(snapshot.hosts, key=lambda c: c.host_id):
        if case.status is not HostStatus.FAILING:
            continue
        row = host_row(case, snapshot)
        kind = attention_kind(row, case.extra)
        if kind is not None:
            latest = row["window_ids"][-1] if row["window_ids"] else None
            found.append(Attention(kind, case.host_id, row["user"], row["why"], latest))
    return sorted(found, key=lambda a: (ATTENTION_KINDS.index(a.kind), a.host_id))


def overview(store: DocumentStore, now: datetime) -> Overview:
    snapshot = read_snapshot(store)
    by_team: dict[str, Counter[str]] = {}
    for window in snapshot.windows:
        team = "no team" if window.team_id is None else f"team {window.team_id}"
        by_team.setdefault(team, Counter())[window.state.value] += 1
    horizon = now + timedelta(hours=24)
    upcoming = sorted(
        (w for w in snapshot.windows if w.is_open and w.start and now <= w.start <= horizon),
        key=lambda w: w.start or now,
    )
    return Overview(
        now=now,
        figures=figures(store, snapshot.windows, now),
        states=tuple(state.value for state in WindowState),
        by_team=dict(sorted(by_team.items())),
        next_day=[window_row(w) for w in upcoming],
        attention=attention_items(snapshot),
        per_day=compliance.windows_per_day(snapshot.windows, now),
        paused=paused_teams(store),
    )


def figures(store: DocumentStore, windows: list[Window], now: datetime) -> compliance.Figures:
    """The compliance figures of these windows, with the policy cases of their hosts."""
    cases = host_records.policy_cases(
        store, {h for w in windows for h in w.host_ids}, {p for w in windows for p in w.policy_ids}
    )
    return compliance.compute(windows, cases, now)


def paused_teams(store: DocumentStore) -> list[PausedTeam]:
    """The rollout pauses in force (`mw pause`, repository/pauses.py), every-team pause first."""
    return [PausedTeam(p.scope, p.paused_at, p.reason) for p in pauses.active_pauses(store)]


@dataclass(frozen=True)
class History:
    title: str
    hosts: list[dict[str, Any]]
    windows: list[dict[str, Any]]


def host_history(store: DocumentStore, host_id: int) -> History | None:
    snapshot = read_snapshot(store)
    case = next((c for c in snapshot.hosts if c.host_id == host_id), None)
    if case is None:
        return None
    windows = [window_row(w) for w in snapshot.windows_of(host_id)]
    name = case.extra.get("fleet_display_name")
    return History(f"Host {host_id}" + (f" ({name})" if name else ""), [host_row(case, snapshot)], windows)


def person_history(store: DocumentStore, email: str) -> History | None:
    snapshot = read_snapshot(store)
    wanted = email.casefold()
    rows = [
        host_row(c, snapshot)
        for c in sorted(snapshot.hosts, key=lambda c: c.host_id)
        if str(c.extra.get("user_email") or "").casefold() == wanted
    ]
    windows = [
        window_row(w) for w in sorted(snapshot.windows, key=lambda w: w.created_at) if w.user_email.casefold() == wanted
    ]
    if not rows and not windows:
        return None
    return History(email, rows, windows)
