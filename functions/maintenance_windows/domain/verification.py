"""The verification decision: did the window fix its hosts, should we look again, or is it decided?

Fleet's policy results are only evidence when the host produced them after the fix: a refetch merely flags
the host, which reports at its next check-in, and an offline host reports nothing. So each host's read is
first judged fresh or not (FleetHost.reported_since the fix's delivery), then:

- FIXED: fresh, and every window policy passes (an OS-update policy passes when the reported OS version
  reaches the target version).
- FAILING: fresh, and some window policy still fails.
- WAITING: online, no fresh result yet. OFFLINE: offline, no fresh result.

Online hosts (WAITING, FAILING: a fix may show only at the next run) are looked at again every
`recheck_minutes`, at most `max_rechecks` times; an OFFLINE host is waited for `offline_wait_hours` after
the first look, looked for every `offline_recheck_minutes`. When no host is left to wait for, the verdict
names why per host: fixed, still failing (which policies), or no fresh result.

A failure is remembered on each host's case: the next window waits `rebook_after_hours`, says why in its
text, and a host that failed `escalate_after_failed_windows` windows needs a person to look at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.os_updates import at_least
from maintenance_windows.domain.remediation import failing_window_policies
from maintenance_windows.domain.rules import VerifyRules
from maintenance_windows.domain.windows import Window


class HostState(StrEnum):
    FIXED = "fixed"
    FAILING = "still_failing"
    WAITING = "waiting"
    OFFLINE = "offline"


@dataclass(frozen=True)
class HostReport:
    host: FleetHost
    state: HostState
    failing: tuple[int, ...] = ()  # the window's policies still failing (fresh results only)
    passing: tuple[int, ...] = ()  # the window's policies shown passing (fresh results only)

    @property
    def fresh(self) -> bool:
        return self.state in (HostState.FIXED, HostState.FAILING)

    def verdict(self, names: Mapping[int, str]) -> str:
        """In words, for the window's history and the answer: why this host counts as it does."""
        if self.state is HostState.FIXED:
            return "fixed"
        if self.state is HostState.FAILING:
            return "still failing " + ", ".join(_named(p, names) for p in self.failing)
        where = "offline" if self.state is HostState.OFFLINE else "online"
        return f"no fresh result (the host is {where} and has not reported since the fix)"


def host_report(
    window: Window, host: FleetHost, fixed_at: datetime, os_targets: Mapping[int, str] | None = None
) -> HostReport:
    """Judge one host's read. `fixed_at`: when the host's last action of this window was delivered to Fleet
    (the window's start when nothing was sent); `os_targets`: policy → OS version its os_update wants."""
    if not host.reported_since(fixed_at):
        return HostReport(host, HostState.OFFLINE if host.offline else HostState.WAITING)
    return as_reported(window, host, os_targets)


def as_reported(window: Window, host: FleetHost, os_targets: Mapping[int, str] | None = None) -> HostReport:
    """The host as Fleet's current results show it, fresh or not (dispatch's "does it still fail?")."""
    targets = {p: target for p, target in (os_targets or {}).items() if p in window.policy_ids}
    by_version = {p: at_least(host.os_version, target) for p, target in targets.items()}
    failing = (set(failing_window_policies(window, host)) - set(targets)) | {
        p for p, ok in by_version.items() if not ok
    }
    reported_pass = {p.policy_id for p in host.policies if p.response == "pass" and p.policy_id not in targets}
    passing = (reported_pass & set(window.policy_ids)) | {p for p, ok in by_version.items() if ok}
    state = HostState.FAILING if failing else HostState.FIXED
    return HostReport(host, state, tuple(sorted(failing)), tuple(sorted(passing)))


class Verdict(StrEnum):
    VERIFIED = "verified"
    RECHECK = "recheck"
    WAIT_OFFLINE = "wait_offline"
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reports: tuple[HostReport, ...]
    delay: timedelta | None = None  # until the next look (RECHECK, WAIT_OFFLINE)
    decide_by: datetime | None = None  # WAIT_OFFLINE: when the window is decided even without the host

    @property
    def unresolved(self) -> tuple[HostReport, ...]:
        return tuple(report for report in self.reports if report.state is not HostState.FIXED)

    @property
    def offline(self) -> tuple[HostReport, ...]:
        return tuple(report for report in self.reports if report.state is HostState.OFFLINE)


def decide(
    reports: Sequence[HostReport], attempt: int, rules: VerifyRules, first_look: datetime, now: datetime
) -> Decision:
    """`attempt` counts looks from 0; `first_look` is when look 0 was due (window end + grace)."""
    found = tuple(reports)
    if all(report.state is HostState.FIXED for report in found):
        return Decision(Verdict.VERIFIED, found)
    online_pending = any(r.state in (HostState.WAITING, HostState.FAILING) for r in found)
    if online_pending and attempt < rules.max_rechecks:
        return Decision(Verdict.RECHECK, found, timedelta(minutes=rules.recheck_minutes))
    decide_by = first_look + timedelta(hours=rules.offline_wait_hours)
    if any(r.state is HostState.OFFLINE for r in found) and now < decide_by:
        delay = min(timedelta(minutes=rules.offline_recheck_minutes), decide_by - now)
        return Decision(Verdict.WAIT_OFFLINE, found, max(delay, timedelta(minutes=1)), decide_by)
    return Decision(Verdict.FAILED, found)


@dataclass(frozen=True)
class HostFailure:
    """What a failed window leaves on a host's case, for the planner's next booking."""

    failed_windows: int
    rebook_after: datetime
    window_id: str
    note: str
    needs_attention: bool
    attention_reason: str | None = None


def host_failure(
    earlier_failures: int, window: Window, report: HostReport, rules: VerifyRules, now: datetime
) -> HostFailure:
    failed_windows = earlier_failures + 1
    names = {policy.policy_id: policy.name for policy in report.host.policies}
    unresolved = report.failing or tuple(failing_window_policies(window, report.host)) or window.policy_ids
    listed = " and ".join(f"“{names.get(p) or f'policy {p}'}”" for p in unresolved)
    if report.state is HostState.FAILING:
        note = f"Your last maintenance window did not fix {listed}, so this is a new attempt."
    else:
        note = (
            f"Your device did not report back after your last maintenance window, so we could not confirm "
            f"it fixed {listed}. This is a new attempt."
        )
    escalate = failed_windows >= rules.escalate_after_failed_windows
    return HostFailure(
        failed_windows=failed_windows,
        rebook_after=now + timedelta(hours=rules.rebook_after_hours),
        window_id=window.window_id,
        note=note,
        needs_attention=escalate,
        attention_reason=f"{failed_windows} maintenance windows did not fix it: {report.verdict(names)}"
        if escalate
        else None,
    )


def newly_passing(window: Window, report: HostReport, failing_before: Iterable[int]) -> set[int]:
    """The window's policies that the host's case still counts as failing and that a fresh result now
    shows fixed (a stale read closes nothing)."""
    return set(report.passing) & set(window.policy_ids) & set(failing_before)


def _named(policy_id: int, names: Mapping[int, str]) -> str:
    return f"“{names[policy_id]}”" if names.get(policy_id) else f"policy {policy_id}"
