"""Fleet's failing-policies webhook: its shape, and what we keep of it.

Fleet adds fields over time and sends nulls freely, so the models ignore unknown fields and accept null
wherever Fleet's Go structs use pointers. Both the current payload (fleet_id, type,
conditional_access_enabled) and the v4.48-era one parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from maintenance_windows.domain.intervals import parse_rfc3339


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


#: Fleet's ids are unsigned database ids; Firestore stores 64-bit signed integers.
MAX_ID = 2**63 - 1


class WebhookPolicy(_Lenient):
    id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1)
    query: str | None = None
    description: str | None = None
    resolution: str | None = None
    platform: str | None = None
    team_id: int | None = Field(default=None, ge=0, le=MAX_ID)
    fleet_id: int | None = Field(default=None, ge=0, le=MAX_ID)
    critical: bool | None = None
    calendar_events_enabled: bool | None = None
    type: str | None = None


class WebhookHost(_Lenient):
    id: int = Field(ge=1, le=MAX_ID)
    hostname: str | None = None
    display_name: str | None = None
    url: str | None = None


class FailingPoliciesWebhook(_Lenient):
    timestamp: datetime
    policy: WebhookPolicy
    hosts: list[WebhookHost]

    @field_validator("timestamp", mode="before")
    @classmethod
    def _fleet_timestamp(cls, value: object) -> object:
        # Fleet sends Go's RFC 3339 with nanoseconds, which pydantic refuses; parse it ourselves.
        if isinstance(value, str):
            return parse_rfc3339(value)
        return value


@dataclass(frozen=True)
class PolicySnapshot:
    """The policy as Fleet described it in the latest webhook we saw."""

    policy_id: int
    name: str
    description: str
    resolution: str
    platform: str
    critical: bool
    team_id: int | None
    calendar_events_enabled: bool
    seen_at: datetime


@dataclass(frozen=True)
class HostSighting:
    """One host reported failing one policy at one moment."""

    host_id: int
    hostname: str
    display_name: str
    url: str
    policy_id: int
    team_id: int | None
    seen_at: datetime


def snapshot_of(payload: FailingPoliciesWebhook) -> PolicySnapshot:
    policy = payload.policy
    return PolicySnapshot(
        policy_id=policy.id,
        name=policy.name,
        description=policy.description or "",
        resolution=policy.resolution or "",
        platform=policy.platform or "",
        critical=bool(policy.critical),
        team_id=_team_of(policy),
        calendar_events_enabled=bool(policy.calendar_events_enabled),
        seen_at=payload.timestamp,
    )


def sightings_of(payload: FailingPoliciesWebhook) -> list[HostSighting]:
    """One sighting per distinct host (Fleet never repeats a host, but a hand-made payload might)."""
    team_id = _team_of(payload.policy)
    unique = {host.id: host for host in payload.hosts}
    return [
        HostSighting(
            host_id=host.id,
            hostname=host.hostname or "",
            display_name=host.display_name or host.hostname or f"host {host.id}",
            url=host.url or "",
            policy_id=payload.policy.id,
            team_id=team_id,
            seen_at=payload.timestamp,
        )
        for host in unique.values()
    ]


def _team_of(policy: WebhookPolicy) -> int | None:
    # Newer Fleet names teams "fleets" and sends both ids; older Fleet sends team_id only.
    return policy.team_id if policy.team_id is not None else policy.fleet_id
