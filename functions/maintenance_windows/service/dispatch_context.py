"""What dispatch and verification share: their dependencies, the claim protocol and the task body.

Claims make every step exactly-once under at-least-once delivery: each action, webhook and verification
attempt is claimed in `claims` before it runs (repository/claims.py: generation documents created with
create(), exactly one holder at a time). A claim still "claimed" past its lease (its delivery crashed
mid-send) or released (its delivery hit an outage) is taken over by the next delivery; a finished one is
never redone. A delivery releases or finishes only what it holds itself: should its lease have run out
and another delivery taken over, its release or finish does nothing and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from maintenance_windows.clock import utc_now
from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.fleet import FleetCatalogPort, FleetPort
from maintenance_windows.ports.store import Document, DocumentStore, Write
from maintenance_windows.ports.tasks import TaskQueue
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.claims import Claim, ClaimBook, Holder
from maintenance_windows.service.errors import NothingToDo
from maintenance_windows.service.os_updates import OsUpdates

logger = get_logger(__name__)
#: Firestore's TTL policy deletes claims after this. Far longer than any task's retries, so a claim is never
#: gone while a delivery of its task can still arrive.
CLAIM_RETENTION = timedelta(days=30)

CLAIMS = "claims"


#: Window ids are `<user key>-<sequence>` (domain/ids.window_id): letters, digits and dashes. Anything else
#: (a "/", which Firestore reads as a sub-collection path) is refused before it reaches the store.
WINDOW_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
#: Revisions count a window's moves; Firestore keeps them as 64-bit integers.
MAX_REVISION = 2**63 - 1


class TaskBody(BaseModel):
    """The JSON a dispatch, recheck or verify task carries (domain/task_schedule.py writes it).

    Strict: our own tasks carry JSON integers, so "1", 1.0 or true are refused rather than coerced.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    window_id: str = Field(min_length=1, max_length=200, pattern=WINDOW_ID_PATTERN)
    revision: int = Field(ge=0, le=MAX_REVISION)
    purpose: Literal["dispatch", "verify", "recheck", "webhook"]
    #: Verification looks (re-checks, and hourly looks for an offline device up to a week) and webhook polls.
    attempt: int = Field(default=0, ge=0, le=1000)


@dataclass(frozen=True)
class DispatchOptions:
    #: A claim still "claimed" after this long is presumed abandoned by a crashed instance.
    claim_lease: timedelta = timedelta(minutes=10)
    #: Local stacks and tests only: every verification re-check after this delay instead of the team's
    #: verify.recheck_minutes / offline_recheck_minutes.
    recheck_delay: timedelta | None = None
    #: One delivery stops sending after this long and answers 503, so that Fleet's retried 429s and slow
    #: answers never run it past Cloud Tasks' dispatch deadline (10 minutes); the retry sends the rest.
    delivery_budget: timedelta = timedelta(minutes=8)
    #: While a compatible webhook waits for a host's report, it looks again this often.
    webhook_poll: timedelta = timedelta(seconds=60)


@dataclass
class DispatchContext:
    store: DocumentStore
    fleet: FleetPort
    tasks: TaskQueue
    teams: TeamsConfig
    clock: Callable[[], datetime] = field(default=utc_now)
    options: DispatchOptions = field(default_factory=DispatchOptions)
    #: Team OS-update settings, release versions and Fleet's policy definitions (none known by default).
    os_updates: OsUpdates = field(default_factory=OsUpdates)
    catalog: FleetCatalogPort | None = None


class Claims:
    """The claims one delivery takes: a ClaimBook on `claims` that remembers what this delivery holds."""

    def __init__(self, store: DocumentStore, lease: timedelta) -> None:
        self._book = ClaimBook(store, CLAIMS, retention=CLAIM_RETENTION)
        self._lease = lease
        self._held: dict[str, Holder] = {}

    def lookup(self, claim_ids: Sequence[str]) -> dict[str, Document]:
        """The existing claims among `claim_ids`, in one read (lets acquire skip reads per claim)."""
        return self._book.lookup(claim_ids)

    def acquire(
        self, claim_id: str, now: datetime, fields: Mapping[str, Any], known: Mapping[str, Any] | None = None
    ) -> Claim:
        """Own the work named by claim_id, unless it is finished or someone else is on it.

        `known` is the claim as lookup() found it; None means it did not exist then.
        """
        claim = self._book.acquire(claim_id, now, now + self._lease, fields, head=known)
        if claim.holder is not None:
            self._held[claim_id] = claim.holder
        return claim

    def finish(self, claim_id: str, status: Literal["sent", "done", "failed"], **fields: Any) -> bool:
        """Record the outcome (`result`); False when this delivery no longer held the claim."""
        holder = self._held.pop(claim_id, None)
        if holder is None:
            return False
        return _reported(self._book.finish(holder, result=status, **fields), holder, "finish")

    def release(self, claim_id: str, now: datetime, reason: str) -> bool:
        """Give the work back (an outage): the next delivery takes it over at once."""
        holder = self._held.pop(claim_id, None)
        if holder is None:
            return False
        return _reported(self._book.release(holder, released_at=now, release_reason=reason[:300]), holder, "release")

    def mark_first(self, claim_id: str, now: datetime, fields: Mapping[str, Any]) -> bool:
        """True for the first delivery to mark claim_id."""
        return self._book.mark_once(claim_id, now, fields)


def _reported(done: bool, holder: Holder, what: str) -> bool:
    if not done:
        log(logger, logging.WARNING, f"claim {what} skipped: its lease ran out and another delivery took over",
            event="claim_superseded", claim_id=holder.claim_id, generation=holder.generation)  # fmt: skip
    return done


def current_window(ctx: DispatchContext, body: TaskBody, expected: WindowState) -> Window:
    """The window the task is for; NothingToDo when the task no longer applies (so Cloud Tasks stops)."""
    window = window_records.load(ctx.store, body.window_id)
    if window is None:
        raise no_op("ignored", body, "no such window")
    if window.revision != body.revision:
        raise no_op("stale", body, f"the window is at revision {window.revision}")
    if window.state is not expected:
        raise no_op("ignored", body, f"the window is {window.state.value}, not {expected.value}")
    return window


def no_op(status: str, body: TaskBody, why: str) -> NothingToDo:
    log(logger, logging.INFO, "task has nothing to do", event="task_no_op", window_id=body.window_id,
        purpose=body.purpose, status=status, why=why)  # fmt: skip
    return NothingToDo(status, why, body.window_id)


def window_write(window: Window) -> Write:
    return Write("set", window_records.WINDOWS, window.window_id, window_records.window_to_document(window))
