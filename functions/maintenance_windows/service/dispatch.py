"""Dispatch: the window's start (dispatch), the re-check before it (recheck), and verification after it.

Every delivery may be repeated (Cloud Tasks is at-least-once; the local emulator even runs duplicate
names), so each step is guarded: the window's revision and state first (a stale task raises NothingToDo),
then a claim per action (see dispatch_context). A Fleet outage raises RetryLater, which the handler answers
with 503 so that Cloud Tasks retries; the retry sends only what is not sent yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.ids import claim_id, task_name
from maintenance_windows.domain.remediation import (
    MdmCommandAction,
    OsUpdateAction,
    PlannedAction,
    ScriptAction,
    SoftwareInstallAction,
    failing_window_policies,
    plan_actions,
)
from maintenance_windows.domain.rules import TeamRules
from maintenance_windows.domain.task_schedule import TaskSpec, dispatch_task, verify_task
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.fleet import ActionReceipt, FleetError, FleetNotFound, FleetUnavailable
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.claims import Claim, ClaimState
from maintenance_windows.service.dispatch_context import (
    Claims,
    DispatchContext,
    TaskBody,
    current_window,
    window_write,
)
from maintenance_windows.service.errors import RetryLater
from maintenance_windows.service.verification import VerifyOutcome, host_case_writes, verify

logger = get_logger(__name__)

#: Fleet answers 409 to an Apple command whose CommandUUID it already holds: our earlier send got through.
_ALREADY_QUEUED = 409


@dataclass(frozen=True)
class Rescheduled:
    task: str
    created: bool
    purpose: str
    status: str = "rescheduled"


@dataclass(frozen=True)
class Dispatched:
    status: str  # dispatched, or verified when no host fails any more
    window_id: str
    actions_sent: int
    actions_already_sent: int
    actions_failed: int
    hosts_failing: int
    hosts_passing: int
    hosts_missing: int
    webhooks_sent: int


TaskOutcome = Rescheduled | Dispatched | VerifyOutcome


def run_task(ctx: DispatchContext, body: TaskBody) -> TaskOutcome:
    """The step the task names. Raises NothingToDo (the task no longer applies) or RetryLater."""
    if body.purpose == "dispatch":
        return dispatch(ctx, body)
    if body.purpose == "recheck":
        return recheck(ctx, body)
    return verify(ctx, body)


# -- recheck ---------------------------------------------------------------------------------------


def recheck(ctx: DispatchContext, body: TaskBody) -> Rescheduled:
    """The window was beyond the queue's 720 h horizon when booked: schedule the next step now."""
    window = current_window(ctx, body, WindowState.SCHEDULED)
    now = ctx.clock()
    spec = dispatch_task(window, now)
    if spec.payload["purpose"] == "recheck":  # still too far: chain another, under a name of its own
        attempt = body.attempt + 1
        spec = TaskSpec(task_name(window.window_id, window.revision, f"recheck{attempt}"), spec.at,
                        {**spec.payload, "attempt": attempt})  # fmt: skip
    created = ctx.tasks.schedule(spec.name, spec.at, spec.payload)
    noted = window_states.note(window, now, "task_rescheduled", f"task {spec.name} at {spec.at.isoformat()}",
                               task_name=spec.name)  # fmt: skip
    ctx.store.commit([window_write(noted)])
    return Rescheduled(spec.name, created, spec.payload["purpose"])


# -- dispatch --------------------------------------------------------------------------------------


@dataclass
class ActionResult:
    planned: PlannedAction
    outcome: str  # sent | already_sent | failed
    reference: str | None = None
    problem: str | None = None


@dataclass
class DispatchRun:
    """One delivery's work on one window; the fields fill in as it goes."""

    ctx: DispatchContext
    window: Window
    rules: TeamRules
    now: datetime
    claims: Claims
    hosts: list[FleetHost] = field(default_factory=list)
    missing_hosts: list[int] = field(default_factory=list)
    results: list[ActionResult] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    webhooks_sent: int = 0

    @property
    def failing_hosts(self) -> list[FleetHost]:
        return [host for host in self.hosts if failing_window_policies(self.window, host)]


def dispatch(ctx: DispatchContext, body: TaskBody) -> Dispatched:
    window = current_window(ctx, body, WindowState.SCHEDULED)
    now = ctx.clock()
    run = DispatchRun(ctx, window, ctx.teams.rules_for(window.team_id), now, Claims(ctx.store, ctx.options.claim_lease))
    first = run.claims.mark_first(claim_id("dispatch", window.window_id, window.revision), now,
                                  {"kind": "dispatch", "window_id": window.window_id})  # fmt: skip
    try:
        _read_hosts(run)
        _send_actions(run, plan_actions(window, run.failing_hosts, run.rules.actions))
        _send_webhooks(run)
    except FleetUnavailable as outage:
        log(logger, logging.ERROR, "dispatch interrupted by a Fleet outage; Cloud Tasks retries",
            event="dispatch_failed", window_id=window.window_id, retrying=True, error=str(outage))  # fmt: skip
        raise RetryLater(f"Fleet is unavailable; the retry sends what is left: {outage}") from outage
    if run.busy:
        raise RetryLater("another delivery is sending this window's actions", claims=run.busy)
    return _finish(run, resumed=not first)


def _read_hosts(run: DispatchRun) -> None:
    for host_id in run.window.host_ids:
        try:
            run.hosts.append(run.ctx.fleet.get_host(host_id))
        except FleetNotFound:
            run.missing_hosts.append(host_id)


def _send_actions(run: DispatchRun, planned: Sequence[PlannedAction]) -> None:
    known = run.claims.lookup([action.claim_id for action in planned])
    for action in planned:
        fields = {"kind": "action", "window_id": action.window_id, "key": action.key}
        claim = run.claims.acquire(action.claim_id, run.now, fields, known.get(action.claim_id))
        if claim.state is ClaimState.ACQUIRED:
            run.results.append(_send(run, action))
        elif claim.state is ClaimState.FINISHED:
            run.results.append(_earlier_result(action, claim))
        else:
            run.busy.append(action.key)


def _send(run: DispatchRun, action: PlannedAction) -> ActionResult:
    try:
        receipt = _call_fleet(run, action)
    except FleetUnavailable as outage:
        run.claims.release(action.claim_id, run.ctx.clock(), str(outage))
        raise
    except FleetError as refused:
        if refused.status == _ALREADY_QUEUED and isinstance(action.action, MdmCommandAction | OsUpdateAction):
            receipt = ActionReceipt(kind=action.action.type, reference=action.command_uuid)
        else:
            return _refused(run, action, refused)
    run.claims.finish(action.claim_id, "sent", sent_at=run.ctx.clock(), receipt_kind=receipt.kind,
                      reference=receipt.reference)  # fmt: skip
    log(logger, logging.INFO, "action sent", event="action_sent", window_id=action.window_id,
        action=action.describe(), reference=receipt.reference)  # fmt: skip
    return ActionResult(action, "sent", receipt.reference)


def _refused(run: DispatchRun, action: PlannedAction, refused: FleetError) -> ActionResult:
    """Fleet refused the action for good (unknown script, MDM off...): retrying cannot help."""
    problem = str(refused)[:300]
    run.claims.finish(action.claim_id, "failed", failed_at=run.ctx.clock(), problem=problem)
    log(logger, logging.ERROR, "Fleet refused an action", event="dispatch_failed", window_id=action.window_id,
        action=action.describe(), status=refused.status, retrying=False, error=problem)  # fmt: skip
    return ActionResult(action, "failed", problem=problem)


def _call_fleet(run: DispatchRun, planned: PlannedAction) -> ActionReceipt:
    fleet, action = run.ctx.fleet, planned.action
    if isinstance(action, MdmCommandAction | OsUpdateAction):
        receipt = fleet.run_mdm_command(planned.command_base64(), [planned.host_uuid])
        # Fleet's answer names the command by the id we chose; keep ours if it says nothing.
        return ActionReceipt(receipt.kind, receipt.reference or planned.command_uuid, receipt.raw)
    if isinstance(action, ScriptAction):
        return fleet.run_script(planned.host_id, script_id=action.script_id, script_name=action.script_name,
                                team_id=planned.team_id)  # fmt: skip
    if isinstance(action, SoftwareInstallAction):
        return fleet.install_software(planned.host_id, action.software_title_id)
    fleet.refetch(planned.host_id)
    return ActionReceipt(kind="refetch", reference=None)


def _earlier_result(action: PlannedAction, claim: Claim) -> ActionResult:
    if claim.document.get("result") == "failed":
        return ActionResult(action, "failed", problem=claim.document.get("problem"))
    return ActionResult(action, "already_sent", claim.document.get("reference"))


def _send_webhooks(run: DispatchRun) -> None:
    """Fleet's own calendar webhook, for flows (e.g. Tines) built on it: one per failing host, once."""
    url = run.rules.compatible_webhook_url
    if not url:
        return
    claims = {host.host_id: claim_id("webhook", run.window.window_id, run.window.revision, host.host_id)
              for host in run.failing_hosts}  # fmt: skip
    known = run.claims.lookup(list(claims.values()))
    for host in run.failing_hosts:
        fields = {"kind": "webhook", "window_id": run.window.window_id, "host_id": host.host_id}
        claim = run.claims.acquire(claims[host.host_id], run.now, fields, known.get(claims[host.host_id]))
        if claim.state is ClaimState.BUSY:
            run.busy.append(f"webhook/h{host.host_id}")
        elif claim.state is ClaimState.ACQUIRED:
            _post_webhook(run, url, host, claim.claim_id)


def _post_webhook(run: DispatchRun, url: str, host: FleetHost, claim: str) -> None:
    try:
        run.ctx.fleet.post_calendar_webhook(url, calendar_webhook_payload(run.window, host, run.now))
    except FleetUnavailable as outage:
        run.claims.release(claim, run.ctx.clock(), str(outage))
        raise
    except FleetError as refused:
        run.claims.finish(claim, "failed", problem=str(refused)[:300])
        log(logger, logging.ERROR, "calendar webhook refused", event="dispatch_failed",
            window_id=run.window.window_id, host_id=host.host_id, retrying=False, status=refused.status)  # fmt: skip
        return
    run.claims.finish(claim, "sent", sent_at=run.ctx.clock())
    run.webhooks_sent += 1


def calendar_webhook_payload(window: Window, host: FleetHost, now: datetime) -> dict[str, Any]:
    """Exactly the fields of Fleet's CalendarWebhookPayload (server/fleet/calendar.go)."""
    names = {policy.policy_id: policy.name for policy in host.policies}
    return {
        "timestamp": now.isoformat(),
        "host_id": host.host_id,
        "host_display_name": host.display_name,
        "host_serial_number": host.hardware_serial,
        "failing_policies": [{"id": p, "name": names.get(p, "")} for p in failing_window_policies(window, host)],
    }


# -- finishing -------------------------------------------------------------------------------------


def _finish(run: DispatchRun, *, resumed: bool) -> Dispatched:
    """Window → dispatched (verify task first, so a crash before the write only repeats this step).

    When no host fails any more there is nothing to verify later: the window is verified at once.
    """
    window, writes = _dispatched_window(run), host_case_writes(run.ctx.store, run.window, run.hosts, run.now)
    if not run.failing_hosts:
        window = window_states.verified(window, run.now, "no host fails the window's policies any more")
        writes.append(window_records.release_user(window))
    else:
        spec = verify_task(window, timedelta(minutes=run.rules.verify.grace_minutes))
        run.ctx.tasks.schedule(spec.name, spec.at, spec.payload)
        window = window_states.note(window, run.now, "verify_scheduled", f"task {spec.name} at {spec.at.isoformat()}",
                                    verify_task_name=spec.name)  # fmt: skip
    run.ctx.store.commit([*writes, window_write(window)])
    counts = _counts(run)
    log(logger, logging.INFO, "window dispatched", event="window_dispatched", window_id=window.window_id,
        user_key=window.user_key, resumed=resumed, state=window.state.value, **counts)  # fmt: skip
    return Dispatched(window.state.value, window.window_id, **counts)


def _dispatched_window(run: DispatchRun) -> Window:
    window = run.window
    for result in run.results:
        detail = result.planned.describe() + (f" → {result.reference}" if result.reference else "")
        detail += f" ({result.outcome}" + (f": {result.problem})" if result.problem else ")")
        window = window_states.note(window, run.now, f"action_{result.outcome}", detail)
    for host_id in run.missing_hosts:
        window = window_states.note(window, run.now, "host_missing", f"host {host_id} is no longer in Fleet")
    counts = _counts(run)
    summary = (f"{counts['actions_sent'] + counts['actions_already_sent']} actions sent to "
               f"{counts['hosts_failing']} hosts; {counts['hosts_passing']} hosts already pass")  # fmt: skip
    return window_states.dispatched(window, run.now, summary)


def _counts(run: DispatchRun) -> dict[str, int]:
    outcomes = [result.outcome for result in run.results]
    failing = len(run.failing_hosts)
    return {
        "actions_sent": outcomes.count("sent"),
        "actions_already_sent": outcomes.count("already_sent"),
        "actions_failed": outcomes.count("failed"),
        "hosts_failing": failing,
        "hosts_passing": len(run.hosts) - failing,
        "hosts_missing": len(run.missing_hosts),
        "webhooks_sent": run.webhooks_sent,
    }
