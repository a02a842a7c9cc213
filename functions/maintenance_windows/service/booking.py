"""Booking: choose each window's slot, write its event, and schedule its task.

Two steps, each safe to repeat after a crash:
1. assign_slots: time zones and free/busy in batches, a slot per window, the event text → state planned.
   A user whose calendar refuses us is not booked at all (service/calendar_access.py keeps the record).
2. finish: insert events not yet confirmed (a retried insert answers 409 and books nothing new), create the
   task for the window's start (named from window and revision), → state scheduled.
The planner and the follow-up (rebooking after a deletion) share both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.calendar_access import AccessRefusal
from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.event_text import event_title
from maintenance_windows.domain.ids import user_key
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DailyHours, Preferences, SlotRules, Weekday
from maintenance_windows.domain.slots import NoSlot, SlotChoice, find_slot
from maintenance_windows.domain.task_schedule import dispatch_task
from maintenance_windows.domain.windows import Slot, Window, WindowState
from maintenance_windows.domain.working_hours import infer_working_hours
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.calendar import CalendarAccessRefused, CalendarError, EventSpec
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service import calendar_access
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.event_content import explanation_request, planned_updates, render
from maintenance_windows.service.os_updates import PlannedUpdate, local_moment, observed_deadline
from maintenance_windows.service.policy_texts import refreshed_policies

logger = get_logger(__name__)
TIME_ZONE_MIN_AGE = timedelta(days=5)
TIME_ZONE_SPREAD_HOURS = 96
WORKING_HOURS_HISTORY = timedelta(weeks=4)


@dataclass(frozen=True)
class Unplaced:
    window: Window
    reason: str


def time_zones(ctx: PlanningContext, emails: Sequence[str], now: datetime) -> dict[str, str | CalendarError]:
    """Each user's zone: cached in the users collection, refreshed weekly, looked up in batches; or the
    error that kept a user's zone from us (nobody is booked in a guessed zone)."""
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
        fresh = document.get("time_zone") and checked and now - checked < time_zone_max_age(key)
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


def time_zone_max_age(key: str) -> timedelta:
    """5 to 9 days, fixed per user: refreshes spread over the week instead of all landing on one run."""
    return TIME_ZONE_MIN_AGE + timedelta(hours=int(key[:8], 16) % TIME_ZONE_SPREAD_HOURS)


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
    policies, hosts = _window_records(ctx, windows)
    planned: list[Window] = []
    unplaced: list[Unplaced] = []
    for window in windows:
        refusal = refused.get(window.user_email)
        if refusal is not None:
            unplaced.append(Unplaced(window, refusal.describe()))
            continue
        zone = zones.get(window.user_email)
        if not isinstance(zone, str):
            unplaced.append(Unplaced(window, f"time zone unknown: {zone.reason if zone else 'no answer'}"))
            continue
        result = busy.get(window.user_email)
        if result is None or result.error:
            reason = f"calendar not readable: {result.error if result else 'no answer'}"
            unplaced.append(Unplaced(window, reason))
            continue
        slot, window = _choose_before_os_deadline(
            ctx,
            window,
            list(result.busy),
            zone,
            now,
            capacity,
            lead,
            (not_before or {}).get(window.window_id),
            planned_updates(ctx, window, policies, [hosts.get(h, {}) for h in window.host_ids]),
        )
        if isinstance(slot, NoSlot):
            unplaced.append(Unplaced(window, slot.reason))
            continue
        planned_window = window_states.plan(window, slot, zone, now)
        capacity.add(planned_window)
        planned.append(planned_window)
    return _with_text(ctx, planned, policies, hosts), unplaced


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
) -> tuple[Slot | NoSlot, Window]:
    """observe: an OS-update window comes before Fleet installs the update by itself. When that moment is
    sooner than any free slot, the earliest free slot is booked and its reason says so."""
    fleet_deadline = observed_deadline(ctx.teams, updates, zone)
    if fleet_deadline is None or fleet_deadline >= window.deadline:
        return _choose(ctx, window, busy, zone, now, capacity, lead, not_before), window
    capped = replace(window, deadline=fleet_deadline)
    slot = _choose(ctx, capped, busy, zone, now, capacity, lead, not_before)
    if isinstance(slot, Slot) and slot.fallback is None:
        return slot, capped
    earliest = _choose(ctx, window, busy, zone, now, capacity, lead, not_before, earliest=True)
    if isinstance(earliest, NoSlot):
        return earliest, window
    reason = (f"Fleet installs the update by itself on {local_moment(fleet_deadline, zone)}, sooner than any "
              f"free slot; this is the earliest free slot ({earliest.reason})")  # fmt: skip
    return replace(earliest, reason=reason, fallback=earliest.fallback or "before_fleet_deadline"), window


def _refused_reasons(zones: Mapping[str, str | CalendarError]) -> dict[str, str]:
    return {email: zone.reason or "unknown" for email, zone in zones.items() if isinstance(zone, CalendarAccessRefused)}


def _choose(
    ctx: PlanningContext,
    window: Window,
    busy: list[Interval],
    zone: str,
    now: datetime,
    capacity: Capacity,
    lead: timedelta | None,
    not_before: datetime | None,
    *,
    earliest: bool = False,
) -> Slot | NoSlot:
    rules = ctx.teams.rules_for(window.team_id).slots
    if earliest:  # only "sooner" counts: the best slot is the first free one
        rules = rules.model_copy(update={"preferences": Preferences(lunch=0, day_start=0, day_end=0, lighter_days=0)})
    choice = find_slot(
        busy,
        zone,
        now,
        rules,
        taken=capacity.taken(window.team_id),
        working_hours=usual_hours(ctx, window.user_email, zone, rules, now),
        not_before=not_before,
        deadline=window.deadline,
    )
    if lead is not None:
        return _short_lead_slot(now, lead, rules.slot_minutes, choice)
    if isinstance(choice, NoSlot):
        return choice
    return Slot(
        choice.start, choice.end, choice.reason, choice.score, choice.fallback.value if choice.fallback else None
    )


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
        log(
            logger,
            logging.INFO,
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
            log(logger, logging.WARNING, "event insert failed; will retry on the next run",
                event="event_insert_failed", window_id=window.window_id, error=result.error)  # fmt: skip
        elif result.created:
            confirmed[window.window_id] = result.etag or "unknown"
        else:
            etag = _align_existing_event(ctx, window)
            if etag:
                confirmed[window.window_id] = etag
    if refused:
        # Access was lost since the zone was cached: these windows stay planned, and wait like any refusal.
        streaks = calendar_access.record_refused(ctx, windows, refused, calendar_access.load_refusals(ctx, refused),
                                                 ctx.clock())  # fmt: skip
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
        log(logger, logging.WARNING, "could not align an existing event; will retry on the next run",
            event="event_insert_failed", window_id=window.window_id, error=str(problem))  # fmt: skip
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
        summary=event_title(ctx.teams.organization, rules.event.title),
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
        log(
            logger,
            logging.WARNING,
            "no slot for window",
            event="window_unplaced",
            window_id=item.window.window_id,
            user_key=item.window.user_key,
            reason=item.reason,
        )
    ctx.store.commit(writes)
