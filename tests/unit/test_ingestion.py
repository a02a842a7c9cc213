"""Ingestion on the memory doubles: one document per policy case, no policy lost to a concurrent webhook,
new hosts counted exactly, and large payloads folded in through chunk tasks."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from maintenance_windows.adapters.memory_fleet import MemoryFleet
from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook, HostSighting
from maintenance_windows.domain.ids import ingest_task_name
from maintenance_windows.handlers.dispatch_window import handle_dispatch_window
from maintenance_windows.handlers.http import HttpRequest
from maintenance_windows.ports.store import Document, DocumentExists, Write
from maintenance_windows.ports.tasks import TaskQueueUnavailable
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.service.dispatch_context import DispatchContext
from maintenance_windows.service.errors import Refused, RetryLater
from maintenance_windows.service.ingestion import (
    CHUNK_HOSTS,
    CHUNKS,
    Ingested,
    IngestionContext,
    Queued,
    ingest,
)
from tests.support.world import MONDAY, Clock, webhook_payload


def _webhook(policy_id: int, host_ids: Sequence[int], at: Any = MONDAY) -> FailingPoliciesWebhook:
    return FailingPoliciesWebhook.model_validate(webhook_payload(policy_id, host_ids, at))


def _context(store: MemoryStore | None = None, tasks: MemoryTaskQueue | None = None) -> IngestionContext:
    return IngestionContext(store or MemoryStore(), tasks or MemoryTaskQueue(), Clock(MONDAY))


class ReadTogether(MemoryStore):
    """Every caller's first batched read of policy cases waits for the others': the worst interleaving of
    concurrent webhooks (all read before any writes), every time."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = threading.Barrier(parties, timeout=10)
        self._waited: set[int] = set()

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        found = super().get_many(collection, doc_ids)
        if collection == host_records.HOST_POLICIES and threading.get_ident() not in self._waited:
            self._waited.add(threading.get_ident())
            self._barrier.wait()
        return found


class PartialCommits(MemoryStore):
    """The local emulator's commit: writes applied in order up to the one whose create fails."""

    def commit(self, writes: Sequence[Write]) -> None:
        for write in writes:
            if write.kind == "create" and self.get(write.collection, write.doc_id) is not None:
                raise DocumentExists(write.collection, write.doc_id)
            super().commit([write])


def _concurrently(ctx: IngestionContext, payloads: Sequence[FailingPoliciesWebhook]) -> list[Ingested]:
    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        results = list(pool.map(lambda payload: ingest(ctx, payload), payloads))
    assert all(isinstance(result, Ingested) for result in results)
    return results  # type: ignore[return-value]


def test_twenty_concurrent_webhooks_of_different_policies_keep_every_policy() -> None:
    store = ReadTogether(20)
    _concurrently(_context(store), [_webhook(policy, [7]) for policy in range(1, 21)])
    (case,) = host_records.all_hosts(store)
    assert case.failing_policy_ids == tuple(range(1, 21))


@pytest.mark.parametrize("store_kind", [MemoryStore, PartialCommits])
def test_twenty_identical_concurrent_webhooks_count_each_new_host_once(store_kind: type[MemoryStore]) -> None:
    store = ReadTogether(20) if store_kind is MemoryStore else _partial_read_together(20)
    results = _concurrently(_context(store), [_webhook(1, [1, 2]) for _ in range(20)])
    assert sum(result.counts.hosts_new for result in results) == 2
    assert sum(result.counts.hosts_unchanged for result in results) == 38
    assert [case.failing_policy_ids for case in host_records.all_hosts(store)] == [(1,), (1,)]


def _partial_read_together(parties: int) -> MemoryStore:
    class Both(PartialCommits, ReadTogether):
        pass

    return Both(parties)


def test_a_racing_delivery_with_a_later_timestamp_widens_the_case_it_lost() -> None:
    store = ReadTogether(2)
    earlier = MONDAY - timedelta(hours=1)
    results = _concurrently(_context(store), [_webhook(1, [1], earlier), _webhook(1, [1])])
    assert sorted((r.counts.hosts_new, r.counts.hosts_updated) for r in results) == [(0, 1), (1, 0)]
    (case,) = host_records.all_hosts(store)
    assert (case.first_seen, case.last_seen) == (earlier, MONDAY)


def test_a_redelivery_writes_nothing_and_a_newer_one_only_widens() -> None:
    ctx = _context()
    day_before = MONDAY - timedelta(days=1)
    first = ingest(ctx, _webhook(1, [1, 2], day_before))
    writes = ctx.store.stats.writes
    again = ingest(ctx, _webhook(1, [1, 2], day_before))
    assert isinstance(first, Ingested)
    assert isinstance(again, Ingested)
    assert (again.commits, again.counts.hosts_unchanged, ctx.store.stats.writes) == (0, 2, writes)
    newer = ingest(ctx, _webhook(1, [2, 3]))
    assert isinstance(newer, Ingested)
    assert newer.counts.as_dict() == {"hosts_new": 1, "hosts_updated": 1, "hosts_unchanged": 0}


def test_a_timestamp_in_the_future_is_refused_and_stores_nothing() -> None:
    ctx = _context()
    with pytest.raises(Refused, match="in the future"):
        ingest(ctx, _webhook(1, [1], MONDAY + timedelta(hours=1)))
    assert ctx.store.stats.writes == 0


def _dispatch_ctx(ingestion: IngestionContext) -> DispatchContext:
    return DispatchContext(ingestion.store, MemoryFleet(), ingestion.tasks, parse_teams({}), ingestion.clock)


def _deliver(ctx: DispatchContext, payload: Mapping[str, Any]) -> Any:
    raw = json.dumps(payload).encode()
    return handle_dispatch_window(HttpRequest("POST", {}, {}, raw, "application/json", len(raw)), ctx, None)


def test_a_large_webhook_is_stored_as_chunks_and_one_named_task_per_chunk() -> None:
    tasks = MemoryTaskQueue()
    ctx = _context(tasks=tasks)
    hosts = range(1, 2 * CHUNK_HOSTS + 2)
    queued = ingest(ctx, _webhook(5, list(hosts)))
    assert isinstance(queued, Queued)
    assert (queued.hosts, queued.chunks) == (len(hosts), 3)
    assert host_records.all_hosts(ctx.store) == []  # nothing folded in yet: the answer comes first
    chunk_ids = [f"{queued.delivery_id}-{index:04d}" for index in range(3)]
    assert sorted(task.name for task in tasks.pending()) == sorted(ingest_task_name(c) for c in chunk_ids)
    assert sorted(task.payload["chunk_id"] for task in tasks.pending()) == chunk_ids
    assert [len((ctx.store.get(CHUNKS, c) or {})["host_ids"]) for c in chunk_ids] == [CHUNK_HOSTS, CHUNK_HOSTS, 1]
    # The same payload again names the same chunks and the same tasks (the queue refuses the names).
    again = ingest(ctx, _webhook(5, list(hosts)))
    assert isinstance(again, Queued)
    assert again.delivery_id == queued.delivery_id
    assert len(tasks.created) == 3
    assert len(tasks.rejected) == 3


def test_chunk_tasks_fold_every_host_in_and_repeat_harmlessly() -> None:
    tasks = MemoryTaskQueue()
    ingestion = _context(tasks=tasks)
    hosts = list(range(1, CHUNK_HOSTS + 11))
    ingest(ingestion, _webhook(5, hosts))
    dispatch = _dispatch_ctx(ingestion)
    due = tasks.take_due(MONDAY)
    answers = [_deliver(dispatch, task.payload) for task in due]
    assert [answer.status for answer in answers] == [200, 200]
    assert sum(answer.body["counts"]["hosts_new"] for answer in answers) == len(hosts)
    assert [case.host_id for case in host_records.all_hosts(ingestion.store)] == hosts
    assert ingestion.store.query(CHUNKS) == []  # each chunk deleted once folded in
    repeated = _deliver(dispatch, due[0].payload)  # Cloud Tasks delivers at least once
    assert (repeated.status, repeated.body["status"]) == (200, "ingested_before")


def test_a_chunk_task_killed_before_deleting_its_chunk_redoes_nothing() -> None:
    tasks = MemoryTaskQueue()
    ingestion = _context(tasks=tasks)
    ingest(ingestion, _webhook(5, list(range(1, CHUNK_HOSTS + 2))))
    (first, _) = tasks.take_due(MONDAY)
    chunk = ingestion.store.get(CHUNKS, first.payload["chunk_id"])
    assert chunk is not None
    host_records.record_failures(ingestion.store, [HostSighting(h, 5, chunk["seen_at"]) for h in chunk["host_ids"]])
    answer = _deliver(_dispatch_ctx(ingestion), first.payload)  # the retry after the crash
    assert answer.body["counts"] == {"hosts_new": 0, "hosts_updated": 0, "hosts_unchanged": CHUNK_HOSTS}
    assert answer.body["commits"] == 0


class DownQueue(MemoryTaskQueue):
    def schedule(self, name: str, at: Any, payload: Mapping[str, Any]) -> bool:  # noqa: ARG002  # the port's signature
        raise TaskQueueUnavailable("queue down")


def test_a_queue_outage_is_retry_later_so_fleet_sends_the_hosts_again() -> None:
    ctx = _context(tasks=DownQueue())
    with pytest.raises(RetryLater, match="task queue is unavailable"):
        ingest(ctx, _webhook(5, list(range(1, CHUNK_HOSTS + 2))))


@pytest.mark.parametrize(
    "body",
    [
        {"purpose": "ingest"},
        {"purpose": "ingest", "chunk_id": "../etc"},
        {"purpose": "ingest", "chunk_id": "a", "window_id": "w"},
    ],
)
def test_a_malformed_chunk_task_is_400(body: dict[str, Any]) -> None:
    answer = _deliver(_dispatch_ctx(_context()), body)
    assert answer.status == 400
    assert "invalid task body" in answer.body["error"]


class StaleFirstRead(PartialCommits):
    """The emulator's partial commit, after a first read that missed a case another delivery just created."""

    def __init__(self) -> None:
        super().__init__()
        self.stale = False

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        if self.stale and collection == host_records.HOST_POLICIES:
            self.stale = False
            return {}
        return super().get_many(collection, doc_ids)


def test_a_partly_applied_batch_of_creates_is_counted_exactly() -> None:
    store = StaleFirstRead()
    host_records.record_failures(store, [HostSighting(2, 1, MONDAY)])  # another delivery's case
    store.stale = True
    counts = host_records.record_failures(store, [HostSighting(host, 1, MONDAY) for host in (1, 2, 3)])
    # Host 1 was created by the failed commit itself, host 3 one by one afterwards, host 2 by the other.
    assert counts.as_dict() == {"hosts_new": 2, "hosts_updated": 0, "hosts_unchanged": 1}
    assert [case.host_id for case in host_records.all_hosts(store)] == [1, 2, 3]
