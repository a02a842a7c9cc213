"""Windows: one user's booked maintenance time covering all of that user's failing hosts.

State machine (see docs/data-model.md):

    new ──plan──▶ planned ──book──▶ scheduled ──dispatch──▶ dispatched ──verify──▶ verified
                     │                 │  ▲ move (revision+1)            └──fail──▶ failed
                     │                 │  └─ rebook (booking+1) after a deletion
                     └─────────────────┴──▶ cancelled (hosts pass) · declined (user deleted it too often)

Every change returns a new Window with a history entry; nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from maintenance_windows.domain.ids import event_id


class WindowState(StrEnum):
    NEW = "new"
    PLANNED = "planned"
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    VERIFIED = "verified"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DECLINED = "declined"


OPEN_STATES = frozenset({WindowState.NEW, WindowState.PLANNED, WindowState.SCHEDULED, WindowState.DISPATCHED})
BOOKED_STATES = frozenset({WindowState.PLANNED, WindowState.SCHEDULED})

_ALLOWED: dict[WindowState, frozenset[WindowState]] = {
    WindowState.NEW: frozenset({WindowState.PLANNED, WindowState.CANCELLED}),
    WindowState.PLANNED: frozenset(
        {WindowState.PLANNED, WindowState.SCHEDULED, WindowState.CANCELLED, WindowState.DECLINED}
    ),
    WindowState.SCHEDULED: frozenset(
        {
            WindowState.PLANNED,
            WindowState.SCHEDULED,
            WindowState.DISPATCHED,
            WindowState.CANCELLED,
            WindowState.DECLINED,
        }
    ),
    WindowState.DISPATCHED: frozenset({WindowState.VERIFIED, WindowState.FAILED, WindowState.CANCELLED}),
    WindowState.VERIFIED: frozenset(),
    WindowState.FAILED: frozenset(),
    WindowState.CANCELLED: frozenset(),
    WindowState.DECLINED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # booked, moved, rebooked, declined, late, enforced, text_updated, dispatched, verified, ...
    detail: str
    #: When the change we followed happened, as the provider reports it (a moved event's `updated`): the time
    #: it took us to follow is `at - changed_at` (domain/compliance.py). None when unknown or not a follow.
    changed_at: datetime | None = None


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    reason: str
    score: float = 0.0
    fallback: str | None = None


@dataclass(frozen=True)
class Window:
    window_id: str
    user_key: str
    user_email: str
    team_id: int | None
    host_ids: tuple[int, ...]
    policy_ids: tuple[int, ...]
    deadline: datetime
    created_at: datetime
    state: WindowState = WindowState.NEW
    revision: int = 0
    booking: int = 0
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str = "UTC"
    reason: str = ""
    score: float = 0.0
    fallback: str | None = None
    late: bool = False
    deletions: int = 0
    event_id: str | None = None
    event_etag: str | None = None
    task_name: str | None = None
    verify_task_name: str | None = None
    explanation_source: str | None = None
    event_html: str = ""
    note: str | None = None
    #: The deadline before time out of office paused it (None: never paused); `deadline` is the paused one.
    base_deadline: datetime | None = None
    #: Set when the booked slot comes after the person's return from out of office (the text says so).
    away_until: datetime | None = None
    #: The event's last words once the window is over (service/outcomes.py), and whether they still wait to be
    #: written into the event by the next planning run.
    outcome_html: str = ""
    outcome_pending: bool = False
    #: Why the last planning run could not place it (no slot, calendar access refused, ...); cleared once planned.
    unplaced_reason: str | None = None
    #: The start a pause put off (dispatch found maintenance paused): the rebooked event says so.
    put_off_start: datetime | None = None
    history: tuple[HistoryEntry, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def _to(
        self,
        state: WindowState,
        at: datetime,
        kind: str,
        detail: str,
        changed_at: datetime | None = None,
        **changes: object,
    ) -> Window:
        if state not in _ALLOWED[self.state]:
            raise InvalidTransition(f"window {self.window_id}: {self.state} → {state} is not allowed")
        entry = HistoryEntry(at, kind, detail, changed_at)
        return replace(self, state=state, history=(*self.history, entry), **changes)  # type: ignore[arg-type]


def plan(window: Window, slot: Slot, time_zone: str, at: datetime) -> Window:
    """Choose the slot; the event id follows from the booking number, so a retry reuses it."""
    return window._to(
        WindowState.PLANNED,
        at,
        "planned",
        slot.reason,
        start=slot.start,
        end=slot.end,
        time_zone=time_zone,
        reason=slot.reason,
        score=slot.score,
        fallback=slot.fallback,
        event_id=event_id(window.window_id, window.booking),
        unplaced_reason=None,
    )


def booked(window: Window, task: str, at: datetime, etag: str | None = None) -> Window:
    start = window.start.isoformat() if window.start else "?"
    return window._to(
        WindowState.SCHEDULED, at, "booked", f"event at {start}; task {task}", task_name=task, event_etag=etag
    )


def moved(
    window: Window,
    start: datetime,
    end: datetime,
    at: datetime,
    *,
    late: bool,
    etag: str | None,
    changed_at: datetime | None = None,
) -> Window:
    """The user moved the event: take the new time under a new revision (old tasks become no-ops).
    `changed_at` is when the user moved it (the event's `updated`), kept to measure how fast moves are followed."""
    before = window.start.isoformat() if window.start else "?"
    detail = f"{before} → {start.isoformat()}" + ("; past the deadline" if late else "")
    return window._to(
        WindowState.PLANNED,
        at,
        "moved",
        detail,
        changed_at=changed_at,
        start=start,
        end=end,
        revision=window.revision + 1,
        late=late,
        event_etag=etag,
        task_name=None,
    )


def rebook_after_deletion(window: Window, at: datetime, why: str) -> Window:
    """The event was deleted or made unusable: a new booking (new event id) under a new revision."""
    return window._to(
        WindowState.PLANNED,
        at,
        "deleted_by_user",
        why,
        deletions=window.deletions + 1,
        booking=window.booking + 1,
        revision=window.revision + 1,
        event_id=event_id(window.window_id, window.booking + 1),
        task_name=None,
        event_etag=None,
    )


def put_off(window: Window, at: datetime, why: str) -> Window:
    """Maintenance was paused at the window's start: nothing ran, and the planner books a new time once the
    pause ends (same event, moved: its etag is forgotten so the booking re-aligns it). A new revision, so
    every task of the old one is a no-op."""
    return window._to(
        WindowState.PLANNED,
        at,
        "put_off",
        f"maintenance paused at the start; nothing sent ({why})",
        revision=window.revision + 1,
        task_name=None,
        event_etag=None,
        unplaced_reason=f"paused: {why}",
        put_off_start=window.put_off_start or window.start,
    )


def decline(window: Window, at: datetime, why: str) -> Window:
    return window._to(WindowState.DECLINED, at, "declined", why, deletions=window.deletions + 1)


def cancel(window: Window, at: datetime, why: str) -> Window:
    return window._to(WindowState.CANCELLED, at, "cancelled", why)


def dispatched(window: Window, at: datetime, detail: str) -> Window:
    return window._to(WindowState.DISPATCHED, at, "dispatched", detail)


def verified(window: Window, at: datetime, detail: str) -> Window:
    return window._to(WindowState.VERIFIED, at, "verified", detail)


def failed(window: Window, at: datetime, detail: str) -> Window:
    return window._to(WindowState.FAILED, at, "failed", detail)


def note(window: Window, at: datetime, kind: str, detail: str, **changes: object) -> Window:
    """A history entry without a state change (text updated, late, enforced, action sent...)."""
    entry = HistoryEntry(at, kind, detail)
    return replace(window, history=(*window.history, entry), **changes)  # type: ignore[arg-type]
