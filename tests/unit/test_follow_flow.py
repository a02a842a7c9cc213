"""Channels, notifications and rescheduling against in-process fakes (the integration tests use real servers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.auth.channel_tokens import token_digest
from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.domain.ids import event_id, user_key, window_id
from maintenance_windows.domain.rules import DeadlineBehaviour, FollowRules, TeamRules
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.handlers.calendar_notifications import handle_calendar_notifications
from maintenance_windows.handlers.http import HttpRequest
from maintenance_windows.planning import booking, leases
from maintenance_windows.planning.channels import ChannelKeeper
from maintenance_windows.planning.context import PlanningContext
from maintenance_windows.planning.planner import PlanReport
from maintenance_windows.ports.calendar import (
    BusyResult,
    CalendarError,
    CalendarEvent,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    SyncTokenExpired,
    WatchRequest,
)
from maintenance_windows.ports.fleet import FleetPort
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.channels import ChannelState

ALICE = "alice@example.com"
NOW = datetime(2031, 3, 3, 8, 0, tzinfo=UTC)  # a Monday
FIRST_START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
NOTIFY_URL = "https://example.test/calendar_notifications"


class FakeCalendar:
    """Just enough of CalendarPort: events with etags, a change log for sync tokens, channels."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.events: dict[str, CalendarEvent] = {}
        self.log: list[tuple[int, str]] = []  # (sequence, event id)
        self.etags = 0
        self.watched: list[tuple[str, str, str, int]] = []
        self.stopped: list[str] = []
        self.patches = 0
        self.expired_tokens: set[str] = set()
        self.on_list: Callable[[], None] | None = None
        self.list_calls = 0

    def _store(self, event: CalendarEvent) -> CalendarEvent:
        self.etags += 1
        stored = replace(event, etag=f'"{self.etags}"')
        self.events[stored.event_id] = stored
        self.log.append((len(self.log) + 1, stored.event_id))
        return stored

    # CalendarPort
    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        return {email: "UTC" for email in emails}

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        return {email: BusyResult() for email in emails}

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        results = []
        for spec in specs:
            if spec.event_id in self.events:
                results.append(InsertResult(spec.event_id, created=False))
                continue
            event = CalendarEvent(
                spec.event_id, "confirmed", spec.start, spec.end, False, None, NOW, dict(spec.private_properties)
            )
            results.append(InsertResult(spec.event_id, created=True, etag=self._store(event).etag))
        return results

    def patch_event(
        self,
        user_email: str,
        event_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        time_zone: str | None = None,
        summary: str | None = None,
        description_html: str | None = None,
        private_properties: Mapping[str, str] | None = None,
    ) -> CalendarEvent:
        self.patches += 1
        event = self.events[event_id]
        event = replace(event, start=start or event.start, end=end or event.end, summary=description_html or "")
        if private_properties is not None:
            event = replace(event, private_properties=dict(private_properties))
        return self._store(event)

    def delete_event(self, user_email: str, event_id: str) -> bool:
        self._store(replace(self.events[event_id], status="cancelled"))
        return True

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        return self.events.get(event_id)

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        self.list_calls += 1
        if self.on_list is not None:
            hook, self.on_list = self.on_list, None
            hook()
        if sync_token in self.expired_tokens:
            raise SyncTokenExpired("gone", status=410, reason="fullSyncRequired")
        since = int(sync_token) if sync_token else 0
        changed = dict.fromkeys(event for seq, event in self.log if seq > since)
        return ChangeSet(tuple(self.events[e] for e in changed), str(len(self.log)))

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        return []

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        self.watched.append((user_email, channel_id, token, ttl_seconds))
        return Channel(channel_id, f"res-{user_email}", self.clock() + timedelta(seconds=ttl_seconds))

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        return [self.watch(r.user_email, r.channel_id, r.token, r.address, r.ttl_seconds) for r in requests]

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        return {email: self.list_changes(email, None).next_sync_token for email in emails}

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        self.stopped.append(channel_id)

    # acting as the user
    def user_moves(self, event_id: str, start: datetime) -> None:
        event = self.events[event_id]
        self._store(replace(event, start=start, end=start + timedelta(minutes=30)))

    def user_deletes(self, event_id: str) -> None:
        self.delete_event(ALICE, event_id)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def calendar(clock: Clock) -> FakeCalendar:
    return FakeCalendar(clock)


def _context(calendar: FakeCalendar, clock: Clock, follow: FollowRules | None = None) -> PlanningContext:
    teams = TeamsConfig(defaults=TeamRules(follow=follow or FollowRules()))
    return PlanningContext(
        store=MemoryStore(),
        calendar=calendar,
        fleet=cast(FleetPort, object()),
        tasks=MemoryTaskQueue(),
        explainer=TemplateExplainer(),
        teams=teams,
        clock=clock,
        notifications_url=NOTIFY_URL,
    )


@pytest.fixture
def ctx(calendar: FakeCalendar, clock: Clock) -> PlanningContext:
    return _context(calendar, clock)


def _booked_window(ctx: PlanningContext, email: str = ALICE) -> Window:
    key = user_key(email)
    window = Window(
        window_id=window_id(key, 1),
        user_key=key,
        user_email=email,
        team_id=None,
        host_ids=(1,),
        policy_ids=(7,),
        deadline=NOW + timedelta(days=7),
        created_at=NOW,
        state=WindowState.PLANNED,
        start=FIRST_START,
        end=FIRST_START + timedelta(minutes=30),
        event_id=event_id(window_id(key, 1), 0),
    )
    ctx.store.commit([window_records.user_write(key, email=email, open_window_id=window.window_id)])
    return booking.finish(ctx, [window])[0]


def _tasks(ctx: PlanningContext) -> MemoryTaskQueue:
    return cast(MemoryTaskQueue, ctx.tasks)


def _notify(ctx: PlanningContext, channel_id: str, token: str, number: int, state: str = "exists") -> int:
    record = channel_records.get(ctx.store, channel_id)
    headers = {
        "X-Goog-Channel-ID": channel_id,
        "X-Goog-Channel-Token": token,
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": str(number),
        "X-Goog-Resource-ID": record.resource_id or "" if record else "",
    }
    return handle_calendar_notifications(HttpRequest("POST", headers, {}, b""), ctx).status


def _channel(ctx: PlanningContext, calendar: FakeCalendar) -> tuple[str, str]:
    """Open channels for the open windows; returns the newest channel id and its token."""
    ChannelKeeper()(ctx, window_records.open_windows(ctx.store), PlanReport())
    _, channel_id, token, _ = calendar.watched[-1]
    return channel_id, token


# ---- channels --------------------------------------------------------------------------------------


def test_a_user_with_a_booked_window_gets_one_channel_storing_only_the_token_digest(
    ctx: PlanningContext, calendar: FakeCalendar
) -> None:
    window = _booked_window(ctx)
    report = PlanReport()
    keeper = ChannelKeeper()
    keeper(ctx, window_records.open_windows(ctx.store), report)
    keeper(ctx, window_records.open_windows(ctx.store), PlanReport())  # idempotent

    assert len(calendar.watched) == 1
    _, channel_id, token, ttl = calendar.watched[0]
    assert ttl == 7 * 24 * 3600
    record = channel_records.get(ctx.store, channel_id)
    assert record is not None and record.state is ChannelState.CURRENT
    assert record.token_digest == token_digest(token)
    assert token not in str(ctx.store.get(channel_records.CHANNELS, channel_id))
    assert record.sync_token == str(len(calendar.log))  # taken right after the watch
    assert window_records.users(ctx.store, [window.user_key])[window.user_key]["channel_id"] == channel_id
    assert report.extra["channels_created"] == 1


def test_an_expiring_channel_is_replaced_keeping_its_sync_position(
    ctx: PlanningContext, calendar: FakeCalendar, clock: Clock
) -> None:
    window = _booked_window(ctx)
    old_id, _ = _channel(ctx, calendar)
    ctx.store.commit([channel_records.sync_progress(old_id, "1", 4)])
    clock.now = NOW + timedelta(days=6, hours=1)  # expires within a day

    new_id, _ = _channel(ctx, calendar)

    assert new_id != old_id and calendar.stopped == [old_id]
    old, new = channel_records.get(ctx.store, old_id), channel_records.get(ctx.store, new_id)
    assert old is not None and old.state is ChannelState.RETIRED
    assert new is not None and new.state is ChannelState.CURRENT and new.sync_token == "1"
    assert window_records.users(ctx.store, [window.user_key])[window.user_key]["channel_id"] == new_id

    clock.now += timedelta(hours=1)  # past the grace period: the retired document goes
    ChannelKeeper()(ctx, window_records.open_windows(ctx.store), PlanReport())
    assert channel_records.get(ctx.store, old_id) is None
    assert len(calendar.watched) == 2


def test_a_user_without_booked_windows_loses_the_channel(ctx: PlanningContext, calendar: FakeCalendar) -> None:
    _booked_window(ctx)
    channel_id, _ = _channel(ctx, calendar)
    ChannelKeeper()(ctx, [], PlanReport())
    record = channel_records.get(ctx.store, channel_id)
    assert calendar.stopped == [channel_id]
    assert record is not None and record.state is ChannelState.RETIRED


# ---- notifications ---------------------------------------------------------------------------------


def test_unknown_channel_wrong_token_and_sync_messages_change_nothing(
    ctx: PlanningContext, calendar: FakeCalendar
) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    calendar.user_moves(window.event_id or "", FIRST_START + timedelta(hours=2))
    calls = calendar.list_calls

    assert _notify(ctx, "not-a-channel", token, 2) == 401
    assert _notify(ctx, channel_id, token + "x", 2) == 403
    assert _notify(ctx, channel_id, token, 1, state="sync") == 200
    assert _notify(ctx, channel_id, token, 2, state="not_exists") == 200
    assert calendar.list_calls == calls
    assert ctx.store.query(channel_records.PENDING) == []
    assert window_records.load(ctx.store, window.window_id) == window


def test_a_move_takes_the_new_time_under_a_new_revision(ctx: PlanningContext, calendar: FakeCalendar) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    new_start = FIRST_START + timedelta(days=1, hours=3)
    calendar.user_moves(window.event_id or "", new_start)

    assert _notify(ctx, channel_id, token, 2) == 200
    assert _notify(ctx, channel_id, token, 2) == 200  # a duplicate

    moved = window_records.load(ctx.store, window.window_id)
    assert moved is not None and moved.state is WindowState.SCHEDULED
    assert (moved.revision, moved.start) == (1, new_start)
    assert calendar.events[window.event_id or ""].private_properties["mw_revision"] == "1"
    pending = _tasks(ctx).pending()
    assert [(task.at, task.payload["revision"]) for task in pending] == [(new_start, 1)]
    assert [entry.kind for entry in moved.history][-2:] == ["moved", "booked"]
    # The echo of our own patch is ignored: a further sync changes nothing.
    assert _notify(ctx, channel_id, token, 3) == 200
    assert window_records.load(ctx.store, window.window_id) == moved
    assert calendar.patches == 1


def test_a_notification_that_finds_the_lease_held_is_applied_by_the_holder(
    ctx: PlanningContext, calendar: FakeCalendar
) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    first = FIRST_START + timedelta(hours=1)
    second = FIRST_START + timedelta(hours=5)
    calendar.user_moves(window.event_id or "", first)
    answers: list[int] = []

    def second_move_during_the_first_sync() -> None:
        calendar.user_moves(window.event_id or "", second)
        answers.append(_notify(ctx, channel_id, token, 3))  # the lease is held: recorded, not lost

    calendar.on_list = second_move_during_the_first_sync
    assert _notify(ctx, channel_id, token, 2) == 200

    assert answers == [200]
    moved = window_records.load(ctx.store, window.window_id)
    assert moved is not None and moved.start == second
    assert ctx.store.query(channel_records.PENDING) == []
    assert leases.claim(ctx.store, leases.user_lease(window.user_key), NOW, NOW + timedelta(minutes=1))
    record = channel_records.get(ctx.store, channel_id)
    assert record is not None and record.last_message_number == 3


def test_an_expired_sync_token_falls_back_to_a_full_sync(ctx: PlanningContext, calendar: FakeCalendar) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    record = channel_records.get(ctx.store, channel_id)
    assert record is not None and record.sync_token is not None
    calendar.expired_tokens.add(record.sync_token)
    new_start = FIRST_START + timedelta(hours=4)
    calendar.user_moves(window.event_id or "", new_start)

    assert _notify(ctx, channel_id, token, 2) == 200
    moved = window_records.load(ctx.store, window.window_id)
    assert moved is not None and moved.start == new_start
    after = channel_records.get(ctx.store, channel_id)
    assert after is not None and after.sync_token not in calendar.expired_tokens


def test_deleted_twice_is_rebooked_then_declined(ctx: PlanningContext, calendar: FakeCalendar) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    calendar.user_deletes(window.event_id or "")
    assert _notify(ctx, channel_id, token, 2) == 200

    rebooked = window_records.load(ctx.store, window.window_id)
    assert rebooked is not None and rebooked.state is WindowState.SCHEDULED
    assert (rebooked.booking, rebooked.deletions) == (1, 1)
    assert rebooked.event_id != window.event_id and rebooked.event_id in calendar.events

    calendar.user_deletes(rebooked.event_id or "")
    assert _notify(ctx, channel_id, token, 3) == 200
    declined = window_records.load(ctx.store, window.window_id)
    assert declined is not None and declined.state is WindowState.DECLINED
    assert _tasks(ctx).pending() == []
    assert window_records.users(ctx.store, [window.user_key])[window.user_key]["open_window_id"] is None
    assert calendar.stopped == [channel_id]


@pytest.mark.parametrize("behaviour", [DeadlineBehaviour.KEEP, DeadlineBehaviour.ENFORCE])
def test_a_move_past_the_deadline(calendar: FakeCalendar, clock: Clock, behaviour: DeadlineBehaviour) -> None:
    ctx = _context(calendar, clock, FollowRules(deadline_behaviour=behaviour))
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    late = window.deadline + timedelta(days=1)
    calendar.user_moves(window.event_id or "", late)

    assert _notify(ctx, channel_id, token, 2) == 200
    after = window_records.load(ctx.store, window.window_id)
    assert after is not None and after.start is not None and after.state is WindowState.SCHEDULED
    kinds = [entry.kind for entry in after.history]
    event = calendar.events[window.event_id or ""]
    if behaviour is DeadlineBehaviour.KEEP:
        assert (after.start, after.late) == (late, True) and "late" in kinds
    else:
        assert after.start < window.deadline and not after.late and "enforced" in kinds
        assert event.start == after.start
        assert "moved back before the deadline" in event.summary  # the fake keeps the description here


def test_mw_channels_rows_show_the_overlap_state(ctx: PlanningContext, calendar: FakeCalendar, clock: Clock) -> None:
    from maintenance_windows.cli.channel_commands import channel_rows

    _booked_window(ctx)
    old_id, _ = _channel(ctx, calendar)
    clock.now = NOW + timedelta(days=6, hours=12)
    new_id, _ = _channel(ctx, calendar)

    rows = {row["channel_id"]: row for row in channel_rows(channel_records.all_channels(ctx.store), clock.now)}
    assert (rows[old_id]["state"], rows[new_id]["state"]) == ("old-overlap", "current")
    assert rows[new_id]["expires_in_hours"] == 168.0 and rows[new_id]["sync_token"] is True
    assert rows[new_id]["user"] == ALICE
