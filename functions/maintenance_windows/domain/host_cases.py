"""A host case: one host, the policies it currently fails, and what the product has done about it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from maintenance_windows.domain.failing_policies import HostSighting


class HostStatus(StrEnum):
    FAILING = "failing"
    CLOSED = "closed"  # Fleet reports every policy passing again


@dataclass(frozen=True)
class SeenWindow:
    first_seen: datetime
    last_seen: datetime

    def widened(self, moment: datetime) -> SeenWindow:
        return SeenWindow(min(self.first_seen, moment), max(self.last_seen, moment))


@dataclass(frozen=True)
class HostCase:
    host_id: int
    hostname: str
    display_name: str
    url: str
    reported_team_id: int | None
    status: HostStatus
    failing_policy_ids: tuple[int, ...]
    policy_seen: dict[int, SeenWindow]
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def record_sighting(existing: HostCase | None, sighting: HostSighting) -> HostCase:
    """Fold a webhook sighting into the case. Folding the same sighting twice changes nothing."""
    moment = sighting.seen_at
    if existing is None:
        return HostCase(
            host_id=sighting.host_id,
            hostname=sighting.hostname,
            display_name=sighting.display_name,
            url=sighting.url,
            reported_team_id=sighting.team_id,
            status=HostStatus.FAILING,
            failing_policy_ids=(sighting.policy_id,),
            policy_seen={sighting.policy_id: SeenWindow(moment, moment)},
            first_seen=moment,
            last_seen=moment,
        )
    reopened = existing.status is HostStatus.CLOSED and (existing.closed_at is None or moment > existing.closed_at)
    if existing.status is HostStatus.CLOSED and not reopened:
        return existing  # a late retry of a webhook from before the host passed
    seen = dict(existing.policy_seen)
    previous = seen.get(sighting.policy_id)
    seen[sighting.policy_id] = previous.widened(moment) if previous else SeenWindow(moment, moment)
    failing = set(() if reopened else existing.failing_policy_ids) | {sighting.policy_id}
    newest = moment >= existing.last_seen
    return replace(
        existing,
        hostname=sighting.hostname if newest else existing.hostname,
        display_name=sighting.display_name if newest else existing.display_name,
        url=sighting.url if newest else existing.url,
        reported_team_id=sighting.team_id if newest else existing.reported_team_id,
        status=HostStatus.FAILING,
        failing_policy_ids=tuple(sorted(failing)),
        policy_seen=seen,
        first_seen=min(existing.first_seen, moment),
        last_seen=max(existing.last_seen, moment),
        closed_at=None if reopened else existing.closed_at,
    )


def close_policies(case: HostCase, passing: set[int], moment: datetime) -> HostCase:
    """Drop policies Fleet now reports passing; the case closes when none is left."""
    remaining = tuple(policy for policy in case.failing_policy_ids if policy not in passing)
    if remaining:
        return replace(case, failing_policy_ids=remaining)
    return replace(case, failing_policy_ids=(), status=HostStatus.CLOSED, closed_at=moment)
