"""Races on one claim or lease, run under a schedule, with the properties every schedule must keep.

Shared by tests/unit/test_claims.py (MemoryStore) and tests/integration/test_claims_emulator.py (the
Firestore emulator). Each scenario sets up, interleaves its contenders one store call at a time, and
asserts: at most one holder at any moment; a former holder's release or finish that starts after a
successor took over does nothing and says so; an expired claim is taken over by exactly one contender;
finished work is never redone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.repository import leases
from maintenance_windows.repository.claims import (
    UNREAD,
    ClaimBook,
    ClaimState,
    ClaimStatus,
    Holder,
)
from tests.support.interleaving import Chooser, Run, interleave

COLLECTION = "claims"
LEASE = timedelta(minutes=10)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: The first holder's lease has run out by now.
LATE = T0 + LEASE + timedelta(minutes=1)
#: Every lease taken at LATE has run out by now.
LATER = LATE + 2 * LEASE
LateCall = Literal["finish", "release", "crash"]
LATE_CALLS: tuple[LateCall, ...] = ("finish", "release", "crash")
ExpiredHolder = Literal["none", "crash", "late_release"]
#: Where contenders "do the work" while holding: a store call, so others can run in the middle of it.
WORK = "work"


def book(store: DocumentStore) -> ClaimBook:
    return ClaimBook(store, COLLECTION, retention=timedelta(days=30))


@dataclass
class Ledger:
    """Who holds the claim right now, as the contenders themselves report it (one runs at a time)."""

    holding: set[int] = field(default_factory=set)
    work: list[int] = field(default_factory=list)
    acquisitions: int = 0

    def start(self, who: int) -> None:
        assert not self.holding, f"contender {who} acquired while {sorted(self.holding)} held the claim"
        self.holding.add(who)
        self.acquisitions += 1

    def stop(self, who: int) -> None:
        self.holding.discard(who)


def _do_work(store: DocumentStore, ledger: Ledger, who: int) -> None:
    ledger.work.append(who)
    store.get(WORK, str(who))


def _successor_created_before(run: Run, contender: int, claim_id: str) -> bool:
    """Whether some other contender created a later generation before `contender` made its first call."""
    first = next((i for i, step in enumerate(run.steps) if step.contender == contender), len(run.steps))
    return any(
        step.operation == "create" and step.result is True and step.doc_ids[0].startswith(f"{claim_id}.g")
        for step in run.steps[:first]
        if step.contender != contender
    )


def fresh_race(
    store: DocumentStore, claim_id: str, chooser: Chooser, contenders: int, *, retries: int = 1, looked_up: bool = False
) -> Run:
    """N deliveries claim the same new work at once; whoever gets it works and finishes; BUSY ones retry."""
    ledger = Ledger()

    def contender(who: int) -> Callable[[DocumentStore], Any]:
        def run(stepped: DocumentStore) -> tuple[ClaimState, bool | None]:
            claims = book(stepped)
            for _ in range(retries + 1):
                head = claims.lookup([claim_id]).get(claim_id) if looked_up else UNREAD
                claim = claims.acquire(claim_id, T0, T0 + LEASE, {"who": who}, head=head)
                if claim.state is ClaimState.ACQUIRED:
                    assert claim.holder is not None
                    ledger.start(who)
                    _do_work(stepped, ledger, who)
                    finished = claims.finish(claim.holder, result="sent", by=who)
                    ledger.stop(who)
                    return claim.state, finished
                if claim.state is ClaimState.FINISHED:
                    assert claim.document.get("result") == "sent"
                    return claim.state, None
            return ClaimState.BUSY, None

        return run

    run = interleave(store, [contender(i) for i in range(contenders)], chooser)
    states = [state for state, _ in run.results]
    assert states.count(ClaimState.ACQUIRED) == 1, states
    winner = states.index(ClaimState.ACQUIRED)
    assert run.results[winner][1] is True, "the only holder's finish must count"
    assert ledger.work == [winner]
    assert set(states) <= {ClaimState.ACQUIRED, ClaimState.FINISHED, ClaimState.BUSY}
    _assert_finished_for_good(store, claim_id, by=winner)
    return run


def expired_takeover(
    store: DocumentStore,
    claim_id: str,
    chooser: Chooser,
    contenders: int,
    late: LateCall,
) -> Run:
    """The first holder's lease ran out; contender 0 is that holder, finishing or releasing late (or dead),
    while the others claim the work at once, work and finish."""
    claims = book(store)
    first = claims.acquire(claim_id, T0, T0 + LEASE, {"who": "first"})
    assert first.state is ClaimState.ACQUIRED
    assert first.holder is not None
    former: Holder = first.holder
    ledger = Ledger()

    def former_holder(stepped: DocumentStore) -> bool | None:
        if late == "finish":
            return book(stepped).finish(former, result="sent", by="first")
        if late == "release":
            return book(stepped).release(former, release_reason="outage")
        return None

    def contender(who: int) -> Callable[[DocumentStore], Any]:
        def run(stepped: DocumentStore) -> tuple[ClaimState, bool | None]:
            claims = book(stepped)
            claim = claims.acquire(claim_id, LATE, LATE + LEASE, {"who": who})
            if claim.state is not ClaimState.ACQUIRED:
                return claim.state, None
            assert claim.holder is not None
            ledger.start(who)
            _do_work(stepped, ledger, who)
            finished = claims.finish(claim.holder, result="sent", by=who)
            ledger.stop(who)
            return claim.state, finished

        return run

    run = interleave(store, [former_holder, *[contender(i) for i in range(1, contenders)]], chooser)
    late_result: bool | None = run.results[0]
    states = [state for state, _ in run.results[1:]]
    acquired = states.count(ClaimState.ACQUIRED)
    if late == "finish" and late_result:
        assert acquired == 0, "work finished in time was taken over"
        assert ledger.work == [], "work finished in time was redone"
    elif late == "finish":
        assert acquired <= 1, states
    else:
        assert acquired == 1, f"the expired claim must be taken over by exactly one contender: {states}"
    if _successor_created_before(run, 0, claim_id) and late != "crash":
        assert late_result is False, f"a former holder's {late} after the takeover must report it did nothing"
        assert run.writes_by(0) == [], f"a former holder's {late} after the takeover must write nothing"
    finishers = [run.results[i + 1][1] for i, state in enumerate(states) if state is ClaimState.ACQUIRED]
    assert all(finishers), "the successor's finish must count"
    _assert_finished_for_good(store, claim_id, by=None)
    return run


def _assert_finished_for_good(store: DocumentStore, claim_id: str, by: int | None) -> None:
    claims = book(store)
    view = claims.inspect(claim_id)
    assert view.status is ClaimStatus.FINISHED, view
    if by is not None:
        assert view.document.get("by") == by
    again = claims.acquire(claim_id, LATER, LATER + LEASE, {"who": "after"})
    assert again.state is ClaimState.FINISHED, "finished work was offered again"


def lease_race(
    store: DocumentStore,
    name: str,
    chooser: Chooser,
    contenders: int,
    *,
    rounds: int = 1,
    expired_holder: ExpiredHolder = "none",
) -> Run:
    """`contenders` take the same lease, hold it over a store call, release it; the first holder may have
    died (expired lease) and may come back to release late (contender 0, besides them)."""
    former: Holder | None = None
    if expired_holder != "none":
        former = leases.claim(store, name, T0, T0 + LEASE)
        assert former is not None
    ledger = Ledger()

    def late_release(stepped: DocumentStore) -> bool | None:
        return leases.release(stepped, former) if former is not None and expired_holder == "late_release" else None

    def contender(who: int) -> Callable[[DocumentStore], Any]:
        def run(stepped: DocumentStore) -> int:
            held = 0
            for _ in range(rounds):
                lease = leases.claim(stepped, name, LATE, LATE + LEASE)
                if lease is None:
                    continue
                held += 1
                ledger.start(who)
                _do_work(stepped, ledger, who)
                assert leases.release(stepped, lease), "a holder's own release must count"
                ledger.stop(who)
            return held

        return run

    run = interleave(store, [late_release, *[contender(i) for i in range(1, contenders + 1)]], chooser)
    assert ledger.acquisitions >= 1, "nobody got a free (or expired) lease"
    if expired_holder == "late_release" and _successor_created_before(run, 0, name):
        assert run.results[0] is False, "a former holder released its successor's lease"
        assert run.writes_by(0) == [], "a former holder wrote to its successor's lease"
    assert leases.claim(store, name, LATER, LATER + LEASE) is not None, "all released, yet the lease is held"
    return run
