"""Remediation plans: which actions fix which failing policy (filled in by the dispatch work)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PolicyActions(BaseModel):
    """Placeholder schema; the dispatch issue defines the actions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: int | None = None
    policy_name_pattern: str | None = None
