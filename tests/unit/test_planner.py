"""plan_windows' use case on the memory doubles: reconcile, owners, one window per user, booking, resuming."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from maintenance_windows.config.teams import parse_teams
from maintenance_windows.domain.ids import event_id, user_key, window_id
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.calendar import CalendarUnavailable, EventSpec
from maintenance_windows.ports.fleet import DeviceEmail, FleetNotFound, FleetUnavailable
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import leases
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.channels import ChannelKeeper
from maintenance_windows.service.planner import PLANNER_LEASE, PlanOptions, plan_windows
from tests.support.world import DOMAIN, MONDAY, World, fleet_policy

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


@pytest.fixture
def world() -> World:
    return World()


def _only_window(world: World) -> Window:
    (window,) = world.windows()
    return window


def test_a_failing_host_gets_one_window_with_an_event_and_a_task(world: World) -> None:
    world.host(1, ALICE)
    report = world.plan()

    assert (report.hosts_failing, report.windows_opened, report.windows_booked, report.complete) == (1, 1, 1, True)
    window = _only_window(world)
    assert window.state is WindowState.SCHEDULED
    assert window.user_email == ALICE
    assert window.window_id == window_id(user_key(ALICE), 1)
    assert window.host_ids == (1,)
    assert window.policy_ids == (1,)
    assert window.start is not None
    assert window.end is not None
    assert MONDAY < window.start < window.deadline
    local = window.start.astimezone(ZoneInfo(window.time_zone))
    assert local.weekday() < 5
    assert 9 <= local.hour < 17
    event = world.calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    assert (event.start, event.end) == (window.start, window.end)
    assert event.private_properties == {"mw_window_id": window.window_id, "mw_revision": "0"}
    assert "Policy 1" in event.description_html
    assert event.etag == window.event_etag
    (task,) = world.tasks.pending()
    assert (task.name, task.at, task.payload["purpose"]) == (window.task_name, window.start, "dispatch")
    assert [entry.kind for entry in window.history] == ["opened", "planned", "booked"]


def test_a_second_run_books_nothing_new(world: World) -> None:
    world.host(1, ALICE)
    world.plan()
    before = _only_window(world)
    report = world.plan()

    assert (report.windows_opened, report.windows_booked, report.windows_rescoped) == (0, 0, 0)
    assert _only_window(world) == before
    assert len(world.calendar.events_of(ALICE)) == 1
    assert len(world.tasks.created) == 1
    assert world.calendar.calls["time_zones"] == 1  # the zone is cached on the user


def test_hosts_of_one_user_share_one_window_and_users_get_their_own(world: World) -> None:
    world.host(1, ALICE)
    world.host(2, ALICE, failing=(2,))
    world.host(3, BOB)
    report = world.plan()

    assert (report.windows_opened, report.windows_booked) == (2, 2)
    alice, bob = sorted(world.windows(), key=lambda window: window.user_email)
    assert (alice.host_ids, alice.policy_ids) == ((1, 2), (1, 2))
    assert (bob.host_ids, bob.policy_ids) == ((3,), (1,))


def test_a_host_that_passes_again_is_closed_and_gets_no_window(world: World) -> None:
    world.host(1, ALICE)
    world.passes(1, 1)
    report = world.plan()

    assert (report.hosts_closed, report.hosts_failing, report.windows_opened) == (1, 0, 0)
    assert world.stored_case(1).status.value == "closed"
    assert world.windows() == []


def test_a_window_whose_hosts_all_pass_is_cancelled_and_its_event_deleted(world: World) -> None:
    world.host(1, ALICE)
    world.plan()
    window = _only_window(world)
    world.passes(1, 1)
    report = world.plan()

    assert report.windows_cancelled == 1
    assert world.windows() == []
    assert world.window(window.window_id).state is WindowState.CANCELLED
    event = world.calendar.stored(ALICE, window.event_id or "")
    assert event is not None
    assert event.status == "cancelled"
    assert world.tasks.pending() == []
    assert window_records.users(world.store, [window.user_key])[window.user_key]["open_window_id"] is None


def test_a_new_failing_host_widens_the_open_window_and_rewrites_its_text(world: World) -> None:
    world.host(1, ALICE)
    world.plan()
    before = _only_window(world)
    world.host(2, ALICE, failing=(2,))
    report = world.plan()

    assert (report.windows_rescoped, report.windows_opened) == (1, 0)
    after = _only_window(world)
    assert (after.host_ids, after.policy_ids) == ((1, 2), (1, 2))
    assert (after.start, after.revision, after.event_id) == (before.start, before.revision, before.event_id)
    event = world.calendar.stored(ALICE, after.event_id or "")
    assert event is not None
    assert "Policy 2" in event.description_html
    assert after.event_html == event.description_html
    assert {"scope_changed", "text_updated"} <= {entry.kind for entry in after.history}


def test_a_window_that_lost_a_host_is_narrowed(world: World) -> None:
    world.host(1, ALICE)
    world.host(2, ALICE)
    world.plan()
    world.passes(2, 1)
    report = world.plan()

    assert (report.windows_rescoped, report.windows_cancelled, report.hosts_closed) == (1, 0, 1)
    assert _only_window(world).host_ids == (1,)


def test_a_host_without_a_workspace_email_is_counted_and_asked_again_later(world: World) -> None:
    world.host(1, "someone@gmail.com")
    report = world.plan()
    assert (report.hosts_without_email, report.windows_opened) == (1, 0)
    case = world.host_case(1)
    assert case["user_email"] is None
    assert case["email_problem"]

    world.fleet.add_host(world.fleet.hosts[1], [])  # no mapping at all now
    world.plan()
    assert world.fleet.emails[1] == []
    world.clock.advance(timedelta(hours=7))  # past RECHECK_MISSING_EMAIL: Fleet is asked again
    world.fleet.emails[1] = [DeviceEmail(ALICE, "google_chrome_profiles")]
    report = world.plan()
    assert (report.hosts_without_email, report.windows_opened) == (0, 1)


def test_a_host_fleet_no_longer_lists_as_failing_is_closed(world: World) -> None:
    world.host(1, ALICE)
    world.fleet.remove_host(1)
    report = world.plan()
    assert (report.hosts_closed, report.windows_opened) == (1, 0)


def test_a_host_deleted_between_the_list_and_the_read_is_recorded_without_an_owner(world: World) -> None:
    world.host(1, ALICE)
    world.fleet.fail_next("get_host", FleetNotFound("Host 1 was not found", status=404))
    report = world.plan()

    assert report.hosts_without_email == 1
    assert world.windows() == []
    assert world.host_case(1)["email_problem"] == "host no longer exists in Fleet"


def test_a_user_who_declined_is_not_booked_again_before_their_deadline(world: World) -> None:
    world.host(1, ALICE)
    key = user_key(ALICE)
    world.store.commit([window_records.user_write(key, declined_until=MONDAY + timedelta(days=3))])
    assert world.plan().windows_opened == 0
    world.clock.advance(timedelta(days=4))
    assert world.plan().windows_opened == 1


def test_an_unreadable_calendar_leaves_the_window_unplaced_with_the_reason(world: World) -> None:
    world.host(1, ALICE)
    world.calendar.refuse_user(ALICE, 404, "notFound")
    report = world.plan()

    assert (report.windows_opened, report.windows_unplaced, report.windows_booked) == (1, 1, 0)
    window = _only_window(world)
    assert window.state is WindowState.NEW
    stored = world.store.get(window_records.WINDOWS, window.window_id)
    assert stored is not None
    assert stored["unplaced_reason"] == "time zone unknown: notFound"


def test_a_calendar_outage_stops_the_run_and_the_next_run_resumes(world: World) -> None:
    world.host(1, ALICE)
    world.calendar.fail_next("insert_events", CalendarUnavailable("503 after retries", status=503))
    with pytest.raises(CalendarUnavailable):
        world.plan()
    assert _only_window(world).state is WindowState.PLANNED  # the plan was stored before the insert
    lease = leases.claim(world.store, PLANNER_LEASE, MONDAY, MONDAY + timedelta(minutes=1))
    assert lease is not None
    assert leases.release(world.store, lease)

    report = world.plan()
    assert report.windows_booked == 1
    assert _only_window(world).state is WindowState.SCHEDULED
    assert len(world.calendar.events_of(ALICE)) == 1


def test_an_event_left_by_an_interrupted_run_is_moved_to_the_windows_time(world: World) -> None:
    world.host(1, ALICE)
    key = user_key(ALICE)
    leftover = event_id(window_id(key, 1), 0)
    elsewhere = MONDAY + timedelta(days=2, hours=8)
    world.calendar.insert_events(
        [EventSpec(ALICE, leftover, elsewhere, elsewhere + timedelta(minutes=30), "UTC", "old title", "old text")]
    )
    report = world.plan()

    window = _only_window(world)
    assert report.windows_booked == 1
    assert window.event_id == leftover
    event = world.calendar.stored(ALICE, leftover)
    assert event is not None
    assert (event.start, event.end) == (window.start, window.end)
    assert event.description_html == window.event_html
    assert len(world.calendar.events_of(ALICE)) == 1


def test_another_run_holding_the_lease_makes_this_one_skip(world: World) -> None:
    world.host(1, ALICE)
    assert leases.claim(world.store, PLANNER_LEASE, MONDAY, MONDAY + timedelta(minutes=10)) is not None
    report = world.plan()
    assert (report.complete, report.skipped, report.windows_opened) == (
        False,
        "another planner run holds the lease",
        0,
    )


def test_a_fleet_outage_during_reconcile_propagates_and_frees_the_lease(world: World) -> None:
    world.host(1, ALICE)
    world.fleet.fail_next("failing_host_ids", FleetUnavailable("502", status=502))
    with pytest.raises(FleetUnavailable):
        world.plan()
    assert world.plan().windows_booked == 1


def test_a_spent_time_budget_pauses_booking_for_the_next_run(world: World) -> None:
    world.host(1, ALICE)
    world.calendar.refuse_user(ALICE)
    world.plan()  # the window is opened, owner known, but not placed
    world.calendar.refused_users.clear()
    report = world.plan(PlanOptions(time_budget=timedelta(0)))
    assert report.complete is False
    assert report.windows_booked == 0
    assert world.plan().windows_booked == 1


def test_a_host_whose_last_window_failed_waits_for_the_grace(world: World) -> None:
    world.host(1, ALICE)
    rebook_after = MONDAY + timedelta(days=2, hours=3)
    failure = {"rebook_after": rebook_after, "last_failure_note": "Your last window failed."}
    world.store.commit([Write("merge", host_records.HOSTS, "1", failure)])
    world.plan()
    window = _only_window(world)
    assert window.start is not None
    assert window.start >= rebook_after
    assert window.note == "Your last window failed."
    assert "Your last window failed." in (window.event_html or "")


def test_a_short_lead_books_minutes_ahead_whatever_the_hour(world: World) -> None:
    world.host(1, ALICE)
    world.plan(PlanOptions(time_budget=timedelta(minutes=5), short_lead=timedelta(minutes=5)))
    window = _only_window(world)
    assert window.start is not None
    assert timedelta(minutes=5) <= window.start - MONDAY < timedelta(minutes=5, seconds=10)
    assert window.reason is not None
    assert window.reason.startswith("short-lead local run")


def test_team_rules_follow_the_lowest_host_ids_team() -> None:
    teams = parse_teams({"defaults": {"domains": [DOMAIN]}, "teams": {"7": {"slots": {"deadline_days": 2}}}})
    world = World(teams=teams)
    world.host(5, ALICE, team_id=7)
    world.host(9, ALICE, failing=(2,))
    world.plan()
    window = _only_window(world)
    assert window.team_id == 7
    assert window.deadline == MONDAY + timedelta(days=2)


def test_the_channel_keeper_hook_opens_a_channel_for_the_booked_user(world: World) -> None:
    world.host(1, ALICE)
    report = plan_windows(world.ctx, PlanOptions(time_budget=timedelta(minutes=5)), [ChannelKeeper()])
    assert report.extra["channels_created"] == 1
    assert report.as_dict()["channels_created"] == 1
    assert [channel.user_email for channel in world.calendar.channels.values()] == [ALICE]


@pytest.mark.parametrize(("critical", "day"), [(False, 4), (True, 3)])
def test_a_critical_policy_leans_sooner(world: World, critical: bool, day: int) -> None:
    """Monday has one bare gap (15:15); an empty Tuesday's lunch wins it, unless the policy is critical."""
    world.calendar.add_event(ALICE, "morning", MONDAY.replace(hour=9), MONDAY.replace(hour=15))
    world.calendar.add_event(ALICE, "evening", MONDAY.replace(hour=16), MONDAY.replace(hour=17))
    world.fleet.add_policy(replace(fleet_policy(1), critical=critical))
    world.host(1, ALICE)
    world.plan()
    window = _only_window(world)
    assert window.start is not None
    assert (window.start.day, f"{window.start:%H:%M}") == ((day, "15:15") if critical else (day, "12:00"))
