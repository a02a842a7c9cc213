"""Following calendars that cannot push (service/polling.py), on the memory doubles: the polled channels of
booked people are synced through the follow use case, on the follow job's call and from planning runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from maintenance_windows.domain.windows import WindowState
from maintenance_windows.ports.calendar import CalendarUnavailable
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.planner import PlanOptions, plan_windows
from maintenance_windows.service.polling import FOLLOWED_RECENTLY, POLLED, PolledFollower, follow_polled
from tests.support.world import DOMAIN, World

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


def polled_world(*people: str) -> World:
    """Booked windows whose channels the calendar opened as polled (as the CalDAV adapter does)."""
    world = World()
    for index, email in enumerate(people, start=1):
        world.host(index, email)
    world.plan()
    ChannelKeeper().maintain(world.ctx, world.windows())
    records = channel_records.all_channels(world.store)
    world.store.commit([channel_records.save(replace(record, resource_id=POLLED)) for record in records])
    return world


def test_a_move_is_followed_at_the_follow_jobs_next_call() -> None:
    world = polled_world(ALICE)
    (booked,) = world.windows()
    assert booked.start is not None
    assert booked.event_id is not None
    later = booked.start + timedelta(hours=2)
    world.calendar.user_moves(ALICE, booked.event_id, later)
    world.clock.advance(timedelta(minutes=5))
    report = follow_polled(world.ctx)
    assert (report.polled, report.failed) == (1, 0)
    (moved,) = world.windows()
    assert moved.start == later
    assert moved.revision == booked.revision + 1


def test_a_deletion_is_rebooked_at_the_follow_jobs_next_call() -> None:
    world = polled_world(ALICE)
    (booked,) = world.windows()
    assert booked.event_id is not None
    world.calendar.user_deletes(ALICE, booked.event_id)
    world.clock.advance(timedelta(minutes=5))
    follow_polled(world.ctx)
    (rebooked,) = world.windows()
    assert rebooked.deletions == 1
    assert rebooked.event_id != booked.event_id
    assert rebooked.state in (WindowState.PLANNED, WindowState.SCHEDULED)


def test_pushed_channels_are_left_to_their_notifications() -> None:
    world = World()
    world.host(1, ALICE)
    world.plan()
    ChannelKeeper().maintain(world.ctx, world.windows())
    assert channel_records.all_channels(world.store)
    assert follow_polled(world.ctx).polled == 0


def test_a_planning_run_skips_what_was_just_opened_or_just_synced() -> None:
    world = polled_world(ALICE)
    assert follow_polled(world.ctx, FOLLOWED_RECENTLY).not_due == 1  # opened just now: nothing to read
    world.clock.advance(FOLLOWED_RECENTLY)
    assert follow_polled(world.ctx).polled == 1
    world.clock.advance(timedelta(minutes=2))
    assert follow_polled(world.ctx, FOLLOWED_RECENTLY).not_due == 1
    report = plan_windows(world.ctx, PlanOptions(time_budget=timedelta(minutes=5)), (PolledFollower(),))
    assert report.extra["calendars_not_due"] == 1
    world.clock.advance(FOLLOWED_RECENTLY)
    report = plan_windows(world.ctx, PlanOptions(time_budget=timedelta(minutes=5)), (PolledFollower(),))
    assert report.extra["calendars_polled"] == 1


def test_one_persons_failure_leaves_the_others_followed_and_waits_for_the_next_call() -> None:
    world = polled_world(ALICE, BOB)
    before = {window.user_email: window for window in world.windows()}
    for email, window in before.items():
        assert window.start is not None
        assert window.event_id is not None
        world.calendar.user_moves(email, window.event_id, window.start + timedelta(hours=1))
    world.calendar.fail_next("list_changes", CalendarUnavailable("the server is down", status=503))
    world.clock.advance(timedelta(minutes=5))
    report = follow_polled(world.ctx)
    assert (report.polled, report.failed) == (1, 1)
    moved = {w.user_email: w.revision - before[w.user_email].revision for w in world.windows()}
    assert sorted(moved.values()) == [0, 1]  # one followed, the other left as it was
    world.clock.advance(timedelta(minutes=5))
    assert follow_polled(world.ctx).failed == 0
    assert all(w.revision == before[w.user_email].revision + 1 for w in world.windows())
