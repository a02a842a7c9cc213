"""Fleet's failing-policies webhook: its shape, and what we keep of it.

Fleet adds fields over time and sends nulls freely, so the models ignore unknown fields and accept null
wherever Fleet's Go structs use pointers. Both the current payload (fleet_id, type,
conditional_access_enabled) and the v4.48-era one parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
class HostSighting:
    """Fleet says: this host may now fail this policy, as of this moment.

    Nothing else of the webhook is kept: its policy texts and host names are whatever the sender wrote, so
    the event text takes them from Fleet's API instead (service/policy_texts.py, service/owners.py), and
    the planner confirms with Fleet that the host really fails the policy (service/reconcile.py).
    """

    host_id: int
    policy_id: int
    seen_at: datetime


def sightings_of(payload: FailingPoliciesWebhook) -> list[HostSighting]:
    """One sighting per distinct host (Fleet never repeats a host, but a hand-made payload might)."""
    unique = dict.fromkeys(host.id for host in payload.hosts)
    return [HostSighting(host_id, payload.policy.id, payload.timestamp) for host_id in unique]


#: How far ahead of our clock a webhook's timestamp may be (Fleet's clock and ours may differ a little).
MAX_CLOCK_SKEW = timedelta(minutes=5)


def timestamp_problem(payload: FailingPoliciesWebhook, now: datetime) -> str | None:
    """Why the webhook's timestamp cannot be used, or None. A time in the future would order every later,
    genuine sighting as older than it, so it is refused rather than stored."""
    if payload.timestamp > now + MAX_CLOCK_SKEW:
        return (
            f"timestamp {payload.timestamp.isoformat()} is in the future (more than "
            f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes after {now.isoformat(timespec='seconds')})"
        )
    return None
