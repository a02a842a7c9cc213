"""What every calendar provider must do for the product, run against each one (conftest.PROVIDERS).

Each test states one behaviour the service layer relies on (booking, following, verification), in the
port's terms only, so the same words hold for Google, Microsoft 365 and the memory double.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.ports.calendar import (
    CalendarError,
    CalendarUnavailable,
    EventSpec,
    InsertResult,
    SyncTokenExpired,
)
from tests.providers.harness import ProviderHarness

ALICE = "alice@example.com"
BOB = "bob@example.com"
PARIS = "Europe/Paris"
#: Two days ahead at 09:00 UTC: full syncs list upcoming events from the wall clock's now.
DAY = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
TAG = {"mw_window_id": "w-1", "mw_revision": "0"}


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def spec(event_id: str, start: datetime, *, user: str = ALICE, revision: int = 0) -> EventSpec:
    return EventSpec(
        user,
        event_id,
        start,
        start + timedelta(minutes=30),
        PARIS,
        "Maintenance window",
        "<p>Your Mac gets its fix.</p>",
        {**TAG, "mw_revision": str(revision)},
        "11",
        (10,),
    )


def book(provider: ProviderHarness, event_id: str, start: datetime, **kwargs: object) -> InsertResult:
    (result,) = provider.calendar.insert_events([spec(event_id, start, **kwargs)])  # type: ignore[arg-type]
    assert result.error is None, result
    assert result.created, result
    return result


@pytest.fixture
def alice(provider: ProviderHarness) -> ProviderHarness:
    provider.add_person(ALICE, PARIS)
    return provider


def test_reads_each_persons_time_zone_as_an_iana_name(provider: ProviderHarness) -> None:
    provider.add_person(ALICE, PARIS)
    provider.add_person(BOB, "America/New_York")
    assert provider.calendar.time_zones([ALICE, BOB]) == {ALICE: PARIS, BOB: "America/New_York"}


def test_a_booked_event_reads_back_at_its_time_with_our_tag(alice: ProviderHarness) -> None:
    booked = book(alice, "aa0001b0", at(1))
    event = alice.calendar.get_event(ALICE, "aa0001b0")
    assert event is not None
    assert event.event_id == "aa0001b0"
    assert event.status == "confirmed"
    assert (event.start, event.end) == (at(1), at(1.5))
    assert dict(event.private_properties) == TAG
    assert event.etag == booked.etag
    assert alice.live_events(ALICE) == [(at(1), at(1.5), "Maintenance window")]


def test_busy_time_includes_meetings_and_out_of_office_but_not_free_time(alice: ProviderHarness) -> None:
    alice.add_meeting(ALICE, at(0), at(1))
    alice.add_meeting(ALICE, at(2), at(3), free=True)
    alice.add_out_of_office(ALICE, at(4), at(6))
    busy = alice.calendar.busy([ALICE], at(0), at(8))[ALICE]
    assert busy.error is None
    assert busy.busy == (Interval(at(0), at(1)), Interval(at(4), at(6)))
    away = alice.calendar.out_of_office([ALICE], at(0), at(8))[ALICE]
    assert away.error is None
    assert away.away == (Interval(at(4), at(6)),)


def test_out_of_office_outside_the_range_is_not_reported(alice: ProviderHarness) -> None:
    alice.add_out_of_office(ALICE, at(-30), at(-26))
    assert alice.calendar.out_of_office([ALICE], at(0), at(8))[ALICE].away == ()


def test_a_move_by_the_person_shows_in_the_change_feed(alice: ProviderHarness) -> None:
    book(alice, "aa0002b0", at(1))
    position = alice.calendar.list_changes(ALICE, None).next_sync_token
    alice.person_moves(ALICE, "aa0002b0", at(5), at(5.5))
    changes = alice.calendar.list_changes(ALICE, position)
    moved = [event for event in changes.events if event.event_id == "aa0002b0"]
    assert len(moved) == 1
    assert (moved[0].start, moved[0].end) == (at(5), at(5.5))
    assert dict(moved[0].private_properties) == TAG  # still recognisably ours
    fetched = alice.calendar.get_event(ALICE, "aa0002b0")
    assert fetched is not None
    assert fetched.start == at(5)


def test_a_deletion_by_the_person_shows_as_cancelled(alice: ProviderHarness) -> None:
    book(alice, "aa0003b0", at(1))
    position = alice.calendar.list_changes(ALICE, None).next_sync_token
    alice.person_deletes(ALICE, "aa0003b0")
    changes = alice.calendar.list_changes(ALICE, position)
    assert [(event.event_id, event.status) for event in changes.events] == [("aa0003b0", "cancelled")]
    assert alice.live_events(ALICE) == []


def test_we_delete_once_and_a_second_delete_reports_it_gone(alice: ProviderHarness) -> None:
    book(alice, "aa0004b0", at(1))
    assert alice.calendar.delete_event(ALICE, "aa0004b0") is True
    assert alice.calendar.delete_event(ALICE, "aa0004b0") is False
    assert alice.calendar.delete_event(ALICE, "aa9999b0") is False
    assert alice.live_events(ALICE) == []


def test_rebooking_under_a_new_revision_makes_one_new_event(alice: ProviderHarness) -> None:
    book(alice, "aa0005b0", at(1))
    alice.person_deletes(ALICE, "aa0005b0")
    # The planner books a deleted window again under its next booking number, never the old id.
    book(alice, "aa0005b1", at(2), revision=1)
    assert alice.live_events(ALICE) == [(at(2), at(2.5), "Maintenance window")]


def test_a_create_repeated_after_a_failure_books_exactly_once(alice: ProviderHarness) -> None:
    alice.fail_next_creates(1)
    try:
        first = alice.calendar.insert_events([spec("aa0006b0", at(1))])
    except CalendarUnavailable:  # a provider without retries of its own hands the failure up
        first = []
    again = alice.calendar.insert_events([spec("aa0006b0", at(1))])
    assert [result.created for result in first + again].count(True) == 1
    assert again[0].error is None
    assert again[0].event_id == "aa0006b0"
    assert alice.live_events(ALICE) == [(at(1), at(1.5), "Maintenance window")]


def test_our_own_patch_is_recognised_in_the_change_feed(alice: ProviderHarness) -> None:
    book(alice, "aa0007b0", at(1))
    position = alice.calendar.list_changes(ALICE, None).next_sync_token
    patched = alice.calendar.patch_event(
        ALICE,
        "aa0007b0",
        start=at(3),
        end=at(3.5),
        time_zone=PARIS,
        description_html="<p>Moved.</p>",
        private_properties={"mw_revision": "1"},
    )
    assert (patched.start, patched.end) == (at(3), at(3.5))
    assert patched.private_properties["mw_revision"] == "1"
    seen = [event for event in alice.calendar.list_changes(ALICE, position).events if event.event_id == "aa0007b0"]
    # The follower compares etags to tell our write from the person's: the feed must carry the same one.
    assert len(seen) == 1
    assert seen[0].etag == patched.etag
    assert seen[0].start == at(3)
    assert dict(seen[0].private_properties) == {**TAG, "mw_revision": "1"}


def test_patching_an_event_that_does_not_exist_is_an_error(alice: ProviderHarness) -> None:
    with pytest.raises(CalendarError) as missing:
        alice.calendar.patch_event(ALICE, "aa9999b0", description_html="<p>x</p>")
    assert missing.value.status == 404


def test_a_lost_sync_position_asks_for_a_full_sync(alice: ProviderHarness) -> None:
    book(alice, "aa0008b0", at(1))
    tokens = alice.calendar.sync_tokens([ALICE])
    token = tokens[ALICE]
    assert isinstance(token, str)
    alice.expire_sync(ALICE)
    with pytest.raises(SyncTokenExpired):
        alice.calendar.list_changes(ALICE, token)
    full = alice.calendar.list_changes(ALICE, None)
    assert [event.event_id for event in full.events if event.status != "cancelled"] == ["aa0008b0"]


def test_one_persons_refusal_leaves_the_others_served(alice: ProviderHarness) -> None:
    alice.refuse(BOB)
    zones = alice.calendar.time_zones([ALICE, BOB])
    assert zones[ALICE] == PARIS
    assert isinstance(zones[BOB], CalendarError)
    busy = alice.calendar.busy([ALICE, BOB], at(0), at(8))
    # Free/busy may still be readable for a refused person (Google shares it across the domain); the others
    # must be answered either way.
    assert busy[ALICE].error is None
    assert BOB in busy
    inserted = alice.calendar.insert_events([spec("aa0009b0", at(1)), spec("aa0010b0", at(1), user=BOB)])
    assert inserted[0].created
    assert inserted[0].error is None
    assert not inserted[1].created
    assert inserted[1].error
    assert inserted[1].access_refused
    assert alice.live_events(ALICE) == [(at(1), at(1.5), "Maintenance window")]


def test_recent_events_list_the_persons_timed_events(alice: ProviderHarness) -> None:
    alice.add_meeting(ALICE, at(0), at(1))
    alice.add_meeting(ALICE, at(2), at(3))
    found = alice.calendar.recent_events(ALICE, at(-1), at(8))
    assert sorted((event.start, event.end) for event in found) == [(at(0), at(1)), (at(2), at(3))]
