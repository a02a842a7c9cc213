"""A host as Fleet reports it now: identity, platform, team and each policy's latest result."""

from __future__ import annotations

from dataclasses import dataclass


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

    def failing_policy_ids(self) -> set[int]:
        return {p.policy_id for p in self.policies if p.response == "fail"}
