"""What dispatch and verification share: their dependencies, the claim protocol and the task body.

Claims make every step exactly-once under at-least-once delivery. A claim is a document in `claims`
created atomically with store.create(); whoever creates it owns the work. A claim left "claimed" past
its lease (the owner crashed mid-send) or "released" (the owner hit an outage) is taken over by creating
`<claim>.g<generation+1>`, which exactly one contender can do. A claim is released rather than deleted so
that its generation survives: with a delete, a later takeover would recreate generation 1 and collide
with the marker of an earlier one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from maintenance_windows.clock import utc_now
from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.fleet import FleetPort
from maintenance_windows.ports.store import Document, DocumentStore, Write
from maintenance_windows.ports.tasks import TaskQueue
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.errors import NothingToDo

logger = get_logger(__name__)
#: Firestore's TTL policy deletes claims after this. Far longer than any task's retries, so a claim is never
#: gone while a delivery of its task can still arrive.
CLAIM_RETENTION = timedelta(days=30)

CLAIMS = "claims"
FINISHED_STATUSES = frozenset({"sent", "done", "failed"})


class TaskBody(BaseModel):
    """The JSON a dispatch, recheck or verify task carries (domain/task_schedule.py writes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_id: str = Field(min_length=1, max_length=200)
    revision: int = Field(ge=0)
    purpose: Literal["dispatch", "verify", "recheck"]
    attempt: int = Field(default=0, ge=0, le=100)


@dataclass(frozen=True)
class DispatchOptions:
    #: A claim still "claimed" after this long is presumed abandoned by a crashed instance.
    claim_lease: timedelta = timedelta(minutes=10)
    #: Verification re-checks a still-failing host this much later (hosts report after a refetch).
    recheck_delay: timedelta = timedelta(minutes=5)
    max_rechecks: int = 2


@dataclass
class DispatchContext:
    store: DocumentStore
    fleet: FleetPort
    tasks: TaskQueue
    teams: TeamsConfig
    clock: Callable[[], datetime] = field(default=utc_now)
    options: DispatchOptions = field(default_factory=DispatchOptions)


class ClaimState(StrEnum):
    ACQUIRED = "acquired"  # the caller owns the work now
    FINISHED = "finished"  # done before (sent, done or failed): never redo it
    BUSY = "busy"  # someone else holds a fresh claim


@dataclass(frozen=True)
class Claim:
    claim_id: str
    state: ClaimState
    document: Mapping[str, Any]


class Claims:
    def __init__(self, store: DocumentStore, lease: timedelta) -> None:
        self._store = store
        self._lease = lease

    def lookup(self, claim_ids: Sequence[str]) -> dict[str, Document]:
        """The existing claims among `claim_ids`, in one read (lets acquire skip a create per claim)."""
        return self._store.get_many(CLAIMS, list(dict.fromkeys(claim_ids)))

    def acquire(
        self, claim_id: str, now: datetime, fields: Mapping[str, Any], known: Mapping[str, Any] | None = None
    ) -> Claim:
        """Own the work named by claim_id, unless it is finished or someone else is on it.

        `known` is the claim as lookup() found it; None means it did not exist then.
        """
        fresh = {**fields, "status": "claimed", "claimed_at": now, "generation": 0, "expires_at": now + CLAIM_RETENTION}
        if known is None and self._store.create(CLAIMS, claim_id, fresh):
            return Claim(claim_id, ClaimState.ACQUIRED, fresh)
        current = known if known is not None else self._store.get(CLAIMS, claim_id)
        if current is None:  # released and gone between our two calls: one more race for it
            created = self._store.create(CLAIMS, claim_id, fresh)
            return Claim(claim_id, ClaimState.ACQUIRED if created else ClaimState.BUSY, fresh)
        if current.get("status") in FINISHED_STATUSES:
            return Claim(claim_id, ClaimState.FINISHED, current)
        if current.get("status") == "claimed" and now - current["claimed_at"] < self._lease:
            return Claim(claim_id, ClaimState.BUSY, current)
        return self._take_over(claim_id, now, current)

    def finish(self, claim_id: str, status: Literal["sent", "done", "failed"], **fields: Any) -> None:
        self._store.commit([Write("merge", CLAIMS, claim_id, {**fields, "status": status})])

    def release(self, claim_id: str, now: datetime, reason: str) -> None:
        """Give the work back (an outage): the next delivery takes it over at once."""
        self._store.commit([Write("merge", CLAIMS, claim_id, {"status": "released", "released_at": now,
                                                              "release_reason": reason[:300]})])  # fmt: skip

    def _take_over(self, claim_id: str, now: datetime, current: Mapping[str, Any]) -> Claim:
        generation = int(current.get("generation", 0)) + 1
        marker = {
            "claim_id": claim_id,
            "generation": generation,
            "claimed_at": now,
            "expires_at": now + CLAIM_RETENTION,
        }
        if not self._store.create(CLAIMS, f"{claim_id}.g{generation}", marker):
            return Claim(claim_id, ClaimState.BUSY, current)
        taken = {"status": "claimed", "claimed_at": now, "generation": generation}
        self._store.commit([Write("merge", CLAIMS, claim_id, taken)])
        return Claim(claim_id, ClaimState.ACQUIRED, {**current, **taken})


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
