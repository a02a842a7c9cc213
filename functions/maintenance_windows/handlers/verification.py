"""Verification after a window: did the fix work? Verified, re-checked a little later, or failed.

A host reports its policies only after it checked in, so a refetch is asked first and a host that still
fails is looked at again (at most `max_rechecks` times) before the window counts as failed. A failed
window frees the user for a new one, after `rebook_after_hours`, with a note saying why; hosts that
failed `escalate_after_failed_windows` windows are flagged for a person to look at.

Each attempt holds a claim, and every outcome is one atomic commit (hosts, window, user), so a repeated
delivery can neither count a failure twice nor half-apply one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.host_cases import close_policies
from maintenance_windows.domain.ids import claim_id
from maintenance_windows.domain.remediation import failing_window_policies
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.task_schedule import verify_task
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.handlers.dispatch_context import (
    Claims,
    DispatchContext,
    TaskBody,
    current_window,
    no_op,
    window_write,
)
from maintenance_windows.handlers.http import HttpResponse, error
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.fleet import FleetHost, FleetNotFound, FleetUnavailable
from maintenance_windows.ports.store import Document, DocumentStore, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.claims import ClaimState

logger = get_logger(__name__)


def verify(ctx: DispatchContext, body: TaskBody) -> HttpResponse:
    window = current_window(ctx, body, WindowState.DISPATCHED)
    if isinstance(window, HttpResponse):
        return window
    claims = Claims(ctx.store, ctx.options.claim_lease)
    fields = {"kind": "verify", "window_id": window.window_id, "attempt": body.attempt}
    claim = claims.acquire(claim_id("verify", window.window_id, window.revision, body.attempt), ctx.clock(), fields)
    if claim.state is ClaimState.FINISHED:
        return no_op("ignored", body, f"verification attempt {body.attempt} already ran")
    if claim.state is ClaimState.BUSY:
        return error(503, "another delivery is verifying this window")
    try:
        hosts = refetched_hosts(ctx, window)
    except FleetUnavailable as outage:
        claims.release(claim.claim_id, ctx.clock(), str(outage))
        log(logger, logging.ERROR, "verification interrupted by a Fleet outage; Cloud Tasks retries",
            event="verify_interrupted", window_id=window.window_id, error=str(outage))  # fmt: skip
        return error(503, f"Fleet is unavailable: {outage}")
    outcome = _decide(ctx, window, hosts, body.attempt)
    claims.finish(claim.claim_id, "done", outcome=outcome["status"], finished_at=ctx.clock())
    return HttpResponse(200, outcome)


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


def _decide(ctx: DispatchContext, window: Window, hosts: Sequence[FleetHost], attempt: int) -> dict[str, Any]:
    now = ctx.clock()
    rules = ctx.teams.rules_for(window.team_id)
    still_failing = [host for host in hosts if failing_window_policies(window, host)]
    if not still_failing:
        return _verified(ctx, window, hosts, now)
    if attempt < ctx.options.max_rechecks:
        return _recheck_later(ctx, window, hosts, rules, attempt, now)
    return _failed(ctx, window, hosts, rules, now)


def _verified(ctx: DispatchContext, window: Window, hosts: Sequence[FleetHost], now: datetime) -> dict[str, Any]:
    done = window_states.verified(window, now, f"all {len(hosts)} hosts pass the window's policies")
    _, updates = host_case_updates(ctx.store, window, hosts, now)
    ctx.store.commit([*_as_writes(updates), window_write(done), window_records.release_user(done)])
    log(logger, logging.INFO, "window verified", event="window_verified", window_id=window.window_id,
        user_key=window.user_key, hosts=len(hosts))  # fmt: skip
    return {"status": "verified", "window_id": window.window_id, "hosts": len(hosts)}


def _recheck_later(
    ctx: DispatchContext, window: Window, hosts: Sequence[FleetHost], rules: TeamRules, attempt: int, now: datetime
) -> dict[str, Any]:
    spec = verify_task(window, timedelta(minutes=rules.verify.grace_minutes), attempt + 1)
    at = now + ctx.options.recheck_delay
    ctx.tasks.schedule(spec.name, at, spec.payload)
    failing = [host.host_id for host in hosts if failing_window_policies(window, host)]
    noted = window_states.note(window, now, "verify_recheck",
                               f"hosts {failing} still fail; re-check {attempt + 1} at {at.isoformat()}",
                               verify_task_name=spec.name)  # fmt: skip
    _, updates = host_case_updates(ctx.store, window, hosts, now)
    ctx.store.commit([*_as_writes(updates), window_write(noted)])
    return {"status": "recheck", "window_id": window.window_id, "attempt": attempt + 1, "failing_hosts": failing}


def _failed(
    ctx: DispatchContext, window: Window, hosts: Sequence[FleetHost], rules: TeamRules, now: datetime
) -> dict[str, Any]:
    failing = [host for host in hosts if failing_window_policies(window, host)]
    documents, updates = host_case_updates(ctx.store, window, hosts, now)
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
    ctx.store.commit([*_as_writes(updates), window_write(done), window_records.release_user(done)])
    log(logger, logging.WARNING, "window failed", event="window_failed", window_id=window.window_id,
        user_key=window.user_key, failing_hosts=[host.host_id for host in failing])  # fmt: skip
    for host_id in escalated:
        log(logger, logging.WARNING, "host needs attention after repeated failed windows", event="host_escalated",
            host_id=host_id, window_id=window.window_id)  # fmt: skip
    return {"status": "failed", "window_id": window.window_id, "failing_hosts": [h.host_id for h in failing],
            "escalated_hosts": escalated}  # fmt: skip


def failure_fields(
    document: Mapping[str, Any], window: Window, host: FleetHost, rules: TeamRules, now: datetime
) -> dict[str, Any]:
    """What a failed window leaves on the host's case, for the planner's next booking."""
    failed_windows = int(document.get("failed_windows") or 0) + 1
    names = {policy.policy_id: policy.name for policy in host.policies}
    unfixed = " and ".join(f"“{names.get(p) or f'policy {p}'}”" for p in failing_window_policies(window, host))
    fields: dict[str, Any] = {
        "failed_windows": failed_windows,
        "rebook_after": now + timedelta(hours=rules.verify.rebook_after_hours),
        "last_failed_window_id": window.window_id,
        "last_failure_note": f"Your last maintenance window did not fix {unfixed}, so this is a new attempt.",
    }
    if failed_windows >= rules.verify.escalate_after_failed_windows:
        fields["needs_attention"] = True
    return fields


def host_case_updates(
    store: DocumentStore, window: Window, hosts: Sequence[FleetHost], now: datetime
) -> tuple[dict[str, Document], dict[int, dict[str, Any]]]:
    """(stored host documents, merge data per host whose case changed): policies now passing are closed."""
    documents = store.get_many(host_records.HOSTS, [str(host.host_id) for host in hosts])
    updates: dict[int, dict[str, Any]] = {}
    for host in hosts:
        document = documents.get(str(host.host_id))
        if document is None:
            continue
        before = host_records.host_from_document(document)
        passing = {p.policy_id for p in host.policies if p.response == "pass"} & set(window.policy_ids)
        passing &= set(before.failing_policy_ids)
        if not passing:
            continue
        after = close_policies(before, passing, now)
        if after != before:
            updates[host.host_id] = host_records.host_to_document(after)
    return documents, updates


def host_case_writes(store: DocumentStore, window: Window, hosts: Sequence[FleetHost], now: datetime) -> list[Write]:
    return _as_writes(host_case_updates(store, window, hosts, now)[1])


def _as_writes(updates: Mapping[int, Mapping[str, Any]]) -> list[Write]:
    return [Write("merge", host_records.HOSTS, str(host_id), dict(data)) for host_id, data in sorted(updates.items())]
