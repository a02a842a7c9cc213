"""The claim primitive under races on the Firestore emulator: the unit scenarios, on the real adapter.

The emulator honours no update-time precondition and does not isolate transactions; the protocol uses
neither, only create(). Schedules are drawn (not enumerated: each store call is an RPC here), and a last
test lets ten threads race freely, so the emulator's own concurrency decides the order.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

import pytest

from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.repository import leases
from maintenance_windows.repository.claims import ClaimState
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
from tests.support.interleaving import seeded

pytestmark = pytest.mark.stack

TWO_SCHEDULES = 12
TEN_SCHEDULES = 4
TEN = 10


@pytest.fixture
def names() -> Iterator[str]:
    """A fresh claim id per run: runs share the emulator's collection."""
    return (f"race-{n}" for n in itertools.count())


def test_two_deliveries_for_new_work(store: FirestoreStore, names: Iterator[str]) -> None:
    for seed in range(TWO_SCHEDULES):
        fresh_race(store, next(names), seeded(seed), 2, looked_up=seed % 2 == 1)


@pytest.mark.parametrize("late", LATE_CALLS)
def test_a_former_holder_and_its_successor(store: FirestoreStore, names: Iterator[str], late: LateCall) -> None:
    for seed in range(TWO_SCHEDULES):
        expired_takeover(store, next(names), seeded(seed), 2, late)


@pytest.mark.parametrize("expired_holder", ["none", "crash", "late_release"])
def test_two_contenders_for_a_lease(store: FirestoreStore, names: Iterator[str], expired_holder: ExpiredHolder) -> None:
    for seed in range(TWO_SCHEDULES):
        lease_race(store, next(names), seeded(seed), 2, expired_holder=expired_holder)


def test_ten_deliveries_for_new_work(store: FirestoreStore, names: Iterator[str]) -> None:
    for seed in range(TEN_SCHEDULES):
        fresh_race(store, next(names), seeded(seed), TEN)


@pytest.mark.parametrize("late", LATE_CALLS)
def test_a_former_holder_and_nine_contenders(store: FirestoreStore, names: Iterator[str], late: LateCall) -> None:
    for seed in range(TEN_SCHEDULES):
        expired_takeover(store, next(names), seeded(seed), TEN, late)


def test_ten_contenders_for_a_lease(store: FirestoreStore, names: Iterator[str]) -> None:
    for seed in range(TEN_SCHEDULES):
        lease_race(store, next(names), seeded(seed), TEN, rounds=2, expired_holder="late_release")


def _free_race(contender: Callable[[], bool], count: int) -> list[bool]:
    """`count` threads call `contender` at once (as far as a barrier can make them)."""
    start = threading.Barrier(count)
    results: list[bool] = [False] * count

    def run(index: int) -> None:
        start.wait()
        results[index] = contender()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_ten_threads_take_over_an_expired_lease_once(store: FirestoreStore, names: Iterator[str]) -> None:
    for _ in range(5):
        name = next(names)
        assert leases.claim(store, name, T0, T0 + LEASE) is not None  # then its holder died

        def take(name: str = name) -> bool:
            return leases.claim(store, name, LATE, LATE + LEASE) is not None

        won = _free_race(take, TEN)
        assert won.count(True) == 1, won


def test_ten_threads_take_over_an_expired_claim_once(store: DocumentStore, names: Iterator[str]) -> None:
    for _ in range(5):
        claim_id = next(names)
        assert book(store).acquire(claim_id, T0, T0 + LEASE).state is ClaimState.ACQUIRED  # then it died

        def take(claim_id: str = claim_id) -> bool:
            return book(store).acquire(claim_id, LATE, LATE + LEASE).state is ClaimState.ACQUIRED

        won = _free_race(take, TEN)
        assert won.count(True) == 1, won
