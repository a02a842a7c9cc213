"""Reconcile: ask Fleet which stored hosts still fail, close the rest and cancel windows left empty."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.host_cases import HostCase, HostStatus, close_policies
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext

logger = get_logger(__name__)


@dataclass(frozen=True)
class ReconcileResult:
    still_failing: list[HostCase]
    hosts_closed: int
    windows_cancelled: int
    windows_changed: list[Window]


def reconcile(ctx: PlanningContext, cases: Sequence[HostCase], open_windows: Sequence[Window]) -> ReconcileResult:
    now = ctx.clock()
    failing_now = _failing_per_policy(ctx, cases)
    updated: list[HostCase] = []
    writes: list[Write] = []
    for case in cases:
        passing = {policy for policy in case.failing_policy_ids if case.host_id not in failing_now[policy]}
        updated.append(close_policies(case, passing, now) if passing else case)
        writes.extend(host_records.passing_writes(case.host_id, passing, now))
    ctx.store.commit(writes)
    closed = [case for case, before in zip(updated, cases, strict=True) if case != before]
    still = [case for case in updated if case.status is HostStatus.FAILING]
    cancelled, changed = _shrink_windows(ctx, {case.host_id: case for case in still}, open_windows, now)
    return ReconcileResult(still, sum(c.status is HostStatus.CLOSED for c in closed), cancelled, changed)


def _failing_per_policy(ctx: PlanningContext, cases: Sequence[HostCase]) -> dict[int, set[int]]:
    """One paged list per policy, instead of one host read per host."""
    policies = sorted({policy for case in cases for policy in case.failing_policy_ids})
    return defaultdict(set, {policy: ctx.fleet.failing_host_ids(policy) for policy in policies})


def _shrink_windows(
    ctx: PlanningContext, failing: dict[int, HostCase], open_windows: Sequence[Window], now: datetime
) -> tuple[int, list[Window]]:
    """Windows whose hosts all pass are cancelled; windows that lost a host or policy are narrowed."""
    cancelled = 0
    changed: list[Window] = []
    for window in open_windows:
        if window.state is WindowState.DISPATCHED:
            continue  # verification owns it now
        hosts = tuple(h for h in window.host_ids if h in failing)
        policies = tuple(sorted({p for h in hosts for p in failing[h].failing_policy_ids} & set(window.policy_ids)))
        if not hosts or not policies:
            cancel_window(ctx, window, "every host passes its policies again", now)
            cancelled += 1
        elif hosts != window.host_ids or policies != window.policy_ids:
            narrowed = replace(window, host_ids=hosts, policy_ids=policies)
            changed.append(
                window_states.note(narrowed, now, "scope_changed", f"hosts {list(hosts)}, policies {list(policies)}")
            )
    return cancelled, changed


def cancel_window(ctx: PlanningContext, window: Window, why: str, now: datetime) -> Window:
    """Delete the event, drop the task where the queue can, and free the user for a future window."""
    if window.event_id and window.state in (WindowState.PLANNED, WindowState.SCHEDULED):
        ctx.calendar.delete_event(window.user_email, window.event_id)
    if window.task_name:
        ctx.tasks.delete(window.task_name)  # best effort: the dispatcher's state check is the real guard
    done = window_states.cancel(window, now, why)
    window_records.save(ctx.store, [done])
    ctx.store.commit([window_records.release_user(window)])
    logger.info(
        "window cancelled",
        event="window_cancelled",
        window_id=window.window_id,
        user_key=window.user_key,
        why=why,
    )
    return done
