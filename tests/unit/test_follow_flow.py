"""Channels, notifications and rescheduling on the memory doubles (the integration tests use the stand-ins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from maintenance_windows.adapters.memory_calendar import MemoryCalendar
from maintenance_windows.adapters.memory_fleet import MemoryFleet
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
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import leases
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.channels import ChannelState
from maintenance_windows.service import booking
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanReport

ALICE = "alice@example.com"
NOW = datetime(2031, 3, 3, 8, 0, tzinfo=UTC)  # a Monday
FIRST_START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
NOTIFY_URL = "https://example.test/calendar_notifications"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def calendar(clock: Clock) -> MemoryCalendar:
    return MemoryCalendar(clock)


def _context(calendar: MemoryCalendar, clock: Clock, follow: FollowRules | None = None) -> PlanningContext:
    teams = TeamsConfig(defaults=TeamRules(follow=follow or FollowRules()))
    return PlanningContext(
        store=MemoryStore(),
        calendar=calendar,
        fleet=MemoryFleet(),
        tasks=MemoryTaskQueue(),
        explainer=TemplateExplainer(),
        teams=teams,
        clock=clock,
        notifications_url=NOTIFY_URL,
    )


@pytest.fixture
def ctx(calendar: MemoryCalendar, clock: Clock) -> PlanningContext:
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


def _channel(ctx: PlanningContext, calendar: MemoryCalendar) -> tuple[str, str]:
    """Open channels for the open windows; returns the newest channel id and its token."""
    ChannelKeeper()(ctx, window_records.open_windows(ctx.store), PlanReport())
    newest = calendar.watched[-1]
    return newest.channel_id, newest.token


# ---- channels --------------------------------------------------------------------------------------


def test_a_user_with_a_booked_window_gets_one_channel_storing_only_the_token_digest(
    ctx: PlanningContext, calendar: MemoryCalendar
) -> None:
    window = _booked_window(ctx)
    report = PlanReport()
    keeper = ChannelKeeper()
    keeper(ctx, window_records.open_windows(ctx.store), report)
    keeper(ctx, window_records.open_windows(ctx.store), PlanReport())  # idempotent

    assert len(calendar.watched) == 1
    channel_id, token = calendar.watched[0].channel_id, calendar.watched[0].token
    assert calendar.watched[0].expiration == NOW + timedelta(days=7)
    record = channel_records.get(ctx.store, channel_id)
    assert record is not None
    assert record.state is ChannelState.CURRENT
    assert record.token_digest == token_digest(token)
    assert token not in str(ctx.store.get(channel_records.CHANNELS, channel_id))
    assert record.sync_token is not None  # taken right after the watch: nothing has changed since
    assert calendar.list_changes(ALICE, record.sync_token).events == ()
    assert window_records.users(ctx.store, [window.user_key])[window.user_key]["channel_id"] == channel_id
    assert report.extra["channels_created"] == 1


def test_an_expiring_channel_is_replaced_keeping_its_sync_position(
    ctx: PlanningContext, calendar: MemoryCalendar, clock: Clock
) -> None:
    window = _booked_window(ctx)
    old_id, _ = _channel(ctx, calendar)
    position = calendar.list_changes(ALICE, None).next_sync_token
    assert channel_records.record_sync_progress(ctx.store, old_id, position, 4)
    clock.now = NOW + timedelta(days=6, hours=19)  # expires within RENEW_BEFORE (6 hours)

    new_id, _ = _channel(ctx, calendar)

    assert new_id != old_id
    assert calendar.stopped == [old_id]
    old, new = channel_records.get(ctx.store, old_id), channel_records.get(ctx.store, new_id)
    assert old is not None
    assert old.state is ChannelState.RETIRED
    assert new is not None
    assert new.state is ChannelState.CURRENT
    assert new.sync_token == position
    assert window_records.users(ctx.store, [window.user_key])[window.user_key]["channel_id"] == new_id

    clock.now += timedelta(hours=1)  # past the grace period: the retired document goes
    ChannelKeeper()(ctx, window_records.open_windows(ctx.store), PlanReport())
    assert channel_records.get(ctx.store, old_id) is None
    assert len(calendar.watched) == 2


def test_a_user_without_booked_windows_loses_the_channel(ctx: PlanningContext, calendar: MemoryCalendar) -> None:
    _booked_window(ctx)
    channel_id, _ = _channel(ctx, calendar)
    ChannelKeeper()(ctx, [], PlanReport())
    record = channel_records.get(ctx.store, channel_id)
    assert calendar.stopped == [channel_id]
    assert record is not None
    assert record.state is ChannelState.RETIRED


# ---- notifications ---------------------------------------------------------------------------------


def test_unknown_channel_wrong_token_and_sync_messages_change_nothing(
    ctx: PlanningContext, calendar: MemoryCalendar
) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    calendar.user_moves(ALICE, window.event_id or "", FIRST_START + timedelta(hours=2))
    calls = calendar.calls["list_changes"]

    assert _notify(ctx, "not-a-channel", token, 2) == 401
    assert _notify(ctx, channel_id, token + "x", 2) == 403
    assert _notify(ctx, channel_id, token, 1, state="sync") == 200
    assert _notify(ctx, channel_id, token, 2, state="not_exists") == 200
    assert calendar.calls["list_changes"] == calls
    assert ctx.store.query(channel_records.PENDING) == []
    assert window_records.load(ctx.store, window.window_id) == window


def test_a_move_takes_the_new_time_under_a_new_revision(ctx: PlanningContext, calendar: MemoryCalendar) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    new_start = FIRST_START + timedelta(days=1, hours=3)
    calendar.user_moves(ALICE, window.event_id or "", new_start)
    moved_by_user = calendar.stored(ALICE, window.event_id or "")

    assert _notify(ctx, channel_id, token, 2) == 200
    assert _notify(ctx, channel_id, token, 2) == 200  # a duplicate

    moved = window_records.load(ctx.store, window.window_id)
    assert moved is not None
    assert moved.state is WindowState.SCHEDULED
    assert (moved.revision, moved.start) == (1, new_start)
    event = calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    assert event.private_properties["mw_revision"] == "1"
    pending = _tasks(ctx).pending()
    assert [(task.at, task.payload["revision"]) for task in pending] == [(new_start, 1)]
    assert [entry.kind for entry in moved.history][-2:] == ["moved", "booked"]
    # When the person moved it is kept, so the status page can tell how long following took.
    assert moved_by_user is not None
    assert moved.history[-2].changed_at == moved_by_user.updated
    # The echo of our own patch is ignored: a further sync changes nothing.
    assert _notify(ctx, channel_id, token, 3) == 200
    assert window_records.load(ctx.store, window.window_id) == moved
    assert calendar.calls["patch_event"] == 1


def test_a_notification_that_finds_the_lease_held_is_applied_by_the_holder(
    ctx: PlanningContext, calendar: MemoryCalendar
) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    first = FIRST_START + timedelta(hours=1)
    second = FIRST_START + timedelta(hours=5)
    calendar.user_moves(ALICE, window.event_id or "", first)
    answers: list[int] = []

    def second_move_during_the_first_sync() -> None:
        calendar.user_moves(ALICE, window.event_id or "", second)
        answers.append(_notify(ctx, channel_id, token, 3))  # the lease is held: recorded, not lost

    calendar.when_called("list_changes", second_move_during_the_first_sync)
    assert _notify(ctx, channel_id, token, 2) == 200

    assert answers == [200]
    moved = window_records.load(ctx.store, window.window_id)
    assert moved is not None
    assert moved.start == second
    assert ctx.store.query(channel_records.PENDING) == []
    assert leases.claim(ctx.store, leases.user_lease(window.user_key), NOW, NOW + timedelta(minutes=1)) is not None
    record = channel_records.get(ctx.store, channel_id)
    assert record is not None
    assert record.last_message_number == 3


def test_an_expired_sync_token_falls_back_to_a_full_sync(ctx: PlanningContext, calendar: MemoryCalendar) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    record = channel_records.get(ctx.store, channel_id)
    assert record is not None
    assert record.sync_token is not None
    calendar.expire_sync_tokens(ALICE)
    new_start = FIRST_START + timedelta(hours=4)
    calendar.user_moves(ALICE, window.event_id or "", new_start)

    assert _notify(ctx, channel_id, token, 2) == 200
    moved = window_records.load(ctx.store, window.window_id)
    assert moved is not None
    assert moved.start == new_start
    after = channel_records.get(ctx.store, channel_id)
    assert after is not None
    assert after.sync_token is not None
    assert after.sync_token != record.sync_token
    # The new position is valid; all it has seen since is our own patch, which the next sync ignores.
    assert [event.etag for event in calendar.list_changes(ALICE, after.sync_token).events] == [moved.event_etag]


def test_deleted_twice_is_rebooked_then_declined(ctx: PlanningContext, calendar: MemoryCalendar) -> None:
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    calendar.user_deletes(ALICE, window.event_id or "")
    assert _notify(ctx, channel_id, token, 2) == 200

    rebooked = window_records.load(ctx.store, window.window_id)
    assert rebooked is not None
    assert rebooked.state is WindowState.SCHEDULED
    assert (rebooked.booking, rebooked.deletions) == (1, 1)
    new_event = calendar.stored(ALICE, rebooked.event_id or "")
    assert rebooked.event_id != window.event_id
    assert new_event is not None
    assert new_event.status == "confirmed"
    assert "This is a new time" in new_event.description_html

    calendar.user_deletes(ALICE, rebooked.event_id or "")
    assert _notify(ctx, channel_id, token, 3) == 200
    declined = window_records.load(ctx.store, window.window_id)
    assert declined is not None
    assert declined.state is WindowState.DECLINED
    assert _tasks(ctx).pending() == []
    assert window_records.users(ctx.store, [window.user_key])[window.user_key]["open_window_id"] is None
    assert calendar.stopped == [channel_id]


@pytest.mark.parametrize("behaviour", [DeadlineBehaviour.KEEP, DeadlineBehaviour.ENFORCE])
def test_a_move_past_the_deadline(calendar: MemoryCalendar, clock: Clock, behaviour: DeadlineBehaviour) -> None:
    ctx = _context(calendar, clock, FollowRules(deadline_behaviour=behaviour))
    window = _booked_window(ctx)
    channel_id, token = _channel(ctx, calendar)
    late = window.deadline + timedelta(days=1)
    calendar.user_moves(ALICE, window.event_id or "", late)

    assert _notify(ctx, channel_id, token, 2) == 200
    after = window_records.load(ctx.store, window.window_id)
    assert after is not None
    assert after.start is not None
    assert after.state is WindowState.SCHEDULED
    kinds = [entry.kind for entry in after.history]
    event = calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    if behaviour is DeadlineBehaviour.KEEP:
        assert (after.start, after.late) == (late, True)
        assert "late" in kinds
    else:
        assert after.start < window.deadline
        assert not after.late
        assert "enforced" in kinds
        assert event.start == after.start
        assert "moved back before the deadline" in event.description_html


def test_mw_channels_rows_show_the_overlap_state(ctx: PlanningContext, calendar: MemoryCalendar, clock: Clock) -> None:
    from maintenance_windows.cli.channel_commands import channel_rows

    _booked_window(ctx)
    old_id, _ = _channel(ctx, calendar)
    clock.now = NOW + timedelta(days=6, hours=20)
    new_id, _ = _channel(ctx, calendar)

    rows = {row["channel_id"]: row for row in channel_rows(channel_records.all_channels(ctx.store), clock.now)}
    assert (rows[old_id]["state"], rows[new_id]["state"]) == ("old-overlap", "current")
    assert rows[new_id]["expires_in_hours"] == 168.0
    assert rows[new_id]["sync_token"] is True
    assert rows[new_id]["user"] == ALICE
