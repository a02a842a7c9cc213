"""A user whose calendar refuses us: never booked in a guessed zone, recorded where an admin looks, and
tried again on a slow schedule (1 h doubling to a day) until access works again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from maintenance_windows.domain.calendar_access import (
    MAX_RETRY,
    AccessRefusal,
    refused_again,
    retry_delay,
)
from maintenance_windows.domain.ids import user_key
from maintenance_windows.domain.windows import Window, WindowState
from maintenance_windows.ports.calendar import BusyResult, CalendarUnavailable
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from tests.support.world import DOMAIN, MONDAY, World

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


def test_the_retry_schedule_doubles_from_an_hour_up_to_a_day() -> None:
    assert [retry_delay(attempts) for attempts in range(1, 9)] == [
        timedelta(hours=hours) for hours in (1, 2, 4, 8, 16, 24, 24, 24)
    ]
    assert retry_delay(10_000) == MAX_RETRY
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(0)
    first = refused_again(None, "suspended", MONDAY)
    second = refused_again(first, "not_delegated", MONDAY + timedelta(hours=1))
    assert first == AccessRefusal("suspended", MONDAY, 1, MONDAY + timedelta(hours=1))
    assert second == AccessRefusal("not_delegated", MONDAY, 2, MONDAY + timedelta(hours=3))  # the streak's start
    assert not second.due(MONDAY + timedelta(hours=2, minutes=59))
    assert second.due(MONDAY + timedelta(hours=3))


class Scene:
    """Alice is fine; Bob's delegated access is refused. Both have a failing host."""

    def __init__(self) -> None:
        self.world = World()
        self.world.host(1, ALICE)
        self.world.host(2, BOB)
        self.world.calendar.set_time_zone(ALICE, "Europe/Paris")
        self.world.calendar.set_time_zone(BOB, "America/New_York")
        self.world.calendar.refuse_delegation(BOB, "suspended")
        self.busy_asked: list[list[str]] = []
        busy = self.world.calendar.busy

        def spy(emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
            self.busy_asked.append(list(emails))
            return busy(emails, time_min, time_max)

        self.world.calendar.busy = spy  # type: ignore[method-assign]

    def window_of(self, email: str) -> Window:
        (window,) = [window for window in self.world.windows() if window.user_email == email]
        return window

    def refusal(self) -> AccessRefusal | None:
        return window_records.access_refusal(window_records.users(self.world.store, [user_key(BOB)])[user_key(BOB)])

    def host_problem(self) -> Any:
        return self.world.host_case(2).get("calendar_problem")


@pytest.fixture
def scene() -> Scene:
    return Scene()


def test_a_refused_user_is_recorded_on_user_window_and_host_and_never_booked(scene: Scene) -> None:
    report = scene.world.plan()

    assert (report.windows_opened, report.windows_booked, report.windows_unplaced) == (2, 1, 1)
    alice, bob = scene.window_of(ALICE), scene.window_of(BOB)
    assert alice.state is WindowState.SCHEDULED
    assert alice.time_zone == "Europe/Paris"
    assert bob.state is WindowState.NEW
    assert bob.start is None
    assert scene.world.calendar.events_of(BOB) == []
    refusal = scene.refusal()
    assert refusal == AccessRefusal("suspended", MONDAY, 1, MONDAY + timedelta(hours=1))
    expected = (
        "calendar access refused (suspended) since 2031-03-03 07:00 UTC, 1 time(s); next try 2031-03-03 08:00 UTC"
    )
    assert bob.unplaced_reason == expected
    assert scene.host_problem() == expected
    assert scene.world.host_case(1).get("calendar_problem") is None
    assert scene.busy_asked == [[ALICE]]  # free/busy is not asked for a user whose zone failed
    users = window_records.users(scene.world.store, [user_key(BOB)])
    assert "time_zone" not in users[user_key(BOB)]  # a failure is not cached as a zone


def test_the_user_waits_for_the_next_try_without_a_calendar_call(scene: Scene) -> None:
    scene.world.plan()
    calls_before = sum(scene.world.calendar.calls.values())
    scene.world.clock.advance(timedelta(minutes=59))
    report = scene.world.plan()

    assert report.windows_waiting_for_calendar_access == 1
    assert report.windows_unplaced == 0
    assert sum(scene.world.calendar.calls.values()) == calls_before  # Alice is booked; Bob is not asked
    assert scene.refusal() == AccessRefusal("suspended", MONDAY, 1, MONDAY + timedelta(hours=1))


def test_each_refused_try_waits_twice_as_long_up_to_a_day(scene: Scene) -> None:
    waits = []
    for _ in range(7):
        scene.world.plan()
        refusal = scene.refusal()
        assert refusal is not None
        waits.append(refusal.retry_at - scene.world.clock())
        scene.world.clock.now = refusal.retry_at
    assert waits == [timedelta(hours=hours) for hours in (1, 2, 4, 8, 16, 24, 24)]
    assert scene.window_of(BOB).state is WindowState.NEW


def test_access_back_books_the_user_in_their_own_zone_and_clears_the_records(scene: Scene) -> None:
    scene.world.plan()
    scene.world.calendar.refused_users.clear()  # the admin restored the account
    scene.world.clock.advance(timedelta(hours=1))
    report = scene.world.plan()

    bob = scene.window_of(BOB)
    assert report.windows_booked == 1
    assert bob.state is WindowState.SCHEDULED
    assert bob.time_zone == "America/New_York"
    assert bob.unplaced_reason is None
    assert scene.refusal() is None
    assert scene.host_problem() is None


def test_a_refusal_found_at_insert_time_waits_too(scene: Scene) -> None:
    """Bob's zone was cached before his access went: the insert is what finds out."""
    scene.world.calendar.refused_users.clear()
    scene.world.store.commit(
        [window_records.user_write(user_key(BOB), email=BOB, time_zone="America/New_York", time_zone_checked_at=MONDAY)]
    )
    scene.world.calendar.fail_next("insert_events", CalendarUnavailable("503 after retries", status=503))
    with pytest.raises(CalendarUnavailable):
        scene.world.plan()  # both windows are planned, neither inserted
    scene.world.calendar.refuse_delegation(BOB, "not_delegated")
    report = scene.world.plan()

    assert report.windows_booked == 1  # Alice's
    bob = scene.window_of(BOB)
    assert bob.state is WindowState.PLANNED
    assert bob.task_name is None
    refusal = scene.refusal()
    assert refusal is not None
    assert (refusal.reason, refusal.attempts) == ("not_delegated", 1)
    assert bob.unplaced_reason == refusal.describe() == scene.host_problem()
    inserts = scene.world.calendar.calls["insert_events"]
    scene.world.plan()
    assert scene.world.calendar.calls["insert_events"] == inserts  # waiting: not tried again yet

    scene.world.calendar.refused_users.clear()
    scene.world.clock.advance(timedelta(hours=1))
    assert scene.world.plan().windows_booked == 1
    assert scene.window_of(BOB).state is WindowState.SCHEDULED
    assert scene.refusal() is None
    assert scene.host_problem() is None
    assert len(scene.world.calendar.events_of(BOB)) == 1


def test_a_zone_lookup_that_failed_otherwise_is_retried_on_the_next_run() -> None:
    world = World()
    world.host(1, ALICE)
    world.calendar.refuse_user(ALICE, 404, "notFound")  # an API error, not a refused delegation
    world.plan()
    (window,) = world.windows()
    assert window.unplaced_reason == "time zone unknown: notFound"
    assert window_records.access_refusal(window_records.users(world.store, [user_key(ALICE)])[user_key(ALICE)]) is None
    world.calendar.refused_users.clear()
    assert world.plan().windows_booked == 1  # no slow schedule for these
    assert host_records.all_hosts(world.store)[0].extra.get("calendar_problem") is None
