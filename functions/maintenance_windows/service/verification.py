"""Verification after a window: read its hosts, trust only results newer than the fix, decide
(domain/verification.py), ask for reports that are missing, and record the outcome.

A verified or failed window frees the user for a new one; a failure is written on each host's case
(rebook_after, a note for the next window's text, needs_attention after repeated failures). While hosts
owe a fresh report the window stays dispatched: online hosts are looked at again on the team's re-check
schedule, offline ones waited for ("waiting for the device to come online") up to the team's limit.

Each attempt holds a claim, and every outcome is one atomic commit (hosts, window, user), so a repeated
delivery can neither count a failure twice nor half-apply one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.host_cases import PolicyState
from maintenance_windows.domain.ids import claim_id
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.task_schedule import verify_task
from maintenance_windows.domain.verification import (
    Decision,
    HostReport,
    HostState,
    Verdict,
    as_reported,
    decide,
    host_failure,
    host_report,
    newly_passing,
)
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import FleetNotFound, FleetUnavailable
from maintenance_windows.ports.store import Document, DocumentStore, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.claims import ClaimState
from maintenance_windows.service.dispatch_context import (
    Claims,
    DispatchContext,
    TaskBody,
    current_window,
    no_op,
    window_write,
)
from maintenance_windows.service.errors import RetryLater
from maintenance_windows.service.outcomes import with_outcome

logger = get_logger(__name__)
#: Host-case fields dispatch writes for verification: when the host's last action reached Fleet, and
#: which OS version its os_update must reach.
LAST_ACTION_AT = "last_action_at"
LAST_ACTION_WINDOW = "last_action_window_id"
OS_UPDATE = "os_update"


@dataclass(frozen=True)
class Verified:
    window_id: str
    hosts: int
    status: str = "verified"


@dataclass(frozen=True)
class RecheckScheduled:
    window_id: str
    attempt: int
    failing_hosts: list[int]
    waiting_hosts: list[int] = field(default_factory=list)  # online, no fresh result yet
    offline_hosts: list[int] = field(default_factory=list)
    status: str = "recheck"  # or "waiting" (for an offline device)


@dataclass(frozen=True)
class VerificationFailed:
    window_id: str
    failing_hosts: list[int]
    escalated_hosts: list[int]
    verdicts: dict[str, str] = field(default_factory=dict)  # host id → fixed / still failing … / no fresh result
    status: str = "failed"


VerifyOutcome = Verified | RecheckScheduled | VerificationFailed


def verify(ctx: DispatchContext, body: TaskBody) -> VerifyOutcome:
    """One verification look. Raises NothingToDo (it ran before) or RetryLater (busy, Fleet outage)."""
    window = current_window(ctx, body, WindowState.DISPATCHED)
    claims = Claims(ctx.store, ctx.options.claim_lease)
    fields = {"kind": "verify", "window_id": window.window_id, "attempt": body.attempt}
    claim = claims.acquire(claim_id("verify", window.window_id, window.revision, body.attempt), ctx.clock(), fields)
    if claim.state is ClaimState.FINISHED:
        raise no_op("ignored", body, f"verification attempt {body.attempt} already ran")
    if claim.state is ClaimState.BUSY:
        raise RetryLater("another delivery is verifying this window")
    try:
        outcome = _look(ctx, window, body.attempt)
    except FleetUnavailable as outage:
        claims.release(claim.claim_id, ctx.clock(), str(outage))
        logger.error(
            "verification interrupted by a Fleet outage; Cloud Tasks retries",
            event="verify_interrupted",
            window_id=window.window_id,
            error=str(outage),
        )
        raise RetryLater(f"Fleet is unavailable: {outage}") from outage
    claims.finish(claim.claim_id, "done", outcome=outcome.status, finished_at=ctx.clock())
    return outcome


def _look(ctx: DispatchContext, window: Window, attempt: int) -> VerifyOutcome:
    rules = ctx.teams.rules_for(window.team_id)
    now = ctx.clock()
    hosts = read_hosts(ctx, window)
    documents = ctx.store.get_many(host_records.HOSTS, [str(host.host_id) for host in hosts])
    reports = [_report(window, host, documents.get(str(host.host_id))) for host in hosts]
    decision = decide(reports, attempt, rules.verify, first_look(window, rules), now)
    if decision.verdict is Verdict.VERIFIED:
        return _verified(ctx, window, decision, now)
    if decision.verdict is Verdict.FAILED:
        return _failed(ctx, window, decision, documents, rules, now)
    request_reports(ctx, decision.unresolved)
    return _look_again(ctx, window, decision, rules, attempt, now)


def read_hosts(ctx: DispatchContext, window: Window) -> list[FleetHost]:
    """What Fleet holds for each host now (hosts gone from Fleet are left out)."""
    hosts: list[FleetHost] = []
    for host_id in window.host_ids:
        try:
            hosts.append(ctx.fleet.get_host(host_id))
        except FleetNotFound:
            continue
    return hosts


def request_reports(ctx: DispatchContext, reports: Sequence[HostReport]) -> None:
    """Ask for a new report from each unresolved host that owes none yet (Fleet only flags the host; an
    offline one reports when it is back)."""
    for report in reports:
        if not report.host.refetch_requested:
            try:
                ctx.fleet.refetch(report.host.host_id)
            except FleetNotFound:
                continue


def first_look(window: Window, rules: TeamRules) -> datetime:
    assert window.end is not None, "a dispatched window has an end"
    return window.end + timedelta(minutes=rules.verify.grace_minutes)


def _report(window: Window, host: FleetHost, document: Mapping[str, Any] | None) -> HostReport:
    return host_report(window, host, fixed_at(window, document), os_targets(window, document))


def fixed_at(window: Window, document: Mapping[str, Any] | None) -> datetime:
    """When this window's last action for the host reached Fleet; when the window was dispatched (its
    start, as Cloud Tasks delivers it) for a host that was sent nothing."""
    assert window.start is not None, "a dispatched window has a start"
    dispatched = next((entry.at for entry in reversed(window.history) if entry.kind == "dispatched"), window.start)
    if document and document.get(LAST_ACTION_WINDOW) == window.window_id and document.get(LAST_ACTION_AT):
        moment: datetime = document[LAST_ACTION_AT]
        return max(moment, dispatched)
    return dispatched


def os_targets(window: Window, document: Mapping[str, Any] | None) -> dict[int, str]:
    update = (document or {}).get(OS_UPDATE) or {}
    if update.get("window_id") != window.window_id:
        return {}
    return {int(policy): str(version) for policy, version in (update.get("targets") or {}).items() if version}


# -- outcomes --------------------------------------------------------------------------------------------------


def _verified(ctx: DispatchContext, window: Window, decision: Decision, now: datetime) -> Verified:
    done = window_states.verified(window, now, f"all {len(decision.reports)} hosts fixed (fresh results)")
    done = with_outcome(ctx.teams, done, [report.host for report in decision.reports], verified=True)
    closing = closing_writes(ctx.store, window, decision.reports, now)
    ctx.store.commit([*closing, window_write(done), window_records.release_user(done)])
    logger.info(
        "window verified",
        event="window_verified",
        window_id=window.window_id,
        user_key=window.user_key,
        hosts=len(decision.reports),
    )
    return Verified(window.window_id, len(decision.reports))


def _look_again(
    ctx: DispatchContext,
    window: Window,
    decision: Decision,
    rules: TeamRules,
    attempt: int,
    now: datetime,
) -> RecheckScheduled:
    spec = verify_task(window, timedelta(minutes=rules.verify.grace_minutes), attempt + 1)
    assert decision.delay is not None
    at = now + (ctx.options.recheck_delay or decision.delay)
    ctx.tasks.schedule(spec.name, at, spec.payload)
    ids = {state: [r.host.host_id for r in decision.reports if r.state is state] for state in HostState}
    if decision.verdict is Verdict.WAIT_OFFLINE:
        names = ", ".join(f"{r.host.display_name or 'host'} (host {r.host.host_id})" for r in decision.offline)
        assert decision.decide_by is not None
        kind = "verify_waiting"
        detail = (
            f"waiting for the device to come online: {names}; looking again at {at.isoformat()}, "
            f"deciding by {decision.decide_by.isoformat()}"
        )
    else:
        kind = "verify_recheck"
        detail = (
            f"no fresh result yet from hosts {ids[HostState.WAITING]}, still failing "
            f"{ids[HostState.FAILING]}; re-check {attempt + 1} at {at.isoformat()}"
        )
    noted = window_states.note(window, now, kind, detail, verify_task_name=spec.name)
    ctx.store.commit([*closing_writes(ctx.store, window, decision.reports, now), window_write(noted)])
    status = "waiting" if decision.verdict is Verdict.WAIT_OFFLINE else "recheck"
    return RecheckScheduled(
        window.window_id, attempt + 1, ids[HostState.FAILING], ids[HostState.WAITING], ids[HostState.OFFLINE], status
    )


def _failed(
    ctx: DispatchContext,
    window: Window,
    decision: Decision,
    documents: Mapping[str, Document],
    rules: TeamRules,
    now: datetime,
) -> VerificationFailed:
    closing = closing_writes(ctx.store, window, decision.reports, now)
    updates: dict[int, dict[str, Any]] = {}
    escalated: list[int] = []
    verdicts: dict[str, str] = {}
    for report in decision.reports:
        names = {policy.policy_id: policy.name for policy in report.host.policies}
        verdicts[str(report.host.host_id)] = report.verdict(names)
        document = documents.get(str(report.host.host_id))
        if report.state is HostState.FIXED or document is None:
            continue  # fixed, or no case stored for it (deleted by hand): nothing to count against
        fields = failure_fields(document, window, report, rules, now)
        updates[report.host.host_id] = {**updates.get(report.host.host_id, {}), **fields}
        if fields.get("needs_attention"):
            escalated.append(report.host.host_id)
    unresolved = [report.host.host_id for report in decision.unresolved]
    why = "; ".join(f"host {host}: {verdicts[str(host)]}" for host in unresolved)
    done = window_states.failed(window, now, why)
    rebook_after = now + timedelta(hours=rules.verify.rebook_after_hours)
    done = with_outcome(
        ctx.teams,
        done,
        [report.host for report in decision.reports],
        verified=False,
        rebook_after=rebook_after,
        escalated=bool(escalated),
    )
    ctx.store.commit([*closing, *_as_writes(updates), window_write(done), window_records.release_user(done)])
    logger.warning(
        "window failed",
        event="window_failed",
        window_id=window.window_id,
        user_key=window.user_key,
        failing_hosts=unresolved,
        verdicts=verdicts,
    )
    for host_id in escalated:
        logger.warning(
            "host needs attention after repeated failed windows",
            event="host_escalated",
            host_id=host_id,
            window_id=window.window_id,
        )
    return VerificationFailed(window.window_id, unresolved, escalated, verdicts)


def failure_fields(
    document: Mapping[str, Any], window: Window, report: HostReport, rules: TeamRules, now: datetime
) -> dict[str, Any]:
    """The host case's fields for a failed window (merged into its document)."""
    failure = host_failure(int(document.get("failed_windows") or 0), window, report, rules.verify, now)
    fields: dict[str, Any] = {
        "failed_windows": failure.failed_windows,
        "rebook_after": failure.rebook_after,
        "last_failed_window_id": failure.window_id,
        "last_failure_note": failure.note,
    }
    if failure.needs_attention:
        fields["needs_attention"] = True
        fields["attention_reason"] = failure.attention_reason
    return fields


def closing_writes(store: DocumentStore, window: Window, reports: Sequence[HostReport], now: datetime) -> list[Write]:
    """The window's policies that a host's case still counts as failing and that a fresh result shows
    passing, marked passing in the host's policy cases."""
    cases = host_records.policy_cases(store, [report.host.host_id for report in reports], window.policy_ids)
    writes: list[Write] = []
    for report in reports:
        failing = [
            policy
            for (host_id, policy), case in cases.items()
            if host_id == report.host.host_id and case.state is PolicyState.FAILING
        ]
        writes.extend(host_records.passing_writes(report.host.host_id, newly_passing(window, report, failing), now))
    return writes


def host_case_writes(store: DocumentStore, window: Window, hosts: Sequence[FleetHost], now: datetime) -> list[Write]:
    """Dispatch's closing of hosts that pass already, by Fleet's current results."""
    return closing_writes(store, window, [as_reported(window, host) for host in hosts], now)


def _as_writes(updates: Mapping[int, Mapping[str, Any]]) -> list[Write]:
    return [Write("merge", host_records.HOSTS, str(host_id), dict(data)) for host_id, data in sorted(updates.items())]
