"""The verification decision: did the window fix its hosts, should we look again, or did it fail?

A host reports its policies only after it checked in, so a host that still fails is looked at again (at
most `max_rechecks` times) before the window counts as failed. A failure is remembered on each host's case:
the next window waits `rebook_after_hours`, says why in its text, and a host that failed
`escalate_after_failed_windows` windows needs a person to look at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.remediation import failing_window_policies
from maintenance_windows.domain.rules import VerifyRules
from maintenance_windows.domain.windows import Window


class Verdict(StrEnum):
    VERIFIED = "verified"
    RECHECK = "recheck"
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    still_failing: tuple[FleetHost, ...]


def decide(window: Window, hosts: Sequence[FleetHost], attempt: int, max_rechecks: int) -> Decision:
    """`hosts` as Fleet reports them after a refetch; `attempt` counts from 0."""
    still_failing = tuple(host for host in hosts if failing_window_policies(window, host))
    if not still_failing:
        return Decision(Verdict.VERIFIED, ())
    if attempt < max_rechecks:
        return Decision(Verdict.RECHECK, still_failing)
    return Decision(Verdict.FAILED, still_failing)


@dataclass(frozen=True)
class HostFailure:
    """What a failed window leaves on a host's case, for the planner's next booking."""

    failed_windows: int
    rebook_after: datetime
    window_id: str
    note: str
    needs_attention: bool


def host_failure(
    earlier_failures: int, window: Window, host: FleetHost, rules: VerifyRules, now: datetime
) -> HostFailure:
    failed_windows = earlier_failures + 1
    names = {policy.policy_id: policy.name for policy in host.policies}
    unfixed = " and ".join(f"“{names.get(p) or f'policy {p}'}”" for p in failing_window_policies(window, host))
    return HostFailure(
        failed_windows=failed_windows,
        rebook_after=now + timedelta(hours=rules.rebook_after_hours),
        window_id=window.window_id,
        note=f"Your last maintenance window did not fix {unfixed}, so this is a new attempt.",
        needs_attention=failed_windows >= rules.escalate_after_failed_windows,
    )


def newly_passing(window: Window, host: FleetHost, failing_before: Iterable[int]) -> set[int]:
    """The window's policies that the host's case still counts as failing and that the host now passes."""
    passing = {policy.policy_id for policy in host.policies if policy.response == "pass"}
    return passing & set(window.policy_ids) & set(failing_before)
