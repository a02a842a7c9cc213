"""A host as Fleet reports it now: identity, platform, team, OS, whether it is online, and each policy's
latest result together with when the host last ran its policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Fleet's host statuses for a host that has not checked in lately (server/fleet/hosts.go).
OFFLINE_STATUSES = frozenset({"offline", "missing", "mia"})


@dataclass(frozen=True)
class HostPolicy:
    policy_id: int
    name: str
    response: str  # "pass" | "fail" | "" (not run yet)


@dataclass(frozen=True)
class FleetHost:
    host_id: int
    uuid: str
    hardware_serial: str
    platform: str
    team_id: int | None
    display_name: str
    policies: tuple[HostPolicy, ...] = ()
    os_version: str = ""  # e.g. "macOS 27.0", "iPadOS 18.3", "Windows 11 Pro 24H2 10.0.26100.2605"
    status: str = ""  # online | offline | new | missing | mia; "" when Fleet did not say
    #: A refetch is pending: the policy results Fleet holds are from an earlier run.
    refetch_requested: bool = False
    #: When the host last ran its policies (its check-in after a refetch, or on Fleet's policy interval).
    policy_updated_at: datetime | None = None
    #: The names of the Fleet labels the host is a member of (GET /hosts/:id `labels[].name`).
    labels: tuple[str, ...] = ()

    def failing_policy_ids(self) -> set[int]:
        return {p.policy_id for p in self.policies if p.response == "fail"}

    @property
    def offline(self) -> bool:
        return self.status in OFFLINE_STATUSES

    def reported_since(self, moment: datetime) -> bool:
        """Fleet holds policy results the host produced after `moment`, and no refetch is still owed.

        Only such results can say whether something done at `moment` worked: a refetch merely flags the
        host, so right after one Fleet still shows the previous run (server/service/hosts.go RefetchHost)."""
        return not self.refetch_requested and self.policy_updated_at is not None and self.policy_updated_at > moment
