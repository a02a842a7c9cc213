"""Ingestion: fold a failing-policies webhook into the stored policy cases, idempotently, whatever its size.

The webhook is a trigger: "these hosts may now fail policy N". Only host ids, the policy id and the
moment are kept; the planner confirms each with Fleet and takes every text from Fleet's API.

Fleet waits 30 s for the answer (`PostJSONWithTimeout` in server/webhooks/failing_policies.go) and by
default sends all failing hosts of a policy in one request, so a large payload cannot be stored before
answering. Up to CHUNK_HOSTS hosts are stored at once; a larger payload is cut into chunks, each stored as
a `webhook_chunks` document, and one task per chunk, named after the chunk, is queued to dispatch_window,
which folds the chunk in and deletes it. The answer comes only once every chunk and every task is stored,
so an instance that dies before it loses nothing Fleet will not send again (Fleet keeps the hosts of an
unanswered request for its next run), and one that dies after it loses nothing at all (Cloud Tasks retries
the chunk). The same payload delivered twice names the same chunks and tasks; folding a chunk twice changes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from maintenance_windows.clock import utc_now
from maintenance_windows.domain.failing_policies import (
    FailingPoliciesWebhook,
    HostSighting,
    sightings_of,
    timestamp_problem,
)
from maintenance_windows.domain.ids import ingest_task_name, webhook_chunk_id, webhook_delivery_id
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.store import DocumentStore, Write
from maintenance_windows.ports.tasks import TaskQueue, TaskQueueUnavailable
from maintenance_windows.repository.hosts import IngestCounts, record_failures
from maintenance_windows.service.errors import Refused, RetryLater

logger = get_logger(__name__)

#: Hosts stored inside the webhook's own request, and per chunk task. 1,000 host ids make a document of
#: about 10 KB (Firestore allows 1 MiB) and a task that folds in within a few seconds.
CHUNK_HOSTS = 1_000
CHUNKS = "webhook_chunks"
#: Firestore's TTL policy removes chunks whose task never ran (e.g. a request that failed after storing
#: them); a chunk whose task ran is deleted by it.
CHUNK_RETENTION = timedelta(days=7)
#: Chunk documents per commit: a few hundred KB, well under the emulator's 4 MB message limit.
_CHUNKS_PER_COMMIT = 100
#: Cloud Tasks creates are single calls; a few at once keep a 50-chunk payload's answer well inside 30 s.
_ENQUEUE_THREADS = 8


@dataclass
class IngestionContext:
    store: DocumentStore
    tasks: TaskQueue
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass(frozen=True)
class Ingested:
    """Stored within the request (or by one chunk task)."""

    policy_id: int
    hosts: int
    #: Store commits this delivery cost: 0 for a redelivery that changed nothing.
    commits: int
    counts: IngestCounts


@dataclass(frozen=True)
class Queued:
    """Stored as chunks, each folded in by its own task."""

    policy_id: int
    hosts: int
    chunks: int
    delivery_id: str


class IngestTaskBody(BaseModel):
    """The body of a chunk task (dispatch_window tells it from a window task by its purpose)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: Literal["ingest"]
    chunk_id: str = Field(pattern=r"^[0-9a-f]{20}-[0-9]{4}$")


@dataclass(frozen=True)
class ChunkGone:
    """The chunk was folded in already (a repeated task) or expired."""

    chunk_id: str
    status: str = "ingested_before"


def ingest(ctx: IngestionContext, payload: FailingPoliciesWebhook) -> Ingested | Queued:
    """Store the payload now, or as chunks with their tasks. Raises Refused (the timestamp is in the
    future) or RetryLater (the task queue is unavailable: nothing is acknowledged, Fleet sends again)."""
    problem = timestamp_problem(payload, ctx.clock())
    if problem:
        raise Refused(problem)
    sightings = sightings_of(payload)
    if len(sightings) <= CHUNK_HOSTS:
        return _store_now(ctx.store, payload.policy.id, sightings, event="webhook_stored")
    return _queue_chunks(ctx, payload, sightings)


def ingest_chunk(ctx: IngestionContext, body: IngestTaskBody) -> Ingested | ChunkGone:
    """Fold one stored chunk in, then delete it. Safe to repeat at any point."""
    document = ctx.store.get(CHUNKS, body.chunk_id)
    if document is None:
        logger.info("webhook chunk already ingested", event="chunk_gone", chunk_id=body.chunk_id)
        return ChunkGone(body.chunk_id)
    policy_id, seen_at = int(document["policy_id"]), document["seen_at"]
    sightings = [HostSighting(int(host_id), policy_id, seen_at) for host_id in document["host_ids"]]
    stored = _store_now(ctx.store, policy_id, sightings, event="webhook_chunk_stored", chunk_id=body.chunk_id)
    ctx.store.commit([Write("delete", CHUNKS, body.chunk_id)])
    return stored


def _store_now(
    store: DocumentStore, policy_id: int, sightings: Sequence[HostSighting], *, event: str, **fields: str
) -> Ingested:
    before = store.stats.commits
    counts = record_failures(store, sightings)
    commits = store.stats.commits - before
    logger.info(
        "failing-policy sightings stored",
        event=event,
        policy_id=policy_id,
        hosts=len(sightings),
        commits=commits,
        **counts.as_dict(),
        **fields,
    )
    return Ingested(policy_id, len(sightings), commits, counts)


def _queue_chunks(ctx: IngestionContext, payload: FailingPoliciesWebhook, sightings: Sequence[HostSighting]) -> Queued:
    now = ctx.clock()
    host_ids = [sighting.host_id for sighting in sightings]
    delivery = webhook_delivery_id(payload.policy.id, payload.timestamp.isoformat(), host_ids)
    slices = [host_ids[start : start + CHUNK_HOSTS] for start in range(0, len(host_ids), CHUNK_HOSTS)]
    chunk_ids = [webhook_chunk_id(delivery, index) for index in range(len(slices))]
    writes = [
        Write(
            "set",
            CHUNKS,
            chunk_id,
            {
                "delivery_id": delivery,
                "index": index,
                "chunks": len(slices),
                "policy_id": payload.policy.id,
                "seen_at": payload.timestamp,
                "host_ids": ids,
                "received_at": now,
                "expires_at": now + CHUNK_RETENTION,
            },
        )
        for index, (chunk_id, ids) in enumerate(zip(chunk_ids, slices, strict=True))
    ]
    for start in range(0, len(writes), _CHUNKS_PER_COMMIT):
        ctx.store.commit(writes[start : start + _CHUNKS_PER_COMMIT])

    def enqueue(chunk_id: str) -> bool:
        return ctx.tasks.schedule(ingest_task_name(chunk_id), now, {"purpose": "ingest", "chunk_id": chunk_id})

    try:
        with ThreadPoolExecutor(max_workers=_ENQUEUE_THREADS) as pool:
            created = sum(pool.map(enqueue, chunk_ids))
    except TaskQueueUnavailable as outage:
        logger.error(
            "could not queue every webhook chunk; the webhook is not acknowledged",
            event="webhook_queue_failed",
            policy_id=payload.policy.id,
            delivery_id=delivery,
            error=str(outage),
        )
        raise RetryLater(f"the task queue is unavailable: {outage}") from outage
    logger.info(
        "failing-policy webhook queued in chunks",
        event="webhook_queued",
        policy_id=payload.policy.id,
        hosts=len(host_ids),
        chunks=len(chunk_ids),
        tasks_created=created,
        delivery_id=delivery,
    )
    return Queued(payload.policy.id, len(host_ids), len(chunk_ids), delivery)
