"""Booking: choose each window's slot, write its event, and schedule its task.

Two steps, each safe to repeat after a crash:
1. assign_slots: time zones and free/busy in batches, a slot per window, the event text → state planned.
   A user whose calendar refuses us is not booked at all (service/calendar_access.py keeps the record).
2. finish: insert events not yet confirmed (a retried insert answers 409 and books nothing new), create the
   task for the window's start (named from window and revision), → state scheduled.
The planner and the follow-up (rebooking after a deletion) share both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.absence import AbsencePlan, plan_absences
from maintenance_windows.domain.calendar_access import AccessRefusal
from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.event_text import event_title
from maintenance_windows.domain.ids import user_key
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DailyHours, Preferences, SlotRules, Weekday
from maintenance_windows.domain.slots import NoSlot, SlotChoice, find_slot
from maintenance_windows.domain.task_schedule import dispatch_task
from maintenance_windows.domain.windows import Slot, Window, WindowState
from maintenance_windows.domain.working_hours import infer_working_hours, stated_within_rules
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import (
    AwayResult,
    BusyResult,
    CalendarAccessRefused,
    CalendarError,
    CalendarUnavailable,
    EventSpec,
)
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service import calendar_access
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.event_content import explanation_request, planned_updates, render
from maintenance_windows.service.os_updates import PlannedUpdate, local_moment, observed_deadline
from maintenance_windows.service.policy_texts import refreshed_policies

logger = get_logger(__name__)
#: A zone read longer ago than this is read again before booking: people who travel change their calendar's
#: zone, and a traveller must not be booked in their home zone's hours.
TIME_ZONE_MAX_AGE = timedelta(hours=12)
WORKING_HOURS_HISTORY = timedelta(weeks=4)
#: A free/busy block this long may be time out of office: its owner's out-of-office events are read.
OUT_OF_OFFICE_HINT = timedelta(hours=3)
BUSY_PAST_DEADLINE = timedelta(days=1)
MAX_BUSY_RANGE = timedelta(days=89)  # freeBusy refuses a range of about 90 days or more


@dataclass(frozen=True)
class Unplaced:
    window: Window
    reason: str


def time_zones(ctx: PlanningContext, emails: Sequence[str], now: datetime) -> dict[str, str | CalendarError]:
    """Each user's zone, as booking needs it: cached in the users collection, read again (in batches) when
    older than TIME_ZONE_MAX_AGE; or the error that kept a user's zone from us (nobody is booked in a
    guessed zone)."""
    return _zones_and_refusals(ctx, emails, now)[0]


def _zones_and_refusals(
    ctx: PlanningContext, emails: Sequence[str], now: datetime
) -> tuple[dict[str, str | CalendarError], dict[str, AccessRefusal]]:
    """The zones, and the users' stored access refusals. A user with one is looked up again whatever the
    cache says: the lookup, made with the user's own credentials, is what tells whether access is back."""
    keys = {email: user_key(email) for email in emails}
    cached = window_records.users(ctx.store, list(keys.values()))
    refusals = calendar_access.stored_refusals(cached, emails)
    zones: dict[str, str | CalendarError] = {}
    stale: list[str] = []
    for email, key in keys.items():
        document = cached.get(key, {})
        checked = document.get("time_zone_checked_at")
        fresh = document.get("time_zone") and checked and now - checked < TIME_ZONE_MAX_AGE
        if fresh and email not in refusals:
            zones[email] = document["time_zone"]
        else:
            stale.append(email)
    if stale:
        fresh = ctx.calendar.time_zones(stale)
        zones.update(fresh)
        ctx.store.commit(
            [
                window_records.user_write(keys[email], email=email, time_zone=zone, time_zone_checked_at=now)
                for email, zone in fresh.items()
                if isinstance(zone, str)
            ]
        )
    return zones, refusals


def assign_slots(
    ctx: PlanningContext,
    windows: Sequence[Window],
    capacity: Capacity,
    *,
    lead: timedelta | None = None,
    not_before: Mapping[str, datetime] | None = None,
) -> tuple[list[Window], list[Unplaced]]:
    """Slot and text for each window; returns (planned, unplaced). Writes nothing but time zones."""
    if not windows:
        return [], []
    now = ctx.clock()
    emails = sorted({window.user_email for window in windows})
    zones, refusals = _zones_and_refusals(ctx, emails, now)
    refused = calendar_access.record_refused(ctx, windows, _refused_reasons(zones), refusals, now)
    calendar_access.record_restored(ctx, windows, [email for email in refusals if isinstance(zones.get(email), str)])
    horizon = max(window.deadline for window in windows) + timedelta(days=15)
    # A user whose zone failed cannot be booked this run: their free/busy is not asked for.
    busy = ctx.calendar.busy([email for email in emails if isinstance(zones.get(email), str)], now, horizon)
    away = out_of_office(ctx, windows, busy, now, horizon)
    policies, hosts = _window_records(ctx, windows)
    planned: list[Window] = []
    unplaced: list[Unplaced] = []
    for window in windows:
        refusal = refused.get(window.user_email)
        if refusal is not None:
            unplaced.append(Unplaced(window, refusal.describe()))
            continue
        calendar_zone = zones.get(window.user_email)
        if not isinstance(calendar_zone, str):
            unplaced.append(
                Unplaced(window, f"time zone unknown: {calendar_zone.reason if calendar_zone else 'no answer'}")
            )
            continue
        result = busy.get(window.user_email)
        absent = away.get(window.user_email, AwayResult())
        if result is None or result.error or absent.error:
            problem = absent.error or (result.error if result else "no answer")
            unplaced.append(Unplaced(window, f"calendar not readable: {problem}"))
            continue
        zone = ctx.teams.rules_for(window.team_id).slots.zone_of(calendar_zone)
        rules = ctx.teams.slot_rules_for(window.team_id, zone)
        hours = stated_hours(result, zone, rules) or usual_hours(ctx, window.user_email, zone, rules, now)
        absences = absences_of(window, absent.away, zone, rules, hours)
        blocks = list(result.busy)
        if absences.deadline + BUSY_PAST_DEADLINE > horizon:
            # A long absence moved the deadline past what free/busy was read for: read this person's further.
            until = min(absences.deadline + BUSY_PAST_DEADLINE, now + MAX_BUSY_RANGE)
            further = ctx.calendar.busy([window.user_email], now, until).get(window.user_email)
            if further is None or further.error:
                unplaced.append(Unplaced(window, f"calendar not readable: {further.error if further else 'no answer'}"))
                continue
            blocks = list(further.busy)
        opened = window
        slot, window = _choose_before_os_deadline(
            ctx,
            window,
            blocks,
            zone,
            now,
            capacity,
            lead,
            (not_before or {}).get(window.window_id),
            planned_updates(ctx, window, policies, [hosts.get(h, {}) for h in window.host_ids]),
            choosing=_Choosing(
                rules=rules,
                hours=hours,
                absences=absences,
                critical=any(policies.get(policy, {}).get("critical") for policy in window.policy_ids),
            ),
        )
        if isinstance(slot, NoSlot):
            unplaced.append(Unplaced(window, slot.reason))
            continue
        planned_window = window_states.plan(window, slot, zone, now)
        if window is opened:  # not capped by Fleet's own OS-update deadline: time away may move the deadline
            planned_window = _after_absences(planned_window, absences, now)
        capacity.add(planned_window)
        planned.append(planned_window)
    return _with_text(ctx, planned, policies, hosts), unplaced


def out_of_office(
    ctx: PlanningContext, windows: Sequence[Window], busy: Mapping[str, BusyResult], now: datetime, horizon: datetime
) -> dict[str, AwayResult]:
    """Out-of-office periods of the people who may be away: one events.list each, batched.

    Only free/busy blocks can hint at an absence, so only people with a block of OUT_OF_OFFICE_HINT or
    more, one under way now (they may be coming back today), or a deadline paused before are asked; the
    others cost nothing extra. A shorter absence is then a meeting like any other busy time."""
    paused = {window.user_email for window in windows if window.base_deadline is not None}
    asked = sorted(
        email
        for email, result in busy.items()
        if email in paused or any(block.duration >= OUT_OF_OFFICE_HINT or block.start <= now for block in result.busy)
    )
    if not asked:
        return {}
    since = min(window.created_at for window in windows)
    try:
        return ctx.calendar.out_of_office(asked, min(since, now), horizon)
    except CalendarUnavailable:
        raise
    except CalendarError as problem:  # not knowing who is away books nobody who may be: they wait a run
        return {email: AwayResult(error=problem.reason or str(problem)) for email in asked}


def absences_of(
    window: Window, away: Sequence[Interval], zone: str, rules: SlotRules, hours: Mapping[Weekday, DailyHours] | None
) -> AbsencePlan:
    """The window's deadline paused for time away since it opened, and the time not to book."""
    return plan_absences(
        away,
        window.created_at,
        window.base_deadline or window.deadline,
        zone,
        hours or rules.working_hours,
        rules.holidays,
        return_grace_hours=rules.return_grace_hours,
    )


def _after_absences(window: Window, absences: AbsencePlan, now: datetime) -> Window:
    """The paused deadline, and the return the text should name, on a planned window."""
    base = window.base_deadline or window.deadline
    paused = max(absences.deadline, window.deadline)
    back = absences.returned_before(window.start) if window.start else None
    changes: dict[str, object] = {"away_until": back if back and back > now else None}
    if paused > base:
        changes.update(base_deadline=base, deadline=paused)
    if paused != window.deadline:
        window = window_states.note(window, now, "deadline_paused", f"out of office: deadline {paused.isoformat()}")
    return replace(window, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Choosing:
    """How one window's slot is chosen: the person's rules and day, their absences, whether it is urgent."""

    rules: SlotRules
    hours: Mapping[Weekday, DailyHours] | None
    absences: AbsencePlan
    critical: bool = False


def _window_records(
    ctx: PlanningContext, windows: Sequence[Window]
) -> tuple[dict[int, dict[str, object]], dict[int, dict[str, object]]]:
    """(Fleet's policy texts by id, host cases by id) for the windows' text and OS-update deadlines."""
    policies = refreshed_policies(ctx, windows)
    return policies, host_records.window_hosts(ctx.store, windows)


def _choose_before_os_deadline(
    ctx: PlanningContext,
    window: Window,
    busy: list[Interval],
    zone: str,
    now: datetime,
    capacity: Capacity,
    lead: timedelta | None,
    not_before: datetime | None,
    updates: Sequence[PlannedUpdate],
    *,
    choosing: _Choosing,
) -> tuple[Slot | NoSlot, Window]:
    """observe: an OS-update window comes before Fleet installs the update by itself. When that moment is
    sooner than any free slot, the earliest free slot is booked and its reason says so. Otherwise the
    deadline is the window's, paused by time out of office."""
    paused = max(choosing.absences.deadline, window.deadline)
    fleet_deadline = observed_deadline(ctx.teams, updates, zone)
    if fleet_deadline is None or fleet_deadline >= paused:
        return _choose(window, busy, zone, now, capacity, lead, not_before, choosing, deadline=paused), window
    capped = replace(window, deadline=fleet_deadline)
    slot = _choose(capped, busy, zone, now, capacity, lead, not_before, choosing, deadline=fleet_deadline)
    if isinstance(slot, Slot) and slot.fallback is None:
        return slot, capped
    earliest = _choose(window, busy, zone, now, capacity, lead, not_before, choosing, deadline=paused, earliest=True)
    if isinstance(earliest, NoSlot):
        return earliest, window
    reason = (
        f"Fleet installs the update by itself on {local_moment(fleet_deadline, zone)}, sooner than any "
        f"free slot; this is the earliest free slot ({earliest.reason})"
    )
    return replace(earliest, reason=reason, fallback=earliest.fallback or "before_fleet_deadline"), window


def _refused_reasons(zones: Mapping[str, str | CalendarError]) -> dict[str, str]:
    return {email: zone.reason or "unknown" for email, zone in zones.items() if isinstance(zone, CalendarAccessRefused)}


def _choose(
    window: Window,
    busy: list[Interval],
    zone: str,
    now: datetime,
    capacity: Capacity,
    lead: timedelta | None,
    not_before: datetime | None,
    choosing: _Choosing,
    *,
    deadline: datetime,
    earliest: bool = False,
) -> Slot | NoSlot:
    rules = choosing.rules
    if earliest:  # only "sooner" counts: the best slot is the first free one
        rules = rules.model_copy(update={"preferences": Preferences(lunch=0, day_start=0, day_end=0, lighter_days=0)})
    choice = find_slot(
        busy,
        zone,
        now,
        rules,
        taken=capacity.taken(window.team_id),
        working_hours=choosing.hours,
        not_before=not_before,
        deadline=deadline,
        critical=choosing.critical,
        away=choosing.absences.blocked,
    )
    if lead is not None:
        return _short_lead_slot(now, lead, rules.slot_minutes, choice)
    if isinstance(choice, NoSlot):
        return choice
    return Slot(
        choice.start, choice.end, choice.reason, choice.score, choice.fallback.value if choice.fallback else None
    )


def stated_hours(busy: BusyResult, zone: str, rules: SlotRules) -> dict[Weekday, DailyHours] | None:
    """The working hours the person's calendar states (Microsoft 365), inside the team's; None when it
    states none, states them in another zone than the one we book in, or they leave no bookable day."""
    if busy.working_hours is None or busy.working_hours_zone != zone:
        return None
    return stated_within_rules(busy.working_hours, rules.working_hours) or None


def usual_hours(
    ctx: PlanningContext, email: str, zone: str, rules: SlotRules, now: datetime
) -> dict[Weekday, DailyHours] | None:
    """The user's usual day from 4 weeks of accepted timed events, when the team opted in.

    The Calendar API does not expose working hours; this costs one events.list per new window, so it is
    off by default. Any calendar error falls back to the team's hours."""
    if not rules.infer_working_hours:
        return None
    try:
        events = ctx.calendar.recent_events(email, now - WORKING_HOURS_HISTORY, now)
    except CalendarError:
        return None
    attended = [
        Interval(event.start, event.end)
        for event in events
        if event.start and event.end and not event.declined_by_owner and not event.transparent
    ]
    return infer_working_hours(attended, zone, rules.working_hours)


def _short_lead_slot(now: datetime, lead: timedelta, minutes: int, rules_choice: SlotChoice | NoSlot) -> Slot:
    """Local and demo runs only (MW_ALLOW_SHORT_LEAD): a window `lead` from now, whatever the hour.

    The reason still says what the team rules would have chosen, so a demo shows the real decision."""
    start = now + lead
    start = start.replace(microsecond=0) + timedelta(seconds=-start.second % 10)  # a round 10 s for people
    would = (
        rules_choice.reason
        if isinstance(rules_choice, NoSlot)
        else (f"{rules_choice.local_start:%a %d %b %H:%M}: {rules_choice.reason}")
    )
    return Slot(start, start + timedelta(minutes=minutes), f"short-lead local run; the team rules would pick {would}")


def _with_text(
    ctx: PlanningContext,
    windows: list[Window],
    policies: Mapping[int, Mapping[str, object]],
    hosts: Mapping[int, Mapping[str, object]],
) -> list[Window]:
    texted: list[Window] = []
    for window in windows:
        request = explanation_request(ctx, window, policies, [hosts.get(h, {}) for h in window.host_ids])
        html, explanation = render(ctx, window, request)
        texted.append(replace(window, event_html=html, explanation_source=explanation.source.value))
    return texted


def finish(ctx: PlanningContext, windows: Sequence[Window]) -> list[Window]:
    """Planned windows → scheduled: store the plan first, then event, then task, then the new state."""
    pending = [window for window in windows if window.state is WindowState.PLANNED]
    if not pending:
        return []
    window_records.save(ctx.store, pending)
    confirmed = _insert_events(ctx, [window for window in pending if window.event_etag is None])
    now = ctx.clock()
    scheduled: list[Window] = []
    for window in pending:
        if window.event_etag is None and window.window_id not in confirmed:
            continue  # the insert failed; this window stays planned and is retried on the next run
        etag = confirmed.get(window.window_id, window.event_etag)
        task = dispatch_task(window, now)
        ctx.tasks.schedule(task.name, task.at, task.payload)
        done = window_states.booked(window, task.name, now, etag)
        scheduled.append(done)
        logger.info(
            "window booked",
            event="window_booked",
            window_id=window.window_id,
            user_key=window.user_key,
            start=window.start,
            reason=window.reason,
            task=task.name,
        )
    window_records.save(ctx.store, scheduled)
    return scheduled


def _insert_events(ctx: PlanningContext, windows: Sequence[Window]) -> dict[str, str]:
    """Insert in batches; returns window id → etag for events now in the calendar at the window's time."""
    if not windows:
        return {}
    specs = [_event_spec(ctx, window) for window in windows]
    by_event = {window.event_id: window for window in windows}
    confirmed: dict[str, str] = {}
    refused: dict[str, str] = {}
    for result in ctx.calendar.insert_events(specs):
        window = by_event.get(result.event_id)
        if window is None:
            continue
        if result.access_refused:
            refused[window.user_email] = result.error or "unknown"
        elif result.error:
            logger.warning(
                "event insert failed; will retry on the next run",
                event="event_insert_failed",
                window_id=window.window_id,
                error=result.error,
            )
        elif result.created:
            confirmed[window.window_id] = result.etag or "unknown"
        else:
            etag = _align_existing_event(ctx, window)
            if etag:
                confirmed[window.window_id] = etag
    if refused:
        # Access was lost since the zone was cached: these windows stay planned, and wait like any refusal.
        streaks = calendar_access.record_refused(
            ctx, windows, refused, calendar_access.load_refusals(ctx, refused), ctx.clock()
        )
        record_unplaced(
            ctx, [Unplaced(w, streaks[w.user_email].describe()) for w in windows if w.user_email in streaks]
        )
    return confirmed


def _align_existing_event(ctx: PlanningContext, window: Window) -> str | None:
    """409: an earlier, interrupted run inserted this event, perhaps at a slot since replaced. Put it at the
    window's time so event, window and task agree."""
    assert window.event_id is not None
    try:
        event = ctx.calendar.patch_event(
            window.user_email,
            window.event_id,
            start=window.start,
            end=window.end,
            time_zone=window.time_zone,
            description_html=window.event_html,
            private_properties=event_properties(window),
        )
    except CalendarError as problem:
        logger.warning(
            "could not align an existing event; will retry on the next run",
            event="event_insert_failed",
            window_id=window.window_id,
            error=str(problem),
        )
        return None
    return event.etag or "unknown"


def _event_spec(ctx: PlanningContext, window: Window) -> EventSpec:
    rules = ctx.teams.rules_for(window.team_id)
    assert window.start is not None and window.end is not None and window.event_id is not None
    return EventSpec(
        user_email=window.user_email,
        event_id=window.event_id,
        start=window.start,
        end=window.end,
        time_zone=window.time_zone,
        summary=event_title(ctx.teams.organization, rules.event.title, rules.language),
        description_html=window.event_html,
        private_properties=event_properties(window),
        color_id=rules.event.color_id,
        popup_reminders_minutes=tuple(rules.event.popup_reminders_minutes),
    )


def event_properties(window: Window) -> dict[str, str]:
    """extendedProperties.private: how we recognise our own events and their revision."""
    return {"mw_window_id": window.window_id, "mw_revision": str(window.revision)}


def record_unplaced(ctx: PlanningContext, unplaced: Sequence[Unplaced]) -> None:
    writes: list[Write] = []
    for item in unplaced:
        writes.append(Write("merge", window_records.WINDOWS, item.window.window_id, {"unplaced_reason": item.reason}))
        logger.warning(
            "no slot for window",
            event="window_unplaced",
            window_id=item.window.window_id,
            user_key=item.window.user_key,
            reason=item.reason,
        )
    ctx.store.commit(writes)
