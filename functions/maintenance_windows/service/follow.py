"""Following the user: what a push notification means for the user's window.

A notification says only "something changed in this calendar". We record it as pending, take the user's
follow lease, sync incrementally from the channel's sync token, and apply the changes to the window:

- our own writes (same etag and time) and stale revisions are ignored, so nothing loops;
- a move is taken (new revision, new task; the old task turns into a no-op at the dispatcher), unless it
  lands past the deadline under `deadline_behaviour: enforce`, in which case the event goes back to the best
  slot before the deadline, with a note saying why;
- a deletion (or cancellation, decline, all-day, a move into the past) is rebooked at the next good slot
  under a new event id, until the user did it `max_user_deletions` times: then the window is declined.

Concurrency. Google sends bursts, out of order and sometimes twice. Every notification first creates a
pending document (its id is channel + message number, so a duplicate is recognised), then tries the lease.
The holder snapshots the pending documents, syncs, deletes what it snapshotted, releases, and looks again:
anything recorded meanwhile is synced by a further round. A notification that loses the race therefore
answers 200 at once and its change is still applied, by the holder. We do not answer 503 to make Google
retry instead: its retries are best effort and slow (exponential backoff), and a burst would multiply them.

The lease is per user rather than per channel: during a renewal two channels watch the same calendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from maintenance_windows.domain import windows as window_states
from maintenance_windows.domain.calendar_changes import Change, ChangeKind, classify
from maintenance_windows.domain.capacity import Capacity
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DeadlineBehaviour
from maintenance_windows.domain.slots import NoSlot, find_slot
from maintenance_windows.domain.window_notes import enforced_note
from maintenance_windows.domain.windows import BOOKED_STATES, InvalidTransition, Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import AwayResult, CalendarError, CalendarEvent, ChangeSet, SyncTokenExpired
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import leases
from maintenance_windows.repository import pauses as pause_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.channels import ChannelRecord, PendingMessage
from maintenance_windows.service import booking, channels
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.event_content import explanation_request, local_day, local_range, render

logger = get_logger(__name__)

LEASE_TTL = timedelta(minutes=2)
#: Rounds one notification may run before leaving the rest to the next one (bounds a request's duration).
MAX_ROUNDS = 5
#: A patch answered with yet another time means the user moved again meanwhile; follow at most this often.
MAX_CHASES = 3


# ---- notifications -------------------------------------------------------------------------------------


@dataclass
class FollowOutcome:
    status: str = "processed"  # processed | queued | duplicate
    rounds: int = 0
    changes: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.changes[what] = self.changes.get(what, 0) + 1


def on_notification(ctx: PlanningContext, channel: ChannelRecord, message_number: int) -> FollowOutcome:
    """Handle one `exists` message on the channel; safe under duplicates and concurrency."""
    outcome = FollowOutcome()
    # A duplicate (False) still tries the lease: should the holder of its first copy have died, the
    # expired lease lets this copy do the work instead.
    recorded = channel_records.record_pending(ctx.store, channel, message_number, ctx.clock())
    lease = leases.user_lease(channel.user_key)
    while outcome.rounds < MAX_ROUNDS:
        now = ctx.clock()
        held = leases.claim(ctx.store, lease, now, now + LEASE_TTL)
        if held is None:
            if outcome.rounds == 0:
                outcome.status = "queued" if recorded else "duplicate"
            return outcome
        try:
            pending = channel_records.pending_for_user(ctx.store, channel.user_key)
            if pending:
                sync_user(ctx, channel.user_key, pending, outcome)
        finally:
            leases.release(ctx.store, held)
        outcome.rounds += 1
        # Recorded after our snapshot, by a notification that found the lease taken: another round.
        if not channel_records.pending_for_user(ctx.store, channel.user_key):
            return outcome
    logger.warning("messages still pending; the next one continues", user_key=channel.user_key)
    return outcome


def sync_user(ctx: PlanningContext, user_key: str, pending: Sequence[PendingMessage], outcome: FollowOutcome) -> None:
    """Sync every channel with pending messages and apply the changes; then store positions and clear.

    Positions are stored after the changes are applied: a crash in between repeats the sync, which is
    harmless because applying the same calendar state twice changes nothing the second time.
    """
    records = channel_records.get_many(ctx.store, sorted({message.channel_id for message in pending}))
    window = _open_window(ctx, user_key)
    for channel_id, record in records.items():
        changes, full = _changes(ctx, record)
        if window is not None:
            window = apply_changes(ctx, window, changes.events, full_sync=full, outcome=outcome)
        numbers = [m.message_number for m in pending if m.channel_id == channel_id]
        last = max([record.last_message_number, *numbers])
        # The sync can take long (a full one after a 410) and the planner may delete the channel meanwhile:
        # an update leaves a deleted channel deleted, where a merge would recreate it half-empty.
        if not channel_records.record_sync_progress(ctx.store, channel_id, changes.next_sync_token, last):
            logger.info(
                "channel deleted while it was synced; its position is dropped",
                event="channel_gone_during_sync",
                user_key=user_key,
                channel_id=channel_id,
            )
    ctx.store.commit(channel_records.clear_pending(pending))


def _open_window(ctx: PlanningContext, user_key: str) -> Window | None:
    user = window_records.users(ctx.store, [user_key]).get(user_key, {})
    window_id = user.get("open_window_id")
    return window_records.load(ctx.store, window_id) if window_id else None


def _changes(ctx: PlanningContext, record: ChannelRecord) -> tuple[ChangeSet, bool]:
    """Incremental from the stored token; a full sync from now when there is none or it expired (410)."""
    if record.sync_token is not None:
        try:
            return ctx.calendar.list_changes(record.user_email, record.sync_token), False
        except SyncTokenExpired:
            logger.info(
                "sync token expired; syncing in full",
                event="sync_token_expired",
                user_key=record.user_key,
            )
    return ctx.calendar.list_changes(record.user_email, None), True


# ---- applying changes ----------------------------------------------------------------------------------


def apply_changes(
    ctx: PlanningContext,
    window: Window,
    events: Iterable[CalendarEvent],
    *,
    full_sync: bool,
    outcome: FollowOutcome,
) -> Window:
    """The window after the calendar's changes; dispatched or closed windows ignore the calendar."""
    if window.state not in BOOKED_STATES or window.event_id is None:
        return window
    ours = [event for event in events if event.event_id == window.event_id]
    if not ours and full_sync:
        # A full sync lists from now on: an event moved into the past, or deleted, may not be in it.
        found = ctx.calendar.get_event(window.user_email, window.event_id)
        ours = [found] if found is not None else [_gone(window.event_id)]
    if not ours:
        return window
    return _follow(ctx, window, ours[-1], outcome)


def _gone(event_id: str) -> CalendarEvent:
    return CalendarEvent(event_id, "cancelled", None, None, all_day=False, etag=None, updated=None)


def _follow(ctx: PlanningContext, window: Window, event: CalendarEvent, outcome: FollowOutcome) -> Window:
    for _ in range(MAX_CHASES):
        change = classify(window, event, ctx.clock())
        outcome.count(change.kind.value)
        if change.kind is ChangeKind.IGNORED:
            return window
        if change.kind is ChangeKind.REMOVED:
            return _removed(ctx, window, change, lingering=event.status != "cancelled")
        window, after = _moved(ctx, window, change, outcome, event.updated)
        if after is None:
            return window
        event = after  # the user moved it again while we were patching: follow that too
    return window


def _moved(
    ctx: PlanningContext, window: Window, change: Change, outcome: FollowOutcome, changed_at: datetime | None
) -> tuple[Window, CalendarEvent | None]:
    """Take the new time (or enforce the deadline); returns the window and the event if it moved again."""
    assert change.start is not None and change.end is not None and window.event_id is not None
    now = ctx.clock()
    rules = ctx.teams.rules_for(window.team_id).follow
    moved = window_states.moved(
        window, change.start, change.end, now, late=change.late, etag=None, changed_at=changed_at
    )
    note: str | None = None
    if change.late and rules.deadline_behaviour is DeadlineBehaviour.ENFORCE:
        enforced = _enforced(ctx, moved, now)
        if enforced is not None:
            moved, note = enforced
            outcome.count("enforced")
    if moved.late:
        moved = window_states.note(moved, now, "late", f"starts after the deadline {moved.deadline.isoformat()}")
    html = _html(ctx, moved, note)
    patched = ctx.calendar.patch_event(
        window.user_email,
        window.event_id,
        start=moved.start if note else None,
        end=moved.end if note else None,
        time_zone=moved.time_zone if note else None,
        description_html=html,
        private_properties=booking.event_properties(moved),
    )
    moved = replace(moved, event_html=html, event_etag=patched.etag or window.event_etag)
    scheduled = booking.finish(ctx, [moved])
    if window.task_name:
        ctx.tasks.delete(window.task_name)  # best effort: the dispatcher's revision check is the real guard
    _log_move(moved, window, note)
    moved_again = (patched.start, patched.end) != (moved.start, moved.end) and patched.status != "cancelled"
    return (scheduled[0] if scheduled else moved), (patched if moved_again else None)


def _enforced(ctx: PlanningContext, moved: Window, now: datetime) -> tuple[Window, str] | None:
    """The best slot before the deadline, and the note that explains the change; None when there is none."""
    rules = ctx.teams.slot_rules_for(moved.team_id, moved.time_zone)
    busy = ctx.calendar.busy([moved.user_email], now, moved.deadline + timedelta(days=1)).get(moved.user_email)
    if busy is None or busy.error:
        return None
    mine = Interval(moved.start, moved.end) if moved.start and moved.end else None
    # The event itself sits at the user's (late) time; it will move, so it does not count as busy.
    others = [interval for interval in busy.busy if mine is None or interval != mine]
    absent = booking.out_of_office(ctx, [moved], {moved.user_email: busy}, now, moved.deadline + timedelta(days=1))
    away = absent.get(moved.user_email, AwayResult())
    if away.error:
        return None
    blocked = booking.absences_of(moved, away.away, moved.time_zone, rules, None).blocked
    choice = find_slot(others, moved.time_zone, now, rules, deadline=moved.deadline, away=blocked)
    if isinstance(choice, NoSlot) or choice.late:
        return None
    assert moved.start is not None
    language = ctx.teams.rules_for(moved.team_id).language
    wanted = local_range(moved.start, moved.end or moved.start, moved.time_zone, language)
    note = enforced_note(language, wanted=wanted, deadline=local_day(moved.deadline, moved.time_zone, language))
    detail = f"moved back to {choice.start.isoformat()}, before the deadline {moved.deadline.isoformat()}"
    enforced = replace(moved, start=choice.start, end=choice.end, late=False, reason=choice.reason)
    return window_states.note(enforced, now, "enforced", detail), note


def _html(ctx: PlanningContext, window: Window, note: str | None) -> str:
    """The description for the window's new time (Fleet leaves it stale, #20994)."""
    policies = host_records.policies_by_id(ctx.store, list(window.policy_ids))
    hosts = host_records.window_hosts(ctx.store, [window])
    request = explanation_request(ctx, window, policies, [hosts.get(h, {}) for h in window.host_ids])
    noted = replace(window, note=" ".join(part for part in (note, window.note) if part) or None)
    html, _ = render(ctx, noted, request)
    return html


def _log_move(moved: Window, before: Window, note: str | None) -> None:
    fields = {"window_id": moved.window_id, "user_key": moved.user_key, "revision": moved.revision}
    logger.info(
        "window moved by its user",
        event="window_moved",
        start=moved.start,
        previous_start=before.start,
        enforced=note is not None,
        **fields,
    )
    if moved.late:
        logger.warning("window moved past its deadline", event="window_late", **fields)


def _removed(ctx: PlanningContext, window: Window, change: Change, *, lingering: bool) -> Window:
    """Rebook at the next good slot, or decline once the user removed it often enough."""
    rules = ctx.teams.rules_for(window.team_id).follow
    if lingering and window.event_id:
        # All-day, declined or in the past: the old event is still there and would confuse the user.
        _delete_event(ctx, window, window.event_id)
    if window.deletions + 1 >= rules.max_user_deletions:
        return _decline(ctx, window, change)
    return _rebook(ctx, window, change)


def _rebook(ctx: PlanningContext, window: Window, change: Change) -> Window:
    now = ctx.clock()
    rebooked = window_states.rebook_after_deletion(window, now, change.why)
    pause = pause_records.pause_of(ctx.store, window.team_id)
    if pause is not None:  # nothing new is booked during a pause: the planner books it after the pause
        held = replace(rebooked, unplaced_reason=f"paused: {pause.describe()}")
        window_records.save(ctx.store, [held])
        if window.task_name:
            ctx.tasks.delete(window.task_name)
        return held
    # A lone rebooking does not load every open window for the team's capacity: one more is tolerable.
    planned, unplaced = booking.assign_slots(ctx, [rebooked], Capacity())
    if unplaced:
        window_records.save(ctx.store, [rebooked])
        booking.record_unplaced(ctx, unplaced)
        return rebooked
    slot = planned[0]
    start = local_range(slot.start, slot.end, slot.time_zone) if slot.start and slot.end else "?"
    noted = window_states.note(slot, now, "rebooked", f"booking {slot.booking}: {start}")
    done = booking.finish(ctx, [noted])
    if window.task_name:
        ctx.tasks.delete(window.task_name)
    logger.info(
        "window rebooked after its event was removed",
        event="window_rebooked",
        window_id=window.window_id,
        user_key=window.user_key,
        why=change.why,
        deletions=rebooked.deletions,
        start=slot.start,
    )
    return done[0] if done else noted


def _decline(ctx: PlanningContext, window: Window, change: Change) -> Window:
    now = ctx.clock()
    why = f"declined by the user: {change.why} ({window.deletions + 1} time(s))"
    try:
        declined = window_states.decline(window, now, why)
    except InvalidTransition:
        logger.warning("cannot decline a window in this state", window_id=window.window_id)
        return window
    window_records.save(ctx.store, [declined])
    # Not rebooked until the deadline the user was given has passed: we do not fight the user.
    ctx.store.commit([window_records.release_user(window, declined_until=window.deadline)])
    if window.task_name:
        ctx.tasks.delete(window.task_name)
    logger.warning(
        "window declined by its user",
        event="window_declined",
        window_id=window.window_id,
        user_key=window.user_key,
        deletions=declined.deletions,
    )
    channels.stop_user_channels(ctx, window.user_key)
    return declined


def _delete_event(ctx: PlanningContext, window: Window, event_id: str) -> None:
    try:
        ctx.calendar.delete_event(window.user_email, event_id)
    except CalendarError as problem:
        logger.warning("could not delete the old event", window_id=window.window_id, error=str(problem))


__all__ = [
    "FollowOutcome",
    "apply_changes",
    "on_notification",
    "sync_user",
]
