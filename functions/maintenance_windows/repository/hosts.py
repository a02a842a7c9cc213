"""The `hosts` and `policies` collections: what Fleet told us is failing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from maintenance_windows.domain.failing_policies import HostSighting, PolicySnapshot
from maintenance_windows.domain.host_cases import HostCase, HostStatus, SeenWindow, record_sighting
from maintenance_windows.ports.store import Document, DocumentStore, Filter, Write

HOSTS = "hosts"
POLICIES = "policies"
# Fields the webhook owns; other writers (planner, dispatcher) merge only their own fields.
_WEBHOOK_FIELDS = (
    "host_id",
    "hostname",
    "display_name",
    "url",
    "reported_team_id",
    "status",
    "failing_policy_ids",
    "policy_seen",
    "first_seen",
    "last_seen",
    "closed_at",
)


@dataclass(frozen=True)
class IngestCounts:
    hosts_new: int
    hosts_updated: int
    hosts_unchanged: int
    policy_updated: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts_new": self.hosts_new,
            "hosts_updated": self.hosts_updated,
            "hosts_unchanged": self.hosts_unchanged,
            "policy_updated": self.policy_updated,
        }


def host_to_document(case: HostCase) -> Document:
    return {
        "host_id": case.host_id,
        "hostname": case.hostname,
        "display_name": case.display_name,
        "url": case.url,
        "reported_team_id": case.reported_team_id,
        "status": case.status.value,
        "failing_policy_ids": list(case.failing_policy_ids),
        "policy_seen": {
            str(policy): {"first_seen": seen.first_seen, "last_seen": seen.last_seen}
            for policy, seen in case.policy_seen.items()
        },
        "first_seen": case.first_seen,
        "last_seen": case.last_seen,
        "closed_at": case.closed_at,
    }


def host_from_document(document: Document) -> HostCase:
    return HostCase(
        host_id=int(document["host_id"]),
        hostname=document.get("hostname", ""),
        display_name=document.get("display_name", ""),
        url=document.get("url", ""),
        reported_team_id=document.get("reported_team_id"),
        status=HostStatus(document.get("status", HostStatus.FAILING.value)),
        failing_policy_ids=tuple(int(p) for p in document.get("failing_policy_ids", [])),
        policy_seen={
            int(policy): SeenWindow(seen["first_seen"], seen["last_seen"])
            for policy, seen in document.get("policy_seen", {}).items()
        },
        first_seen=document["first_seen"],
        last_seen=document["last_seen"],
        closed_at=document.get("closed_at"),
        extra={key: value for key, value in document.items() if key not in _WEBHOOK_FIELDS},
    )


def policy_to_document(policy: PolicySnapshot) -> Document:
    return {
        "policy_id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "resolution": policy.resolution,
        "platform": policy.platform,
        "critical": policy.critical,
        "team_id": policy.team_id,
        "calendar_events_enabled": policy.calendar_events_enabled,
        "seen_at": policy.seen_at,
    }


def record_failures(store: DocumentStore, policy: PolicySnapshot, sightings: Sequence[HostSighting]) -> IngestCounts:
    """Store the policy snapshot and fold each sighting into its host case.

    Reads first (one batched get per call), then writes only what changed, so a redelivered payload
    costs its reads and no writes.
    """
    existing_policy = store.get(POLICIES, str(policy.policy_id))
    writes: list[Write] = []
    policy_updated = _policy_is_newer(existing_policy, policy)
    if policy_updated:
        writes.append(Write("set", POLICIES, str(policy.policy_id), policy_to_document(policy)))
    stored = store.get_many(HOSTS, [str(s.host_id) for s in sightings])
    new = updated = unchanged = 0
    for sighting in sightings:
        document = stored.get(str(sighting.host_id))
        before = host_from_document(document) if document else None
        after = record_sighting(before, sighting)
        if before is None:
            new += 1
        elif after == before:
            unchanged += 1
            continue
        else:
            updated += 1
        writes.append(Write("merge", HOSTS, str(sighting.host_id), host_to_document(after)))
    store.commit(writes)
    return IngestCounts(new, updated, unchanged, policy_updated)


def _policy_is_newer(existing: Document | None, policy: PolicySnapshot) -> bool:
    if existing is None:
        return True
    if existing.get("seen_at") and existing["seen_at"] > policy.seen_at:
        return False
    return policy_to_document(policy) != existing


def failing_hosts(store: DocumentStore) -> list[HostCase]:
    return [host_from_document(doc) for _, doc in store.query(HOSTS, [Filter("status", "==", "failing")])]


def all_hosts(store: DocumentStore) -> list[HostCase]:
    return [host_from_document(doc) for _, doc in store.query(HOSTS)]


def policies_by_id(store: DocumentStore, policy_ids: Sequence[int]) -> dict[int, Document]:
    found = store.get_many(POLICIES, [str(p) for p in sorted(set(policy_ids))])
    return {int(doc_id): doc for doc_id, doc in found.items()}


def calendar_problem_write(host_id: int, problem: str | None) -> Write:
    """Why the host's owner cannot be booked for now (their calendar refused us); None clears it."""
    return Write("merge", HOSTS, str(host_id), {"calendar_problem": problem})
