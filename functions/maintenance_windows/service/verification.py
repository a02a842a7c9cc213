"""Verification after a window: refetch its hosts, decide (domain/verification.py), and record the outcome.

A verified or failed window frees the user for a new one; a failure is written on each host's case
(rebook_after, a note for the next window's text, needs_attention after repeated failures).

Each attempt holds a claim, and every outcome is one atomic commit (hosts, window, user), so a repeated
delivery can neither count a failure twice nor half-apply one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.host_cases import PolicyState
from maintenance_windows.domain.ids import claim_id
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.task_schedule import verify_task
from maintenance_windows.domain.verification import Verdict, decide, host_failure, newly_passing
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.fleet import FleetNotFound, FleetUnavailable
from maintenance_windows.ports.store import DocumentStore, Write
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

logger = get_logger(__name__)


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
    status: str = "recheck"


@dataclass(frozen=True)
class VerificationFailed:
    window_id: str
    failing_hosts: list[int]
    escalated_hosts: list[int]
    status: str = "failed"


VerifyOutcome = Verified | RecheckScheduled | VerificationFailed


def verify(ctx: DispatchContext, body: TaskBody) -> VerifyOutcome:
    """One verification attempt. Raises NothingToDo (it ran before) or RetryLater (busy, Fleet outage)."""
    window = current_window(ctx, body, WindowState.DISPATCHED)
    claims = Claims(ctx.store, ctx.options.claim_lease)
    fields = {"kind": "verify", "window_id": window.window_id, "attempt": body.attempt}
    claim = claims.acquire(claim_id("verify", window.window_id, window.revision, body.attempt), ctx.clock(), fields)
    if claim.state is ClaimState.FINISHED:
        raise no_op("ignored", body, f"verification attempt {body.attempt} already ran")
    if claim.state is ClaimState.BUSY:
        raise RetryLater("another delivery is verifying this window")
    try:
        hosts = refetched_hosts(ctx, window)
    except FleetUnavailable as outage:
        claims.release(claim.claim_id, ctx.clock(), str(outage))
        log(logger, logging.ERROR, "verification interrupted by a Fleet outage; Cloud Tasks retries",
            event="verify_interrupted", window_id=window.window_id, error=str(outage))  # fmt: skip
        raise RetryLater(f"Fleet is unavailable: {outage}") from outage
    outcome = _decide(ctx, window, hosts, body.attempt)
    claims.finish(claim.claim_id, "done", outcome=outcome.status, finished_at=ctx.clock())
    return outcome


def refetched_hosts(ctx: DispatchContext, window: Window) -> list[FleetHost]:
    """Ask each host to report again, then read what Fleet holds (hosts gone from Fleet are left out)."""
    hosts: list[FleetHost] = []
    for host_id in window.host_ids:
        try:
            ctx.fleet.refetch(host_id)
            hosts.append(ctx.fleet.get_host(host_id))
        except FleetNotFound:
            continue
    return hosts


def _decide(ctx: DispatchContext, window: Window, hosts: Sequence[FleetHost], attempt: int) -> VerifyOutcome:
    now = ctx.clock()
    rules = ctx.teams.rules_for(window.team_id)
    decision = decide(window, hosts, attempt, ctx.options.max_rechecks)
    if decision.verdict is Verdict.VERIFIED:
        return _verified(ctx, window, hosts, now)
    if decision.verdict is Verdict.RECHECK:
        return _recheck_later(ctx, window, hosts, decision.still_failing, rules, attempt, now)
    return _failed(ctx, window, hosts, decision.still_failing, rules, now)


def _verified(ctx: DispatchContext, window: Window, hosts: Sequence[FleetHost], now: datetime) -> Verified:
    done = window_states.verified(window, now, f"all {len(hosts)} hosts pass the window's policies")
    ctx.store.commit([*host_case_writes(ctx.store, window, hosts, now), window_write(done),
                      window_records.release_user(done)])  # fmt: skip
    log(logger, logging.INFO, "window verified", event="window_verified", window_id=window.window_id,
        user_key=window.user_key, hosts=len(hosts))  # fmt: skip
    return Verified(window.window_id, len(hosts))


def _recheck_later(
    ctx: DispatchContext,
    window: Window,
    hosts: Sequence[FleetHost],
    still_failing: Sequence[FleetHost],
    rules: TeamRules,
    attempt: int,
    now: datetime,
) -> RecheckScheduled:
    spec = verify_task(window, timedelta(minutes=rules.verify.grace_minutes), attempt + 1)
    at = now + ctx.options.recheck_delay
    ctx.tasks.schedule(spec.name, at, spec.payload)
    failing = [host.host_id for host in still_failing]
    noted = window_states.note(window, now, "verify_recheck",
                               f"hosts {failing} still fail; re-check {attempt + 1} at {at.isoformat()}",
                               verify_task_name=spec.name)  # fmt: skip
    ctx.store.commit([*host_case_writes(ctx.store, window, hosts, now), window_write(noted)])
    return RecheckScheduled(window.window_id, attempt + 1, failing)


def _failed(
    ctx: DispatchContext,
    window: Window,
    hosts: Sequence[FleetHost],
    failing: Sequence[FleetHost],
    rules: TeamRules,
    now: datetime,
) -> VerificationFailed:
    documents = ctx.store.get_many(host_records.HOSTS, [str(host.host_id) for host in hosts])
    updates: dict[int, dict[str, Any]] = {}
    escalated: list[int] = []
    for host in failing:
        document = documents.get(str(host.host_id))
        if document is None:
            continue  # no case stored for it (deleted by hand): nothing to count against
        fields = failure_fields(document, window, host, rules, now)
        updates[host.host_id] = {**updates.get(host.host_id, {}), **fields}
        if fields.get("needs_attention"):
            escalated.append(host.host_id)
    names = ", ".join(str(host.host_id) for host in failing)
    done = window_states.failed(window, now, f"hosts {names} still fail after the window")
    closing = host_case_writes(ctx.store, window, hosts, now)
    ctx.store.commit([*closing, *_as_writes(updates), window_write(done), window_records.release_user(done)])
    log(logger, logging.WARNING, "window failed", event="window_failed", window_id=window.window_id,
        user_key=window.user_key, failing_hosts=[host.host_id for host in failing])  # fmt: skip
    for host_id in escalated:
        log(logger, logging.WARNING, "host needs attention after repeated failed windows", event="host_escalated",
            host_id=host_id, window_id=window.window_id)  # fmt: skip
    return VerificationFailed(window.window_id, [host.host_id for host in failing], escalated)


def failure_fields(
    document: Mapping[str, Any], window: Window, host: FleetHost, rules: TeamRules, now: datetime
) -> dict[str, Any]:
    """The host case's fields for a failed window (merged into its document)."""
    failure = host_failure(int(document.get("failed_windows") or 0), window, host, rules.verify, now)
    fields: dict[str, Any] = {
        "failed_windows": failure.failed_windows,
        "rebook_after": failure.rebook_after,
        "last_failed_window_id": failure.window_id,
        "last_failure_note": failure.note,
    }
    if failure.needs_attention:
        fields["needs_attention"] = True
    return fields


def host_case_writes(store: DocumentStore, window: Window, hosts: Sequence[FleetHost], now: datetime) -> list[Write]:
    """The window's policies that a host's case still counts as failing and that Fleet now reports passing,
    marked passing."""
    cases = host_records.policy_cases(store, [host.host_id for host in hosts], window.policy_ids)
    writes: list[Write] = []
    for host in hosts:
        failing = [policy for (host_id, policy), case in cases.items()
                   if host_id == host.host_id and case.state is PolicyState.FAILING]  # fmt: skip
        writes.extend(host_records.passing_writes(host.host_id, newly_passing(window, host, failing), now))
    return writes


def _as_writes(updates: Mapping[int, Mapping[str, Any]]) -> list[Write]:
    return [Write("merge", host_records.HOSTS, str(host_id), dict(data)) for host_id, data in sorted(updates.items())]
