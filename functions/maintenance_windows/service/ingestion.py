"""Ingestion: fold one failing-policies webhook into the stored host cases, idempotently.

A redelivered payload finds every case as it would leave it and writes nothing (repository/hosts.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook, sightings_of, snapshot_of
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.repository.hosts import IngestCounts, record_failures

logger = get_logger(__name__)


@dataclass(frozen=True)
class Ingested:
    policy_id: int
    hosts: int
    #: Store commits this delivery cost: 0 for a redelivery that changed nothing.
    commits: int
    counts: IngestCounts


def ingest(store: DocumentStore, payload: FailingPoliciesWebhook) -> Ingested:
    before = store.stats.commits
    counts = record_failures(store, snapshot_of(payload), sightings_of(payload))
    commits = store.stats.commits - before
    logger.info(
        "failing-policy webhook stored",
        event="webhook_stored",
        policy_id=payload.policy.id,
        hosts=len(payload.hosts),
        commits=commits,
        **counts.as_dict(),
    )
    return Ingested(payload.policy.id, len(payload.hosts), commits, counts)
