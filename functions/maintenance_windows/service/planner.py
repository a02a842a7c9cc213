"""plan_windows' use case: reconcile with Fleet, find owners, open one window per user, and book it.

Idempotent and resumable: windows are written in state `new` before anything is booked, each step moves
them forward, and a rerun after a crash picks up whatever is not yet `scheduled`. One planner runs at a
time, guarded by a lease claimed with create().
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.attention import BLOCKED, bookable_policies, fix_fingerprint
from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.host_cases import HostCase
from maintenance_windows.domain.ids import user_key, window_id
from maintenance_windows.domain.remediation import PolicyActions
from maintenance_windows.domain.rollout import Pause
from maintenance_windows.domain.rules import OsUpdateRole
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarError
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import leases
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service import booking, calendar_access, rollout
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.event_content import explanation_request, planned_updates, render
from maintenance_windows.service.os_updates import SettingChange, sync_managed
from maintenance_windows.service.outcomes import tell_outcomes
from maintenance_windows.service.owners import Owner, resolve_owners
from maintenance_windows.service.policy_texts import refreshed_policies
from maintenance_windows.service.reconcile import reconcile

logger = get_logger(__name__)
CHUNK = 500
PLANNER_LEASE = "planner"
USER_LEASE_TTL = timedelta(minutes=2)


@dataclass
class PlanReport:
    complete: bool = True
    skipped: str | None = None
    hosts_failing: int = 0
    hosts_closed: int = 0
    hosts_without_email: int = 0
    windows_cancelled: int = 0
    windows_opened: int = 0
    windows_booked: int = 0
    windows_rescoped: int = 0
    windows_unplaced: int = 0
    #: Windows not tried this run: their user's calendar refused us, and its next try is later.
    windows_waiting_for_calendar_access: int = 0
    elapsed_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        values = {key: value for key, value in vars(self).items() if key != "extra"}
        return {**values, **self.extra}


@dataclass(frozen=True)
class PlanOptions:
    time_budget: timedelta = timedelta(minutes=8)
    #: Local runs only: book windows this far ahead, ignoring working hours (see MW_ALLOW_SHORT_LEAD).
    short_lead: timedelta | None = None


#: Called after booking with the users who now have open windows (the follow-up adds watch channels).
AfterPlanHook = Callable[[PlanningContext, Sequence[Window], PlanReport], None]


def plan_windows(ctx: PlanningContext, options: PlanOptions, hooks: Sequence[AfterPlanHook] = ()) -> PlanReport:
    started = time.monotonic()
    report = PlanReport()
    lease_expiry = ctx.clock() + options.time_budget + timedelta(minutes=2)
    lease = leases.claim(ctx.store, PLANNER_LEASE, ctx.clock(), lease_expiry)
    if lease is None:
        report.complete, report.skipped = False, "another planner run holds the lease"
        return report
    try:
        _plan(ctx, options, report, started + options.time_budget.total_seconds())
        for hook in hooks:
            hook(ctx, window_records.open_windows(ctx.store), report)
    finally:
        leases.release(ctx.store, lease)
        report.elapsed_seconds = round(time.monotonic() - started, 3)
    logger.info("planning run finished", event="plan_finished", **report.as_dict())
    return report


def _plan(ctx: PlanningContext, options: PlanOptions, report: PlanReport, budget_ends: float) -> None:
    ctx.os_updates.begin()
    cases = host_records.failing_hosts(ctx.store)
    open_windows = window_records.open_windows(ctx.store)
    reconciled = reconcile(ctx, cases, open_windows)
    report.hosts_failing, report.hosts_closed = len(reconciled.still_failing), reconciled.hosts_closed
    report.windows_cancelled = reconciled.windows_cancelled
    owner_deadline = ctx.clock() + timedelta(seconds=max(0.0, budget_ends - time.monotonic()) / 2)
    owners = resolve_owners(ctx, reconciled.still_failing, owner_deadline)
    report.hosts_without_email = sum(1 for owner in owners.values() if owner.email is None)
    bookable = _bookable(ctx, reconciled.still_failing)
    report.extra["hosts_blocked"] = len(reconciled.still_failing) - len(bookable)
    # Rollout controls (service/rollout.py): excluded, not in pilot, paused and preview people are held back.
    check = rollout.check_cases(ctx, bookable, owners)
    report.extra.update(check.counts())
    report.extra["windows_cancelled_by_rules"] = rollout.cancel_excluded(
        ctx, window_records.open_windows(ctx.store), check
    )
    open_windows = window_records.open_windows(ctx.store)
    held = rollout.window_holds(ctx, open_windows, check.pauses)
    unheld = [window for window in open_windows if window.window_id not in held]
    rescoped = _rescope(ctx, check.allowed, owners, unheld, reconciled.windows_changed)
    report.windows_rescoped = len(rescoped)
    opened = _open_windows(ctx, check.allowed, owners, open_windows)
    report.windows_opened = len(opened)
    report.extra["os_update_settings_changed"] = len(_sync_os_updates(ctx))
    _book(ctx, options, report, budget_ends, check.pauses)
    if time.monotonic() < budget_ends:  # a preview is a report: it never costs live bookings their time
        report.extra["preview_would_book"] = _preview(ctx, options, check, owners, open_windows)
    report.extra["outcomes_told"] = tell_outcomes(ctx)


def _bookable(ctx: PlanningContext, cases: Sequence[HostCase]) -> list[HostCase]:
    """Cases with the policies whose configured fix Fleet refused for good left out (domain/attention.py);
    a case with nothing left gets no window until its fix changes."""
    if not any(case.extra.get(BLOCKED) for case in cases):
        return list(cases)
    policy_ids = sorted({p for case in cases for p in case.failing_policy_ids})
    names = {p: str(doc.get("name", "")) for p, doc in host_records.policies_by_id(ctx.store, policy_ids).items()}
    bookable: list[HostCase] = []
    for case in cases:
        blocked = case.extra.get(BLOCKED)
        if not blocked:
            bookable.append(case)
            continue
        entries = ctx.teams.rules_for(case.extra.get("team_id")).actions
        platform = case.extra.get("platform")
        kept = bookable_policies(case.failing_policy_ids, blocked, functools.partial(_fix, entries, names, platform))
        if kept:
            bookable.append(replace(case, failing_policy_ids=kept))
    return bookable


def _fix(entries: Sequence[PolicyActions], names: Mapping[int, str], platform: str | None, policy_id: int) -> str:
    return fix_fingerprint(entries, policy_id, names.get(policy_id, ""), platform)


def _sync_os_updates(ctx: PlanningContext) -> list[SettingChange]:
    """manage: Fleet's OS-update deadline after each managed team's last open window (before booking, so
    the new windows' texts show the date Fleet will enforce)."""
    managed = [ctx.teams.defaults, *ctx.teams.teams.values()]
    if not any(rules.os_updates.role is OsUpdateRole.MANAGE for rules in managed):
        return []
    windows = window_records.open_windows(ctx.store)
    policies = host_records.policies_by_id(ctx.store, sorted({p for w in windows for p in w.policy_ids}))
    hosts = host_records.window_hosts(ctx.store, windows)
    pairs = [(w, planned_updates(ctx, w, policies, [hosts.get(h, {}) for h in w.host_ids])) for w in windows]
    return sync_managed(ctx.teams, ctx.os_updates, pairs)


def _owners_cases(cases: Sequence[HostCase], owners: Mapping[int, Owner]) -> dict[str, list[HostCase]]:
    per_user: dict[str, list[HostCase]] = defaultdict(list)
    for case in cases:
        owner = owners.get(case.host_id)
        if owner and owner.email:
            per_user[owner.email].append(case)
    return per_user


def _rescope(
    ctx: PlanningContext,
    cases: Sequence[HostCase],
    owners: Mapping[int, Owner],
    open_windows: Sequence[Window],
    narrowed: Sequence[Window],
) -> list[Window]:
    """Open windows whose hosts or policies changed get the new scope, and their event text in place."""
    per_user = _owners_cases(cases, owners)
    current = {window.window_id: window for window in narrowed}
    changed: dict[str, Window] = dict(current)
    now = ctx.clock()
    for window in open_windows:
        if window.state is WindowState.DISPATCHED:
            continue
        base = current.get(window.window_id, window)
        user_cases = per_user.get(window.user_email, [])
        hosts = tuple(sorted(set(base.host_ids) | {case.host_id for case in user_cases}))
        policies = tuple(sorted(set(base.policy_ids) | {p for case in user_cases for p in case.failing_policy_ids}))
        if (hosts, policies) != (base.host_ids, base.policy_ids):
            widened = replace(base, host_ids=hosts, policy_ids=policies)
            changed[window.window_id] = window_states.note(
                widened, now, "scope_changed", f"hosts {list(hosts)}, policies {list(policies)}"
            )
    updated = []
    for window in changed.values():
        saved = _save_unless_followed(ctx, window, lambda current: _refresh_text(ctx, current))
        if saved is not None:
            updated.append(saved)
    return updated


def _save_unless_followed(ctx: PlanningContext, change: Window, apply: Callable[[Window], Window]) -> Window | None:
    """Apply and save a change to an open window, unless the user's calendar is being followed right now
    or the window moved on since we read it; the next run then tries again. The store offers no
    preconditions the emulator honours, so the user lease is what keeps the two writers apart."""
    with leases.held_while(ctx.store, leases.user_lease(change.user_key), ctx.clock(), USER_LEASE_TTL) as held:
        if not held:
            return None
        current = window_records.load(ctx.store, change.window_id)
        if current is None or (current.state, current.revision, current.booking) != (
            change.state,
            change.revision,
            change.booking,
        ):
            return None
        updated = apply(change)
        window_records.save(ctx.store, [updated])
        return updated


def _refresh_text(ctx: PlanningContext, window: Window) -> Window:
    """Rewrite the event description in place when what the window fixes has changed."""
    if window.state is not WindowState.SCHEDULED or not window.event_id:
        return window
    policies = refreshed_policies(ctx, [window])
    hosts = host_records.window_hosts(ctx.store, [window])
    request = explanation_request(ctx, window, policies, [hosts.get(h, {}) for h in window.host_ids])
    html, explanation = render(ctx, window, request)
    if html == window.event_html:
        return window
    try:
        event = ctx.calendar.patch_event(window.user_email, window.event_id, description_html=html)
    except CalendarError as problem:
        logger.warning(
            "could not update event text; will retry",
            window_id=window.window_id,
            error=str(problem),
        )
        return window
    updated = replace(window, event_html=html, explanation_source=explanation.source.value, event_etag=event.etag)
    return window_states.note(updated, ctx.clock(), "text_updated", "the event text now matches the failing policies")


def _open_windows(
    ctx: PlanningContext,
    cases: Sequence[HostCase],
    owners: Mapping[int, Owner],
    open_windows: Sequence[Window],
) -> list[Window]:
    """A new window for every user with failing hosts and no open window."""
    opened, writes = _new_windows(ctx, cases, owners, open_windows)
    window_records.save(ctx.store, opened)
    ctx.store.commit(writes)
    return opened


def _new_windows(
    ctx: PlanningContext,
    cases: Sequence[HostCase],
    owners: Mapping[int, Owner],
    open_windows: Sequence[Window],
) -> tuple[list[Window], list[Write]]:
    """The windows to open, and the users' writes that go with them; nothing is written here."""
    busy_users = {window.user_key for window in open_windows}
    per_user = _owners_cases(cases, owners)
    keys = {email: user_key(email) for email in per_user}
    users = window_records.users(ctx.store, [key for key in keys.values() if key not in busy_users])
    now = ctx.clock()
    opened: list[Window] = []
    writes: list[Write] = []
    for email, user_cases in sorted(per_user.items()):
        key = keys[email]
        declined_until = users.get(key, {}).get("declined_until")
        if key in busy_users or (declined_until and declined_until > now):
            continue
        user_cases.sort(key=lambda case: case.host_id)
        team_id = owners[user_cases[0].host_id].team_id  # the lowest host id's team sets the rules
        rules = ctx.teams.rules_for(team_id)
        sequence = int(users.get(key, {}).get("next_sequence", 1))
        notes = [str(case.extra["last_failure_note"]) for case in user_cases if case.extra.get("last_failure_note")]
        window = Window(
            window_id=window_id(key, sequence),
            user_key=key,
            user_email=email,
            team_id=team_id,
            host_ids=tuple(case.host_id for case in user_cases),
            policy_ids=tuple(sorted({p for case in user_cases for p in case.failing_policy_ids})),
            deadline=now + timedelta(days=rules.slots.deadline_days),
            created_at=now,
            note=notes[0] if notes else None,
        )
        opened.append(window_states.note(window, now, "opened", f"{len(user_cases)} failing host(s)"))
        writes.append(
            window_records.user_write(key, email=email, open_window_id=window.window_id, next_sequence=sequence)
        )
    return opened, writes


def _preview(
    ctx: PlanningContext,
    options: PlanOptions,
    check: rollout.RolloutCheck,
    owners: Mapping[int, Owner],
    open_windows: Sequence[Window],
) -> int:
    """Preview teams: the windows this run would open, placed as booking would place them, reported and
    thrown away (assign_slots writes nothing but the users' time zones and calendar refusals)."""
    would_open, _ = _new_windows(ctx, check.preview, owners, open_windows)
    planned: list[Window] = []
    unplaced: list[booking.Unplaced] = []
    if would_open:
        capacity = Capacity.of(window_records.open_windows(ctx.store))
        planned, unplaced = booking.assign_slots(ctx, would_open, capacity, lead=options.short_lead)
    rollout.record_previews(ctx, planned, [(item.window, item.reason) for item in unplaced])
    return len(planned)


def _book(
    ctx: PlanningContext, options: PlanOptions, report: PlanReport, budget_ends: float, pauses: Sequence[Pause] = ()
) -> None:
    pending = [
        window
        for window in window_records.open_windows(ctx.store)
        if window.state is WindowState.NEW or (window.state is WindowState.PLANNED and window.task_name is None)
    ]
    held = rollout.window_holds(ctx, pending, pauses)  # a paused or previewing team's windows wait
    rollout.record_waiting(ctx, pending, held)
    report.extra["windows_held"] = len(held)
    pending = [window for window in pending if window.window_id not in held]
    pending.sort(key=lambda window: window.created_at)
    capacity = Capacity.of(window_records.open_windows(ctx.store))
    not_before = _rebook_after(ctx, pending)
    for start in range(0, len(pending), CHUNK):
        if time.monotonic() > budget_ends:
            report.complete = False
            logger.info(
                "time budget spent; the next run continues",
                event="plan_paused",
                remaining=len(pending) - start,
            )
            return
        chunk, recheck = _not_waiting(ctx, pending[start : start + CHUNK], report)
        # A window whose user had access refused is planned afresh: the zone lookup checks the access.
        fresh = [
            w for w in chunk if w.state is WindowState.NEW or _needs_new_slot(w, ctx.clock()) or w.user_email in recheck
        ]
        resumed = [w for w in chunk if w not in fresh]
        planned, unplaced = booking.assign_slots(ctx, fresh, capacity, lead=options.short_lead, not_before=not_before)
        booking.record_unplaced(ctx, unplaced)
        report.windows_unplaced += len(unplaced)
        report.windows_booked += len(booking.finish(ctx, [*resumed, *planned]))
        logger.info(
            "planning progress",
            event="plan_progress",
            done=min(start + CHUNK, len(pending)),
            total=len(pending),
        )


def _not_waiting(ctx: PlanningContext, chunk: Sequence[Window], report: PlanReport) -> tuple[list[Window], set[str]]:
    """The windows to try now, and the users among them whose access refusal is due for its next try; the
    windows of users whose next try is later are left out, without a single calendar call."""
    now = ctx.clock()
    refusals = calendar_access.load_refusals(ctx, (window.user_email for window in chunk))
    waiting = {email for email, refusal in refusals.items() if not refusal.due(now)}
    kept = [window for window in chunk if window.user_email not in waiting]
    report.windows_waiting_for_calendar_access += len(chunk) - len(kept)
    return kept, set(refusals) - waiting


def _needs_new_slot(window: Window, now: datetime) -> bool:
    """A planned window whose event was never confirmed and whose slot has passed (or was never set):
    e.g. a rebooking that found no slot. Resuming it as is would book an event in the past."""
    return (
        window.state is WindowState.PLANNED
        and window.event_etag is None
        and (window.start is None or window.start <= now)
    )


def _rebook_after(ctx: PlanningContext, windows: Sequence[Window]) -> dict[str, datetime]:
    """A window for hosts whose last window failed waits for the team's grace period."""
    host_ids = sorted({host for window in windows for host in window.host_ids})
    hosts = ctx.store.get_many(host_records.HOSTS, [str(h) for h in host_ids])
    waits: dict[str, datetime] = {}
    for window in windows:
        moments = [hosts[str(h)]["rebook_after"] for h in window.host_ids if hosts.get(str(h), {}).get("rebook_after")]
        if moments:
            waits[window.window_id] = max(moments)
    return waits
