"""Dispatch: the window's start (dispatch), the re-check before it (recheck), and verification after it.

Every delivery may be repeated (Cloud Tasks is at-least-once; the local emulator even runs duplicate
names), so each step is guarded: the window's revision and state first (a stale task raises NothingToDo),
then a claim per action (see dispatch_context). A Fleet outage raises RetryLater, which the handler answers
with 503 so that Cloud Tasks retries; the retry sends only what is not sent yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.attention import RefusedFix, blocked_fields, fix_fingerprint
from maintenance_windows.domain.fleet_answers import Refusal, classify_refusal
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.ids import claim_id
from maintenance_windows.domain.os_updates import HostUpdate, Route, accepts_command
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
from maintenance_windows.domain.task_schedule import (
    TaskSpec,
    dispatch_is_due,
    dispatch_task,
    recheck_is_current,
    recheck_task_name,
    verify_task,
)
from maintenance_windows.domain.verification import as_reported
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import ActionReceipt, FleetError, FleetNotFound, FleetUnavailable
from maintenance_windows.ports.store import Document, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import pauses as pause_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.claims import Claim, ClaimState
from maintenance_windows.service import calendar_webhook
from maintenance_windows.service.calendar_webhook import WebhookPolled
from maintenance_windows.service.dispatch_context import (
    Claims,
    DispatchContext,
    TaskBody,
    current_window,
    no_op,
    window_write,
)
from maintenance_windows.service.errors import RetryLater
from maintenance_windows.service.os_updates import HostFacts
from maintenance_windows.service.verification import (
    LAST_ACTION_AT,
    LAST_ACTION_WINDOW,
    OS_UPDATE,
    VerifyOutcome,
    closing_writes,
    verify,
)

logger = get_logger(__name__)


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
    actions_by_person: int = 0
    webhooks_awaited: int = 0


TaskOutcome = Rescheduled | Dispatched | VerifyOutcome | WebhookPolled


def run_task(ctx: DispatchContext, body: TaskBody) -> TaskOutcome:
    """The step the task names. Raises NothingToDo (the task no longer applies) or RetryLater."""
    if body.purpose == "dispatch":
        return dispatch(ctx, body)
    if body.purpose == "recheck":
        return recheck(ctx, body)
    if body.purpose == "webhook":
        return calendar_webhook.poll(ctx, body)
    return verify(ctx, body)


# -- recheck ---------------------------------------------------------------------------------------


def recheck(ctx: DispatchContext, body: TaskBody) -> Rescheduled:
    """The window was beyond the queue's 720 h horizon when booked: schedule the next step now."""
    window = current_window(ctx, body, WindowState.SCHEDULED)
    if not recheck_is_current(window, body.attempt):
        raise no_op("ignored", body, "this re-check is not the window's current task")
    now = ctx.clock()
    spec = dispatch_task(window, now)
    if spec.payload["purpose"] == "recheck":  # still too far: chain another, under a name of its own
        attempt = body.attempt + 1
        spec = TaskSpec(
            recheck_task_name(window.window_id, window.revision, attempt), spec.at, {**spec.payload, "attempt": attempt}
        )
    created = ctx.tasks.schedule(spec.name, spec.at, spec.payload)
    noted = window_states.note(
        window, now, "task_rescheduled", f"task {spec.name} at {spec.at.isoformat()}", task_name=spec.name
    )
    ctx.store.commit([window_write(noted)])
    return Rescheduled(spec.name, created, spec.payload["purpose"])


# -- dispatch --------------------------------------------------------------------------------------------


@dataclass
class ActionResult:
    planned: PlannedAction
    outcome: str  # sent | already_sent | failed | by_person
    reference: str | None = None
    problem: str | None = None
    at: datetime | None = None  # when Fleet took it (sent, already_sent)


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
    refusals: dict[int, list[RefusedFix]] = field(default_factory=dict)
    #: host → policy → the OS version its os_update must reach (verification compares with it).
    os_targets: dict[int, dict[int, str]] = field(default_factory=dict)
    webhooks_awaited: int = 0

    @property
    def failing_hosts(self) -> list[FleetHost]:
        return [host for host in self.hosts if failing_window_policies(self.window, host)]

    def host(self, host_id: int) -> FleetHost:
        return next(host for host in self.hosts if host.host_id == host_id)


class _BudgetSpent(Exception):
    pass


def dispatch(ctx: DispatchContext, body: TaskBody) -> Dispatched:
    window = current_window(ctx, body, WindowState.SCHEDULED)
    now = ctx.clock()
    _refuse_early(window, body, now)
    _hold_if_paused(ctx, window, body, now)
    run = DispatchRun(ctx, window, ctx.teams.rules_for(window.team_id), now, Claims(ctx.store, ctx.options.claim_lease))
    first = run.claims.mark_first(
        claim_id("dispatch", window.window_id, window.revision),
        now,
        {"kind": "dispatch", "window_id": window.window_id},
    )
    ctx.os_updates.begin()
    try:
        _read_hosts(run)
        _send_actions(run, _route_os_updates(run, plan_actions(window, run.failing_hosts, run.rules.actions)))
        run.webhooks_awaited = calendar_webhook.start(ctx, window, run.rules, run.failing_hosts, now)
    except FleetUnavailable as outage:
        logger.error(
            "dispatch interrupted by a Fleet outage; Cloud Tasks retries",
            event="dispatch_failed",
            window_id=window.window_id,
            retrying=True,
            error=str(outage),
        )
        raise RetryLater(f"Fleet is unavailable; the retry sends what is left: {outage}") from outage
    except _BudgetSpent:
        logger.warning(
            "dispatch used its time; Cloud Tasks retries the rest",
            event="dispatch_failed",
            window_id=window.window_id,
            retrying=True,
            error="delivery budget spent",
        )
        raise RetryLater("this delivery used its time before Cloud Tasks' deadline; the retry sends the rest") from None
    if run.busy:
        raise RetryLater("another delivery is sending this window's actions", claims=run.busy)
    return _finish(run, resumed=not first)


def _refuse_early(window: Window, body: TaskBody, now: datetime) -> None:
    """A dispatch task long before its window's start is no Cloud Tasks delivery: a forged or misrouted
    task (calendar_notifications, a public function, can enqueue). It does nothing, and says so, before
    anything is claimed or sent; the real task still comes at the start."""
    if window.start is None:
        raise no_op("ignored", body, "the window has no start")
    if dispatch_is_due(window, now):
        return
    logger.warning(
        "dispatch task arrived before its window's start; nothing sent",
        event="task_early",
        window_id=window.window_id,
        revision=window.revision,
        start=window.start.isoformat(),
        arrived=now.isoformat(),
    )
    raise no_op("early", body, f"the window starts at {window.start.isoformat()}; nothing is sent before then")


def _hold_if_paused(ctx: DispatchContext, window: Window, body: TaskBody, now: datetime) -> None:
    """Maintenance is paused for the window's team: nothing is sent. The window is put off (a new revision,
    so this task and its retries are no-ops) and the planner books it again once the pause ends."""
    pause = pause_records.pause_of(ctx.store, window.team_id)
    if pause is None:
        return
    ctx.store.commit([window_write(window_states.put_off(window, now, pause.describe()))])
    logger.warning(
        "maintenance paused: window put off, nothing sent",
        event="dispatch_paused",
        window_id=window.window_id,
        team_id=window.team_id,
        pause=pause.scope,
        reason=pause.reason,
    )
    raise no_op("paused", body, f"maintenance is paused ({pause.describe()}); the window is booked again after it")


def _read_hosts(run: DispatchRun) -> None:
    for host_id in run.window.host_ids:
        try:
            run.hosts.append(run.ctx.fleet.get_host(host_id))
        except FleetNotFound:
            run.missing_hosts.append(host_id)


def _route_os_updates(run: DispatchRun, planned: Sequence[PlannedAction]) -> list[PlannedAction]:
    """Each os_update goes the host's way (domain/os_updates.py): ScheduleOSUpdate where the device still
    accepts it, else nothing is sent and the window is the person's. Both are verified by OS version."""
    sendable: list[PlannedAction] = []
    for action in planned:
        if not isinstance(action.action, OsUpdateAction):
            sendable.append(action)
            continue
        host = run.host(action.host_id)
        update = run.ctx.os_updates.host_update(action.action, HostFacts.of_host(host))
        if update.target_version:
            run.os_targets.setdefault(host.host_id, {})[action.policy_id] = update.target_version
        if update.route is Route.PERSON:
            run.results.append(ActionResult(action, "by_person", problem=_person_detail(update, host)))
        else:
            sendable.append(replace(action, action=action.action.resolved(update.target_version)))
    return sendable


def _person_detail(update: HostUpdate, host: FleetHost) -> str:
    if update.platform == "windows":
        why = "Windows updates are installed by the person or by Windows at Fleet's windows_updates deadline"
    elif not accepts_command(update.platform, host.os_version):
        why = f"{host.os_version} no longer accepts ScheduleOSUpdate"
    else:
        why = "Fleet manages this team's OS updates (a declaration), which ScheduleOSUpdate cannot override"
    enforced = update.enforcement
    deadline = (
        f"; Fleet installs {enforced.minimum_version} on {enforced.deadline} at 12:00 device time" if enforced else ""
    )
    return f"the person starts it ({update.steps}): {why}{deadline}"


def _send_actions(run: DispatchRun, planned: Sequence[PlannedAction]) -> None:
    known = run.claims.lookup([action.claim_id for action in planned])
    for action in planned:
        if run.ctx.clock() - run.now >= run.ctx.options.delivery_budget:
            raise _BudgetSpent
        fields = {"kind": "action", "window_id": action.window_id, "key": action.key}
        claim = run.claims.acquire(action.claim_id, run.now, fields, known.get(action.claim_id))
        if claim.state is ClaimState.ACQUIRED:
            run.results.append(_send(run, action))
        elif claim.state is ClaimState.FINISHED:
            run.results.append(_earlier_result(run, action, claim))
        else:
            run.busy.append(action.key)


def _send(run: DispatchRun, action: PlannedAction) -> ActionResult:
    outcome = "sent"
    try:
        receipt = _call_fleet(run, action)
    except FleetUnavailable as outage:
        run.claims.release(action.claim_id, run.ctx.clock(), str(outage))
        raise
    except FleetError as refused:
        if classify_refusal(action.action.type, refused.status, str(refused)) is not Refusal.ALREADY_SENT:
            return _refused(run, action, refused)
        # Our earlier send got through (a resend after a crash or an outage): count it once, as sent before.
        reference = action.command_uuid if isinstance(action.action, MdmCommandAction | OsUpdateAction) else None
        receipt, outcome = ActionReceipt(kind=action.action.type, reference=reference), "already_sent"
    at = run.ctx.clock()
    run.claims.finish(
        action.claim_id,
        "sent",
        sent_at=at,
        receipt_kind=receipt.kind,
        reference=receipt.reference,
        already_queued=outcome == "already_sent",
    )
    logger.info(
        "action sent",
        event="action_sent",
        window_id=action.window_id,
        action=action.describe(),
        reference=receipt.reference,
        outcome=outcome,
    )
    return ActionResult(action, outcome, receipt.reference, at=at)


def _refused(run: DispatchRun, action: PlannedAction, refused: FleetError) -> ActionResult:
    """Fleet refused the action for good (unknown script, MDM off, 402...): retrying cannot help, and
    rebooking the same fix cannot either, so the policy is blocked on the host (domain/attention.py)."""
    problem = str(refused)[:300]
    at = run.ctx.clock()
    run.claims.finish(action.claim_id, "failed", failed_at=at, problem=problem, http_status=refused.status)
    logger.error(
        "Fleet refused an action",
        event="dispatch_failed",
        window_id=action.window_id,
        action=action.describe(),
        status=refused.status,
        retrying=False,
        error=problem,
    )
    _block(run, action, refused.status, problem, at)
    return ActionResult(action, "failed", problem=problem)


def _block(run: DispatchRun, action: PlannedAction, status: int | None, problem: str, at: datetime) -> None:
    host = run.host(action.host_id)
    name = next((p.name for p in host.policies if p.policy_id == action.policy_id), "")
    fix = fix_fingerprint(run.rules.actions, action.policy_id, name, host.platform)
    run.refusals.setdefault(host.host_id, []).append(
        RefusedFix(action.policy_id, name, action.describe(), status, problem, fix, at)
    )


def _call_fleet(run: DispatchRun, planned: PlannedAction) -> ActionReceipt:
    fleet, action = run.ctx.fleet, planned.action
    if isinstance(action, MdmCommandAction | OsUpdateAction):
        receipt = fleet.run_mdm_command(planned.command_base64(), [planned.host_uuid])
        # Fleet's answer names the command by the id we chose; keep ours if it says nothing.
        return ActionReceipt(receipt.kind, receipt.reference or planned.command_uuid, receipt.raw)
    if isinstance(action, ScriptAction):
        return fleet.run_script(
            planned.host_id, script_id=action.script_id, script_name=action.script_name, team_id=planned.team_id
        )
    if isinstance(action, SoftwareInstallAction):
        return fleet.install_software(planned.host_id, action.software_title_id)
    fleet.refetch(planned.host_id)
    return ActionReceipt(kind="refetch", reference=None)


def _earlier_result(run: DispatchRun, action: PlannedAction, claim: Claim) -> ActionResult:
    if claim.document.get("result") == "failed":
        problem = str(claim.document.get("problem") or "")
        _block(run, action, claim.document.get("http_status"), problem, claim.document.get("failed_at") or run.now)
        return ActionResult(action, "failed", problem=problem)
    return ActionResult(action, "already_sent", claim.document.get("reference"), at=claim.document.get("sent_at"))


# -- finishing -------------------------------------------------------------------------------------------


def _finish(run: DispatchRun, *, resumed: bool) -> Dispatched:
    """Window → dispatched (verify task first, so a crash before the write only repeats this step).

    When no host fails any more there is nothing to verify later: the window is verified at once.
    """
    window = _dispatched_window(run)
    writes = _host_writes(run)
    if not run.failing_hosts:
        window = window_states.verified(window, run.now, "no host fails the window's policies any more")
        writes.append(window_records.release_user(window))
    else:
        spec = verify_task(window, timedelta(minutes=run.rules.verify.grace_minutes))
        run.ctx.tasks.schedule(spec.name, spec.at, spec.payload)
        window = window_states.note(
            window,
            run.now,
            "verify_scheduled",
            f"task {spec.name} at {spec.at.isoformat()}",
            verify_task_name=spec.name,
        )
    run.ctx.store.commit([*writes, window_write(window)])
    counts = _counts(run)
    logger.info(
        "window dispatched",
        event="window_dispatched",
        window_id=window.window_id,
        user_key=window.user_key,
        resumed=resumed,
        state=window.state.value,
        **counts,
    )
    return Dispatched(window.state.value, window.window_id, **counts)


def _host_writes(run: DispatchRun) -> list[Write]:
    """Policy cases that pass now marked passing; one merge per host case: when its last action reached
    Fleet and the OS version it must reach (for verification); refused fixes blocked (alerted once, when new)."""
    documents = run.ctx.store.get_many(host_records.HOSTS, [str(host.host_id) for host in run.hosts])
    closing = closing_writes(run.ctx.store, run.window, [as_reported(run.window, host) for host in run.hosts], run.now)
    updates: dict[int, dict[str, Any]] = {}
    for host in run.hosts:
        document = documents.get(str(host.host_id))
        if document is None:
            continue
        fields = _dispatch_fields(run, host, document)
        if fields:
            updates[host.host_id] = fields
    return [
        *closing,
        *(Write("merge", host_records.HOSTS, str(host_id), data) for host_id, data in sorted(updates.items())),
    ]


def _dispatch_fields(run: DispatchRun, host: FleetHost, document: Document) -> dict[str, Any]:
    fields: dict[str, Any] = {"os_version": host.os_version} if host.os_version else {}
    delivered = [r.at for r in run.results if r.planned.host_id == host.host_id and r.at is not None]
    if delivered:
        fields.update({LAST_ACTION_AT: max(delivered), LAST_ACTION_WINDOW: run.window.window_id})
    if host.host_id in run.os_targets:
        targets = {str(policy): version for policy, version in sorted(run.os_targets[host.host_id].items())}
        fields[OS_UPDATE] = {"window_id": run.window.window_id, "targets": targets}
    refusals = run.refusals.get(host.host_id)
    if refusals:
        blocked, new = blocked_fields(document, refusals)
        fields.update(blocked)
        for refusal in new:
            logger.error(
                "host needs attention: Fleet refuses its fix",
                event="host_needs_attention",
                host_id=host.host_id,
                window_id=run.window.window_id,
                policy_id=refusal.policy_id,
                status=refusal.status,
                reason=refusal.reason,
            )
    return fields


def _dispatched_window(run: DispatchRun) -> Window:
    window = run.window
    for result in run.results:
        detail = result.planned.describe() + (f" → {result.reference}" if result.reference else "")
        detail += f" ({result.outcome}" + (f": {result.problem})" if result.problem else ")")
        window = window_states.note(window, run.now, f"action_{result.outcome}", detail)
    for host_id in run.missing_hosts:
        window = window_states.note(window, run.now, "host_missing", f"host {host_id} is no longer in Fleet")
    counts = _counts(run)
    summary = (
        f"{counts['actions_sent'] + counts['actions_already_sent']} actions sent to "
        f"{counts['hosts_failing']} hosts; {counts['hosts_passing']} hosts already pass"
    )
    if counts["actions_by_person"]:
        summary += f"; {counts['actions_by_person']} OS updates are the person's to start"
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
        "actions_by_person": outcomes.count("by_person"),
        "webhooks_awaited": run.webhooks_awaited,
    }
