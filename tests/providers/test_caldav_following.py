"""Following a CalDAV calendar end to end: the planner books in Radicale, the person moves and deletes the
event with the `caldav` library as their calendar app would, and the next scheduled sync (no push in
CalDAV) brings the window along through the same follow use case as Google's notifications."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from infra.radicale_server import SERVICE_ACCOUNT, RunningRadicale
from maintenance_windows.adapters.caldav import CalDavCalendarAdapter, CalDavCredentials
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.windows import WindowState
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.planner import PlanOptions, plan_windows
from maintenance_windows.service.polling import FOLLOWED_RECENTLY, POLLED, PolledFollower, follow_polled
from tests.providers.caldav_harness import CalDavHarness
from tests.support.world import DOMAIN, World

ADA = f"ada@{DOMAIN}"


@pytest.fixture
def world(radicale: RunningRadicale) -> World:
    person = CalDavHarness(radicale)  # resets the server's calendars
    teams = parse_teams({"defaults": {"domains": [DOMAIN], "calendar": "caldav", "caldav": {"url": radicale.url}}})
    built = World(teams=teams)
    adapter = CalDavCalendarAdapter(
        servers=teams.caldav_server_for,
        credentials=CalDavCredentials(
            {"service_account": {"username": SERVICE_ACCOUNT, "password": radicale.service_password}}
        ),
        retry=RetryPolicy(max_attempts=2, base_delay_seconds=0.001, max_delay_seconds=0.01),
        clock=built.clock,
    )
    built.ctx = dataclasses.replace(built.ctx, calendar=adapter)
    person.add_person(ADA, "Europe/Paris")
    built.person = person  # type: ignore[attr-defined]
    return built


def plan(world: World) -> None:
    plan_windows(world.ctx, PlanOptions(time_budget=timedelta(minutes=5)), (ChannelKeeper(), PolledFollower()))


def person(world: World) -> CalDavHarness:
    found: CalDavHarness = world.person  # type: ignore[attr-defined]
    return found


def test_the_planner_books_in_radicale_and_opens_a_polled_channel(world: World) -> None:
    world.host(1, ADA)
    plan(world)
    (window,) = world.windows()
    assert window.state is WindowState.SCHEDULED or window.state is WindowState.PLANNED
    assert window.start is not None
    assert window.event_id is not None
    assert person(world).live_events(ADA) == [(window.start, window.end, person(world).live_events(ADA)[0][2])]
    (channel,) = channel_records.all_channels(world.store)
    assert channel.resource_id == POLLED
    assert channel.sync_token


def test_a_move_in_the_persons_app_is_followed_at_the_next_sync(world: World) -> None:
    world.host(1, ADA)
    plan(world)
    (booked,) = world.windows()
    assert booked.start is not None
    assert booked.event_id is not None
    later = booked.start + timedelta(days=1, hours=1)
    person(world).person_moves(ADA, booked.event_id, later, later + (booked.end - booked.start))  # type: ignore[operator]
    world.clock.advance(timedelta(minutes=5))
    assert follow_polled(world.ctx).polled == 1
    (moved,) = world.windows()
    assert moved.start == later
    assert moved.revision == booked.revision + 1
    # Our own write (the revision's patch) comes back in the next sync: recognised by etag, nothing changes.
    world.clock.advance(timedelta(minutes=5))
    assert follow_polled(world.ctx).polled == 1
    assert world.windows()[0].revision == moved.revision


def test_a_deletion_in_the_persons_app_is_rebooked_at_the_next_sync(world: World) -> None:
    world.host(1, ADA)
    plan(world)
    (booked,) = world.windows()
    assert booked.event_id is not None
    person(world).person_deletes(ADA, booked.event_id)
    assert person(world).live_events(ADA) == []
    world.clock.advance(timedelta(minutes=5))
    follow_polled(world.ctx)
    (rebooked,) = world.windows()
    assert rebooked.deletions == 1
    assert rebooked.event_id != booked.event_id
    assert [(start, end) for start, end, _ in person(world).live_events(ADA)] == [(rebooked.start, rebooked.end)]


def test_a_planning_run_leaves_alone_what_the_follow_job_just_synced(world: World) -> None:
    world.host(1, ADA)
    plan(world)
    world.clock.advance(timedelta(minutes=5))
    assert follow_polled(world.ctx).polled == 1  # the follow job syncs every polled calendar
    world.clock.advance(timedelta(minutes=2))
    assert follow_polled(world.ctx).polled == 1
    report = follow_polled(world.ctx, FOLLOWED_RECENTLY)  # what the planner's hook asks
    assert (report.polled, report.not_due) == (0, 1)
    world.clock.advance(FOLLOWED_RECENTLY)
    assert follow_polled(world.ctx, FOLLOWED_RECENTLY).polled == 1
