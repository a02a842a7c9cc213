"""Hosts that need a person: fixes Fleet refuses for good, and hosts that failed window after window.

A refused fix (an unknown script, a title Fleet does not offer, MDM off, Fleet Free...) would fail the same
way in every new window, so the policy it was for is *blocked* on the host: the host case records Fleet's
own message, `needs_attention` is set, and the planner books no window for that policy until the fix
configured for it changes (a new team file) or the policy passes. The alert is logged once, when the block
is new, not at every planning run.

A block remembers the fix by a fingerprint of the policy's configured actions (for the host's platform),
so editing the entry in the team file is what lifts it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maintenance_windows.domain.remediation import PolicyActions, entry_for

BLOCKED = "blocked_policies"


def fix_fingerprint(entries: Sequence[PolicyActions], policy_id: int, policy_name: str, platform: str | None) -> str:
    """Names the fix configured for the policy on the platform: changes whenever its actions change."""
    entry = entry_for(entries, policy_id, policy_name, platform)
    actions = [action.model_dump(mode="json") for action in entry.actions] if entry else []
    canonical = json.dumps(actions, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RefusedFix:
    policy_id: int
    policy_name: str
    action: str  # PlannedAction.describe()
    status: int | None
    message: str  # Fleet's own words
    fix: str  # fix_fingerprint at the time
    at: datetime

    @property
    def reason(self) -> str:
        name = f"“{self.policy_name}”" if self.policy_name else f"policy {self.policy_id}"
        return f"Fleet refused the fix for {name} ({self.action}): {self.message}"


def blocked_fields(
    document: Mapping[str, Any], refusals: Sequence[RefusedFix]
) -> tuple[dict[str, Any], list[RefusedFix]]:
    """(merge data for the host case, the refusals that are new): a refusal already blocked with the same
    fix is not new, so its alert is not repeated."""
    blocked: dict[str, Any] = {key: dict(value) for key, value in (document.get(BLOCKED) or {}).items()}
    new = [r for r in refusals if (blocked.get(str(r.policy_id)) or {}).get("fix") != r.fix]
    for refusal in refusals:
        blocked[str(refusal.policy_id)] = {
            "fix": refusal.fix,
            "action": refusal.action,
            "status": refusal.status,
            "message": refusal.message,
            "at": refusal.at,
        }
    fields = {BLOCKED: blocked, "needs_attention": True, "attention_reason": refusals[-1].reason[:500]}
    return fields, new


def bookable_policies(
    failing: Sequence[int], blocked: Mapping[str, Mapping[str, Any]] | None, current_fix: Callable[[int], str]
) -> tuple[int, ...]:
    """The failing policies a window may still be booked for: those not blocked with the fix configured now."""
    held = blocked or {}
    return tuple(p for p in failing if str(p) not in held or held[str(p)].get("fix") != current_fix(p))
