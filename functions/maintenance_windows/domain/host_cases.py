"""Host cases: which policies a host fails, as Fleet reported them, and when.

The stored unit is a policy case: one host and one policy, in its own document. Two webhooks about the
same host but different policies never write the same document, so none can undo the other (no
read-modify-write of a shared list). A host case, the planner's view, is derived from its policy cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from maintenance_windows.domain.failing_policies import HostSighting


class PolicyState(StrEnum):
    FAILING = "failing"
    PASSING = "passing"  # Fleet reports the policy passing again


class HostStatus(StrEnum):
    FAILING = "failing"
    CLOSED = "closed"  # Fleet reports every policy passing again


@dataclass(frozen=True)
class PolicyCase:
    """One host failing (or no longer failing) one policy."""

    host_id: int
    policy_id: int
    state: PolicyState
    #: The current failure's first and latest webhook (a failure after a pass starts a new one).
    first_seen: datetime
    last_seen: datetime
    passed_at: datetime | None = None


def record_sighting(existing: PolicyCase | None, sighting: HostSighting) -> PolicyCase:
    """Fold a webhook sighting into the policy case. Folding the same sighting twice changes nothing."""
    moment = sighting.seen_at
    if existing is None:
        return PolicyCase(sighting.host_id, sighting.policy_id, PolicyState.FAILING, moment, moment)
    if existing.state is PolicyState.PASSING:
        if existing.passed_at is not None and moment <= existing.passed_at:
            return existing  # a late retry of a webhook from before the host passed
        return PolicyCase(existing.host_id, existing.policy_id, PolicyState.FAILING, moment, moment)
    return replace(existing, first_seen=min(existing.first_seen, moment), last_seen=max(existing.last_seen, moment))


def passed(case: PolicyCase, moment: datetime) -> PolicyCase:
    if case.state is PolicyState.PASSING:
        return case
    return replace(case, state=PolicyState.PASSING, passed_at=moment)


@dataclass(frozen=True)
class HostCase:
    """A host, the policies it currently fails, and what the product has done about it (`extra`: the
    owner and verification fields of its `hosts` document)."""

    host_id: int
    status: HostStatus
    failing_policy_ids: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def host_case(host_id: int, policies: Iterable[PolicyCase], extra: Mapping[str, Any] | None = None) -> HostCase:
    """The host's case from its policy cases (at least one): failing while any policy fails."""
    cases = sorted(policies, key=lambda case: case.policy_id)
    if not cases:
        raise ValueError(f"host {host_id} has no policy case")
    failing = [case for case in cases if case.state is PolicyState.FAILING]
    counted = failing or cases
    closed_at = None if failing else max((case.passed_at for case in cases if case.passed_at), default=None)
    return HostCase(
        host_id=host_id,
        status=HostStatus.FAILING if failing else HostStatus.CLOSED,
        failing_policy_ids=tuple(case.policy_id for case in failing),
        first_seen=min(case.first_seen for case in counted),
        last_seen=max(case.last_seen for case in counted),
        closed_at=closed_at,
        extra=dict(extra or {}),
    )


def close_policies(case: HostCase, passing: set[int], moment: datetime) -> HostCase:
    """The case once Fleet reports these policies passing; it closes when none is left failing."""
    remaining = tuple(policy for policy in case.failing_policy_ids if policy not in passing)
    if remaining == case.failing_policy_ids:
        return case
    if remaining:
        return replace(case, failing_policy_ids=remaining)
    return replace(case, failing_policy_ids=(), status=HostStatus.CLOSED, closed_at=moment)
