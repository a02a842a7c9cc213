"""The `host_policies`, `hosts` and `policies` collections: what Fleet reported, and what we know of it.

- `host_policies/{host}-{policy}`: one policy case. fleet_webhook creates and widens it; plan_windows and
  dispatch_window mark it passing. Webhooks about different policies never share a document.
- `hosts/{host}`: the owner fields (plan_windows, from Fleet) and the verification fields
  (dispatch_window). The webhook never writes it.
- `policies/{policy}`: Fleet's own text of a policy, read from Fleet's API (service/policy_texts.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maintenance_windows.domain.failing_policies import HostSighting
from maintenance_windows.domain.host_cases import HostCase, PolicyCase, PolicyState, host_case, record_sighting
from maintenance_windows.domain.windows import Window
from maintenance_windows.ports.store import (
    MAX_WRITES_PER_COMMIT,
    Document,
    DocumentExists,
    DocumentStore,
    Filter,
    Write,
)

HOSTS = "hosts"
HOST_POLICIES = "host_policies"
POLICIES = "policies"
#: Batched gets go in slices: the emulator answers one as a single gRPC message of at most 4 MB.
READ_SLICE = 500
#: Marks the commit that created a policy case, so that a writer whose batch of creates failed can tell
#: which documents are its own (the emulator applies a failed commit's writes up to the failing one).
CREATED_BY = "created_by_commit"


@dataclass(frozen=True)
class IngestCounts:
    """Per sighting of a delivery: a policy case it created, one it changed, or one it found as it would
    leave it. `hosts_new` is exact under concurrent deliveries: a case is created by exactly one."""

    hosts_new: int
    hosts_updated: int
    hosts_unchanged: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts_new": self.hosts_new,
            "hosts_updated": self.hosts_updated,
            "hosts_unchanged": self.hosts_unchanged,
        }

    def __add__(self, other: IngestCounts) -> IngestCounts:
        return IngestCounts(
            self.hosts_new + other.hosts_new,
            self.hosts_updated + other.hosts_updated,
            self.hosts_unchanged + other.hosts_unchanged,
        )


def policy_case_id(host_id: int, policy_id: int) -> str:
    return f"{host_id}-{policy_id}"


def policy_case_to_document(case: PolicyCase) -> Document:
    return {
        "host_id": case.host_id,
        "policy_id": case.policy_id,
        "state": case.state.value,
        "first_seen": case.first_seen,
        "last_seen": case.last_seen,
        "passed_at": case.passed_at,
    }


def policy_case_from_document(document: Document) -> PolicyCase:
    return PolicyCase(
        host_id=int(document["host_id"]),
        policy_id=int(document["policy_id"]),
        state=PolicyState(document.get("state", PolicyState.FAILING.value)),
        first_seen=document["first_seen"],
        last_seen=document["last_seen"],
        passed_at=document.get("passed_at"),
    )


def read_many(store: DocumentStore, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for start in range(0, len(doc_ids), READ_SLICE):
        found.update(store.get_many(collection, doc_ids[start : start + READ_SLICE]))
    return found


# --- the webhook's writes ------------------------------------------------------------------------------


def record_failures(store: DocumentStore, sightings: Sequence[HostSighting]) -> IngestCounts:
    """Fold each sighting into its policy case: create the new ones, widen the known ones.

    Reads first (batched), then writes only what changed, so a redelivered payload costs its reads and no
    writes. New cases are created, never set: when two deliveries race for one, exactly one creates it and
    the other folds its sighting into that one.
    """
    by_id = {policy_case_id(s.host_id, s.policy_id): s for s in sightings}
    stored = read_many(store, HOST_POLICIES, list(by_id))
    fresh: list[PolicyCase] = []
    changed: list[PolicyCase] = []
    unchanged = 0
    for doc_id, sighting in by_id.items():
        document = stored.get(doc_id)
        before = policy_case_from_document(document) if document else None
        after = record_sighting(before, sighting)
        if before is None:
            fresh.append(after)
        elif after == before:
            unchanged += 1
        else:
            changed.append(after)
    created, taken = _create(store, fresh)
    if taken:
        now_stored = read_many(store, HOST_POLICIES, [policy_case_id(c.host_id, c.policy_id) for c in taken])
        for case in taken:
            doc_id = policy_case_id(case.host_id, case.policy_id)
            theirs = policy_case_from_document(now_stored[doc_id])
            folded = record_sighting(theirs, by_id[doc_id])
            if folded == theirs:
                unchanged += 1
            else:
                changed.append(folded)
    store.commit(
        [
            Write("merge", HOST_POLICIES, policy_case_id(c.host_id, c.policy_id), policy_case_to_document(c))
            for c in changed
        ]
    )
    return IngestCounts(created, len(changed), unchanged)


def _create(store: DocumentStore, cases: Sequence[PolicyCase]) -> tuple[int, list[PolicyCase]]:
    """(how many we created, the cases another writer created first)."""
    created = 0
    taken: list[PolicyCase] = []
    for start in range(0, len(cases), MAX_WRITES_PER_COMMIT):
        batch = cases[start : start + MAX_WRITES_PER_COMMIT]
        mark = uuid.uuid4().hex
        documents = {
            policy_case_id(c.host_id, c.policy_id): {**policy_case_to_document(c), CREATED_BY: mark} for c in batch
        }
        try:
            store.commit([Write("create", HOST_POLICIES, doc_id, data) for doc_id, data in documents.items()])
            created += len(batch)
            continue
        except DocumentExists:
            pass
        # Someone created one of these since we read: settle the batch one document at a time.
        now_stored = store.get_many(HOST_POLICIES, list(documents))
        for case, (doc_id, data) in zip(batch, documents.items(), strict=True):
            existing = now_stored.get(doc_id)
            if existing is not None and existing.get(CREATED_BY) == mark:
                created += 1  # applied by our failed commit (the emulator's partial commit)
            elif existing is None and store.create(HOST_POLICIES, doc_id, data):
                created += 1
            else:
                taken.append(case)
    return created, taken


# --- the planner's and the verifier's ------------------------------------------------------------------


def passing_writes(host_id: int, policy_ids: Iterable[int], moment: datetime) -> list[Write]:
    """Mark the host's policy cases passing (only the state fields: a webhook's sighting times stay)."""
    return [
        Write(
            "merge",
            HOST_POLICIES,
            policy_case_id(host_id, policy),
            {"state": PolicyState.PASSING.value, "passed_at": moment},
        )
        for policy in sorted(set(policy_ids))
    ]


def failing_hosts(store: DocumentStore) -> list[HostCase]:
    return _host_cases(store, store.query(HOST_POLICIES, [Filter("state", "==", PolicyState.FAILING.value)]))


def all_hosts(store: DocumentStore) -> list[HostCase]:
    return _host_cases(store, store.query(HOST_POLICIES))


def policy_cases(
    store: DocumentStore, host_ids: Iterable[int], policy_ids: Iterable[int]
) -> dict[tuple[int, int], PolicyCase]:
    """The stored cases of these hosts for these policies, by (host, policy)."""
    ids = [policy_case_id(h, p) for h in sorted(set(host_ids)) for p in sorted(set(policy_ids))]
    cases = (policy_case_from_document(document) for document in read_many(store, HOST_POLICIES, ids).values())
    return {(case.host_id, case.policy_id): case for case in cases}


def window_hosts(store: DocumentStore, windows: Iterable[Window]) -> dict[int, Document]:
    """The `hosts` documents of the windows' hosts, each with `failing_policy_ids` derived from its policy
    cases for its windows' policies (read-only: never written back, the list is not stored)."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for window in windows:
        for host_id in window.host_ids:
            wanted[host_id].update(window.policy_ids)
    documents = read_many(store, HOSTS, [str(host_id) for host_id in sorted(wanted)])
    ids = [policy_case_id(h, p) for h in sorted(wanted) for p in sorted(wanted[h])]
    failing: dict[int, list[int]] = defaultdict(list)
    for document in read_many(store, HOST_POLICIES, ids).values():
        case = policy_case_from_document(document)
        if case.state is PolicyState.FAILING:
            failing[case.host_id].append(case.policy_id)
    return {
        int(doc_id): {**document, "failing_policy_ids": sorted(failing[int(doc_id)])}
        for doc_id, document in documents.items()
    }


def _host_cases(store: DocumentStore, rows: Sequence[tuple[str, Document]]) -> list[HostCase]:
    per_host: dict[int, list[PolicyCase]] = defaultdict(list)
    for _, document in rows:
        case = policy_case_from_document(document)
        per_host[case.host_id].append(case)
    extras = read_many(store, HOSTS, [str(host_id) for host_id in sorted(per_host)])
    return [host_case(host_id, per_host[host_id], extras.get(str(host_id))) for host_id in sorted(per_host)]


def policies_by_id(store: DocumentStore, policy_ids: Sequence[int]) -> dict[int, Document]:
    """Fleet's stored text of each policy. Documents without `fetched_at` were written from webhooks by an
    earlier version: they hold the sender's words, never Fleet's, and are not used."""
    found = store.get_many(POLICIES, [str(p) for p in sorted(set(policy_ids))])
    return {int(doc_id): doc for doc_id, doc in found.items() if doc.get("fetched_at")}


def calendar_problem_write(host_id: int, problem: str | None) -> Write:
    """Why the host's owner cannot be booked for now (their calendar refused us); None clears it."""
    return Write("merge", HOSTS, str(host_id), {"calendar_problem": problem})
