"""Nobody is booked in a guessed time zone: a user whose zone the calendar could not give is skipped."""

from __future__ import annotations

from maintenance_windows.domain.ids import user_key
from maintenance_windows.domain.windows import WindowState
from maintenance_windows.repository import windows as window_records
from tests.support.world import DOMAIN, World

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


def test_a_user_whose_zone_failed_is_skipped_and_reported_not_booked_in_utc() -> None:
    world = World()
    world.host(1, ALICE)
    world.host(2, BOB)
    world.calendar.set_time_zone(ALICE, "Europe/Paris")
    world.calendar.refuse_delegation(BOB, "suspended")
    report = world.plan()

    assert (report.windows_opened, report.windows_booked, report.windows_unplaced) == (2, 1, 1)
    alice, bob = sorted(world.windows(), key=lambda window: window.user_email)
    assert alice.state is WindowState.SCHEDULED and alice.time_zone == "Europe/Paris"
    assert bob.state is WindowState.NEW and world.calendar.events_of(BOB) == []
    stored = world.store.get(window_records.WINDOWS, bob.window_id)
    assert stored is not None and stored["unplaced_reason"] == "time zone unknown: suspended"
    users = window_records.users(world.store, [user_key(ALICE), user_key(BOB)])
    assert users[user_key(ALICE)]["time_zone"] == "Europe/Paris"
    assert "time_zone" not in users.get(user_key(BOB), {})  # a failure is not cached as a zone
