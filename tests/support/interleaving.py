"""Run contenders one store call at a time, in an order the test chooses: races made deterministic.

Each contender runs in a greenlet of its own. Every call to the wrapped store first hands control back
to the scheduler, which picks the contender that moves next, so a schedule (the sequence of picks)
determines the whole run. `Exhaustive` enumerates every schedule of a scenario depth-first; `seeded()`
draws schedules from a seeded random generator, for scenarios with too many to enumerate. Greenlets
rather than threads: a switch costs about a microsecond, which is what makes tens of thousands of
schedules per test affordable.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenlet import getcurrent, greenlet

from maintenance_windows.ports.store import Document, DocumentStore, Filter, StoreStats, Write

Chooser = Callable[[Sequence[int]], int]


@dataclass
class Step:
    """One store call, in the order the schedule let them happen."""

    contender: int
    operation: str
    collection: str
    doc_ids: tuple[str, ...]
    result: Any = None


class _Scheduler:
    def __init__(self, chooser: Chooser) -> None:
        self._chooser = chooser
        self._driver = getcurrent()
        self._parked: dict[int, greenlet] = {}
        self.current = -1

    def park(self) -> None:
        """Called by a contender: wait here until the schedule picks it."""
        self._parked[self.current] = getcurrent()
        self._driver.switch()

    def drive(self, contenders: Sequence[greenlet]) -> None:
        for index, contender in enumerate(contenders):  # each runs to its first store call
            self.current = index
            contender.switch()
        while self._parked:
            ready = sorted(self._parked)
            self.current = ready[self._chooser(ready)]
            self._parked.pop(self.current).switch()


class SteppedStore:
    """A DocumentStore whose every call waits for the scheduler's pick, and is recorded."""

    def __init__(self, inner: DocumentStore, scheduler: _Scheduler, steps: list[Step]) -> None:
        self._inner, self._scheduler, self.steps = inner, scheduler, steps
        self.stats: StoreStats = inner.stats

    def _step(self, operation: str, collection: str, doc_ids: Sequence[str], call: Callable[[], Any]) -> Any:
        self._scheduler.park()
        result = call()
        self.steps.append(Step(self._scheduler.current, operation, collection, tuple(doc_ids), result))
        return result

    def get(self, collection: str, doc_id: str) -> Document | None:
        found: Document | None = self._step("get", collection, [doc_id], lambda: self._inner.get(collection, doc_id))
        return found

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        found: dict[str, Document] = self._step(
            "get_many", collection, doc_ids, lambda: self._inner.get_many(collection, doc_ids)
        )
        return found

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        created: bool = self._step("create", collection, [doc_id], lambda: self._inner.create(collection, doc_id, data))
        return created

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        updated: bool = self._step("update", collection, [doc_id], lambda: self._inner.update(collection, doc_id, data))
        return updated

    def commit(self, writes: Sequence[Write]) -> None:
        collection = writes[0].collection if writes else ""
        self._step("commit", collection, [w.doc_id for w in writes], lambda: self._inner.commit(writes))

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        found: list[tuple[str, Document]] = self._step(
            "query", collection, [], lambda: self._inner.query(collection, filters, order_by=order_by, limit=limit)
        )
        return found


@dataclass
class Run:
    results: list[Any]
    steps: list[Step]
    schedule: list[int] = field(default_factory=list)

    def writes_by(self, contender: int) -> list[Step]:
        return [s for s in self.steps if s.contender == contender and s.operation in {"create", "update", "commit"}]


def interleave(store: DocumentStore, contenders: Sequence[Callable[[DocumentStore], Any]], chooser: Chooser) -> Run:
    """Run each contender on a stepped view of `store`, one store call at a time, picked by `chooser`.

    A contender's exception propagates out of here, with the schedule so far in the run's steps.
    """
    picks: list[int] = []

    def recording(ready: Sequence[int]) -> int:
        index = chooser(ready)
        picks.append(ready[index])
        return index

    scheduler = _Scheduler(recording)
    steps: list[Step] = []
    stepped = SteppedStore(store, scheduler, steps)
    results: list[Any] = [None] * len(contenders)

    def body(index: int, contender: Callable[[DocumentStore], Any]) -> Callable[[], None]:
        def run() -> None:
            results[index] = contender(stepped)

        return run

    scheduler.drive([greenlet(body(i, c)) for i, c in enumerate(contenders)])
    return Run(results, steps, picks)


def seeded(seed: int) -> Chooser:
    generator = random.Random(seed)
    return lambda ready: generator.randrange(len(ready))


class Exhaustive:
    """Choosers for every schedule, depth-first, each for one run; at most `limit` of them.

    Run i follows the picks of run i-1 up to the last choice point that still has an untried option,
    takes the next option there, and the first option everywhere after. `complete` tells whether every
    schedule was run (the scenario must be deterministic given its picks).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.runs = 0
        self.complete = False

    def __iter__(self) -> Iterator[Chooser]:
        prefix: list[int] = []
        while self.runs < self.limit:
            taken: list[tuple[int, int]] = []  # (option index, number of options) at each choice point

            def choose(ready: Sequence[int], taken: list[tuple[int, int]] = taken, prefix: list[int] = prefix) -> int:
                depth = len(taken)
                index = prefix[depth] if depth < len(prefix) else 0
                taken.append((index, len(ready)))
                return index

            self.runs += 1
            yield choose
            while taken and taken[-1][0] + 1 >= taken[-1][1]:
                taken.pop()
            if not taken:
                self.complete = True
                return
            prefix = [index for index, _ in taken[:-1]] + [taken[-1][0] + 1]
