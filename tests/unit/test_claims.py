"""The claim primitive under races: every schedule of two contenders, and many of ten, on MemoryStore.

Each schedule runs the contenders one store call at a time (tests/support/interleaving.py), so a race
that a real store would show once in a million runs shows here, every run, when its schedule comes up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import leases
from maintenance_windows.repository.claims import (
    MAX_PROBES,
    PROBE_WINDOW,
    ClaimState,
    ClaimStatus,
    generation_id,
)
from maintenance_windows.service.dispatch_context import CLAIMS, Claims
from tests.support.claim_races import (
    LATE,
    LATE_CALLS,
    LEASE,
    T0,
    ExpiredHolder,
    LateCall,
    book,
    expired_takeover,
    fresh_race,
    lease_race,
)
from tests.support.interleaving import Exhaustive, seeded

#: More than any two-contender scenario below has schedules: each test checks that it ran them all.
ALL_SCHEDULES = 20_000
#: Seeded schedules for the scenarios with too many to enumerate (three or ten contenders).
SCHEDULES = 400
TEN = 10


@pytest.mark.parametrize("looked_up", [False, True], ids=["unread", "looked_up"])
def test_two_deliveries_for_new_work_every_schedule(looked_up: bool) -> None:
    schedules = Exhaustive(ALL_SCHEDULES)
    for chooser in schedules:
        fresh_race(MemoryStore(), "c", chooser, 2, looked_up=looked_up)
    assert schedules.complete, f"only {schedules.runs} schedules run"


@pytest.mark.parametrize("late", LATE_CALLS)
def test_an_expired_claim_every_schedule_of_two_contenders(late: LateCall) -> None:
    """The former holder finishing or releasing late beside its successor; or, the holder dead, two successors."""
    contenders = 3 if late == "crash" else 2  # a dead holder makes no store call: two successors race
    schedules = Exhaustive(ALL_SCHEDULES)
    for chooser in schedules:
        expired_takeover(MemoryStore(), "c", chooser, contenders, late)
    assert schedules.complete, f"only {schedules.runs} schedules run"


@pytest.mark.parametrize("expired_holder", ["none", "crash"])
def test_two_contenders_for_a_lease_every_schedule(expired_holder: ExpiredHolder) -> None:
    schedules = Exhaustive(ALL_SCHEDULES)
    for chooser in schedules:
        lease_race(MemoryStore(), "planner", chooser, 2, expired_holder=expired_holder)
    assert schedules.complete, f"only {schedules.runs} schedules run"


def test_a_former_lease_holders_late_release_and_its_successor_every_schedule() -> None:
    schedules = Exhaustive(ALL_SCHEDULES)
    for chooser in schedules:
        lease_race(MemoryStore(), "planner", chooser, 1, expired_holder="late_release")
    assert schedules.complete, f"only {schedules.runs} schedules run"


@pytest.mark.parametrize("late", LATE_CALLS)
def test_a_former_holder_and_two_contenders_for_its_expired_claim(late: LateCall) -> None:
    for seed in range(SCHEDULES):
        expired_takeover(MemoryStore(), "c", seeded(seed), 3, late)


def test_ten_deliveries_for_new_work() -> None:
    for seed in range(SCHEDULES):
        fresh_race(MemoryStore(), "c", seeded(seed), TEN, looked_up=seed % 2 == 0)


@pytest.mark.parametrize("late", LATE_CALLS)
def test_a_former_holder_and_nine_contenders_for_its_expired_claim(late: LateCall) -> None:
    for seed in range(SCHEDULES):
        expired_takeover(MemoryStore(), "c", seeded(seed), TEN, late)


@pytest.mark.parametrize("expired_holder", ["none", "crash", "late_release"])
def test_ten_contenders_for_a_lease_two_rounds_each(expired_holder: ExpiredHolder) -> None:
    for seed in range(SCHEDULES):
        lease_race(MemoryStore(), "follow-u1", seeded(seed), TEN, rounds=2, expired_holder=expired_holder)


# ---- single-threaded properties --------------------------------------------------------------------


def test_a_former_holders_finish_after_a_takeover_changes_nothing() -> None:
    store = MemoryStore()
    claims = book(store)
    first = claims.acquire("c", T0, T0 + LEASE, {"who": 1})
    second = claims.acquire("c", LATE, LATE + LEASE, {"who": 2})
    assert first.holder is not None
    assert second.holder is not None
    assert (first.holder.generation, second.holder.generation) == (0, 1)
    before = dict(store.query("claims"))
    assert claims.finish(first.holder, result="sent") is False
    assert claims.release(first.holder) is False
    assert dict(store.query("claims")) == before
    assert claims.acquire("c", LATE, LATE + LEASE, {"who": 3}).state is ClaimState.BUSY
    assert claims.finish(second.holder, result="sent", by=2) is True
    assert claims.inspect("c").status is ClaimStatus.FINISHED


def test_a_release_lets_the_next_contender_in_at_once_and_finish_is_terminal() -> None:
    claims = book(MemoryStore())
    first = claims.acquire("c", T0, T0 + LEASE)
    assert first.holder is not None
    assert claims.release(first.holder, release_reason="outage")
    second = claims.acquire("c", T0, T0 + LEASE)
    assert second.state is ClaimState.ACQUIRED
    assert second.holder is not None
    assert claims.release(first.holder) is False, "released twice"
    assert claims.finish(second.holder, result="done") is True
    for when in (T0, LATE, T0 + timedelta(days=29)):
        assert claims.acquire("c", when, when + LEASE).state is ClaimState.FINISHED


def _generations(store: MemoryStore, count: int) -> None:
    """`count` generations, each taken and released, then the head's hint knocked back to 0."""
    claims = book(store)
    for _ in range(count):
        claim = claims.acquire("c", T0, T0 + LEASE)
        assert claim.holder is not None
        assert claims.release(claim.holder)
    store.commit([Write("merge", "claims", "c", {"generation": 0})])


def test_a_lagging_hint_costs_reads_not_the_claim() -> None:
    store = MemoryStore()
    _generations(store, 10)
    claim = book(store).acquire("c", T0, T0 + LEASE)
    assert claim.state is ClaimState.ACQUIRED
    assert claim.holder is not None
    assert claim.holder.generation == 10


def test_a_hint_far_behind_answers_busy_once_then_lets_the_claim_go() -> None:
    store = MemoryStore()
    count = PROBE_WINDOW * MAX_PROBES + 5
    _generations(store, count)
    answers = []
    for _ in range(3):
        claim = book(store).acquire("c", T0, T0 + LEASE)
        answers.append(claim.state)
        if claim.state is ClaimState.ACQUIRED:
            assert claim.holder is not None
            assert claim.holder.generation == count
            break
    assert answers == [ClaimState.BUSY, ClaimState.ACQUIRED]


class _BeforeCreate(MemoryStore):
    """A MemoryStore that runs `hook` just before the create of one document."""

    def __init__(self, doc_id: str) -> None:
        super().__init__()
        self.doc_id = doc_id
        self.hook: Callable[[], None] = lambda: None

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        if doc_id == self.doc_id:
            self.hook()
        return super().create(collection, doc_id, data)


def test_a_takeover_that_finds_the_work_finished_adopts_the_result() -> None:
    """The displaced holder finishes between the successor's probe and its create: created, then read."""
    store = _BeforeCreate(generation_id("c", 1))
    claims = book(store)
    first = claims.acquire("c", T0, T0 + LEASE)
    holder = first.holder
    assert holder is not None
    finished: list[bool] = []
    store.hook = lambda: finished.append(claims.finish(holder, result="sent", reference="r1"))
    late = claims.acquire("c", LATE, LATE + LEASE)
    assert finished == [True]
    assert late.state is ClaimState.FINISHED
    assert late.document["reference"] == "r1"
    adopted = store.get("claims", generation_id("c", 1))
    assert adopted is not None
    assert adopted["status"] == "finished"
    assert adopted["adopted_from"] == 0
    assert claims.acquire("c", LATE + 2 * LEASE, LATE + 3 * LEASE).state is ClaimState.FINISHED


def test_a_generation_number_reused_after_ttl_removed_it_is_safe_from_its_old_holder() -> None:
    """TTL removed an expired, head-less generation and a newcomer created that number again."""
    store = MemoryStore()
    claims = book(store)
    old = claims.acquire("c", T0, T0 + LEASE).holder
    store.commit([Write("delete", "claims", generation_id("c", 0))])  # what Firestore's TTL does, later
    new = claims.acquire("c", LATE, LATE + LEASE).holder
    assert old is not None
    assert new is not None
    assert old.generation == new.generation == 0
    assert claims.release(old) is False
    assert claims.finish(old, result="sent") is False
    assert claims.acquire("c", LATE, LATE + LEASE).state is ClaimState.BUSY
    assert claims.release(new) is True


def test_generation_numbers_only_grow_even_after_ttl_removed_the_newest() -> None:
    store = MemoryStore()
    claims = book(store)
    for _ in range(3):
        holder = claims.acquire("c", T0, T0 + LEASE).holder
        assert holder is not None
        assert claims.release(holder)
    store.commit([Write("delete", "claims", generation_id("c", n)) for n in range(3)])  # TTL, a day later
    again = claims.acquire("c", LATE, LATE + LEASE).holder
    assert again is not None
    assert again.generation == 3


def test_a_finished_claim_seen_again_costs_one_read() -> None:
    store = MemoryStore()
    claims = Claims(store, LEASE)
    claims.acquire("c", T0, {"kind": "action"})
    claims.finish("c", "sent", reference="r")
    before = store.stats.snapshot()
    retry = Claims(store, LEASE)
    claim = retry.acquire("c", LATE, {"kind": "action"}, retry.lookup(["c"]).get("c"))
    assert claim.state is ClaimState.FINISHED
    assert claim.document["reference"] == "r"
    assert store.stats.rpcs - before["rpcs"] == 1


def test_every_claim_document_carries_expires_at_and_lease_heads_are_kept() -> None:
    store = MemoryStore()
    claims = book(store)
    first = claims.acquire("c", T0, T0 + LEASE)
    second = claims.acquire("c", LATE, LATE + LEASE)
    assert first.holder is not None
    assert second.holder is not None
    claims.finish(second.holder, result="sent")
    lease = leases.claim(store, "planner", T0, T0 + LEASE)
    assert lease is not None
    assert leases.release(store, lease)
    for doc_id, document in store.query("claims"):
        assert "expires_at" in document, doc_id
    lease_documents = dict(store.query(leases.LEASES))
    assert "expires_at" not in lease_documents["planner"]
    assert lease_documents["planner.g0"]["expires_at"] == T0 + leases.LEASE_RETENTION


# ---- the dispatch facade -----------------------------------------------------------------------------


def test_a_delivery_releases_and_finishes_only_what_it_holds(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    slow, fast = Claims(store, LEASE), Claims(store, LEASE)
    assert slow.acquire("c", T0, {"kind": "action"}).state is ClaimState.ACQUIRED
    assert fast.release("c", T0, "never held") is False
    assert fast.acquire("c", LATE, {"kind": "action"}).state is ClaimState.ACQUIRED
    with caplog.at_level(logging.WARNING):
        assert slow.finish("c", "sent", reference="late") is False
    assert [getattr(record, "event", None) for record in caplog.records] == ["claim_superseded"]
    assert fast.finish("c", "sent", reference="r2") is True
    assert Claims(store, LEASE).acquire("c", LATE, {"kind": "action"}).document["reference"] == "r2"
    assert store.get(CLAIMS, "c") is not None
