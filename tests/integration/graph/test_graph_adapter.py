"""What the Graph adapter does beyond the shared provider suite: batching, throttling, lost answers, refusals,
time zones from Windows names, subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.adapters.microsoft_graph import GraphCalendarAdapter
from maintenance_windows.ports.calendar import CalendarAccessRefused, Channel, EventSpec, WatchRequest
from tests.integration.graph.conftest import Admin, Receiver

ALICE = "alice@contoso.example"
DAY = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def _spec(index: int, user: str = ALICE) -> EventSpec:
    start = DAY + timedelta(hours=index % 8)
    return EventSpec(
        user,
        f"ev{index:04d}",
        start,
        start + timedelta(minutes=30),
        "Europe/Paris",
        "Fix",
        "<p>Fix</p>",
        {"mw_window_id": f"w{index}", "mw_revision": "0"},
        None,
        (10,),
    )


def test_creates_travel_twenty_to_a_batch(adapter: GraphCalendarAdapter, admin: Admin) -> None:
    people = [f"p{i}@contoso.example" for i in range(45)]
    admin.users(*people)
    results = adapter.insert_events([_spec(i, person) for i, person in enumerate(people)])
    assert all(r.created and r.error is None for r in results)
    counters = admin.counters()
    assert counters["round_trips"] == 3
    assert counters["calls"]["create_event"] == 45


def test_free_busy_for_many_people_is_a_few_get_schedule_calls_in_one_round_trip(
    adapter: GraphCalendarAdapter, admin: Admin
) -> None:
    people = [f"p{i}@contoso.example" for i in range(120)]
    admin.users(*people)
    busy = adapter.busy(people, DAY, DAY + timedelta(days=5))
    assert len(busy) == 120
    assert all(result.error is None for result in busy.values())
    assert admin.counters()["calls"] == {"get_schedule": 6}
    assert admin.counters()["round_trips"] == 1


def test_an_answer_lost_after_the_create_is_retried_into_the_same_event(
    adapter: GraphCalendarAdapter, admin: Admin
) -> None:
    admin.users(ALICE)
    admin.faults({"status": 503, "path": "/events", "method": "POST", "after_commit": True})
    (result,) = adapter.insert_events([_spec(1)])
    assert result.error is None
    assert result.event_id == "ev0001"
    live = [e for e in admin.call("GET", f"users/{ALICE}/events")["value"] if not e["deleted"]]
    assert len(live) == 1
    assert live[0]["transactionId"] == "ev0001"
    assert live[0]["showAs"] == "busy"
    assert live[0]["categories"] == ["Maintenance window"]
    assert live[0]["body"] == {"contentType": "html", "content": "<p>Fix</p>"}
    assert (live[0]["isReminderOn"], live[0]["reminderMinutesBeforeStart"]) == (True, 10)


def test_retry_after_is_honoured_for_a_plain_call_and_for_a_batch_part(
    adapter: GraphCalendarAdapter, admin: Admin, slept: list[float]
) -> None:
    admin.users(ALICE, "bob@contoso.example")
    admin.faults({"status": 429, "code": "ApplicationThrottled", "retry_after": 3, "path": "/events"})
    assert adapter.get_event(ALICE, "ev9999") is None
    assert slept == [3.0]
    admin.faults({"status": 429, "code": "ApplicationThrottled", "retry_after": 5, "path": "mailboxSettings"})
    zones = adapter.time_zones([ALICE, "bob@contoso.example"])
    assert zones == {ALICE: "Europe/Paris", "bob@contoso.example": "Europe/Paris"}
    assert slept[-1] == 5.0


def test_windows_zone_names_map_to_iana_through_cldr(adapter: GraphCalendarAdapter, admin: Admin) -> None:
    admin.users("berlin@contoso.example", time_zone="W. Europe Standard Time")
    admin.users("ny@contoso.example", time_zone="Eastern Standard Time")
    admin.users("delhi@contoso.example", time_zone="India Standard Time")
    zones = adapter.time_zones(["berlin@contoso.example", "ny@contoso.example", "delhi@contoso.example"])
    assert list(zones.values()) == ["Europe/Berlin", "America/New_York", "Asia/Calcutta"]


def test_a_refused_or_missing_mailbox_fails_alone_even_when_it_asks_for_the_others(
    adapter: GraphCalendarAdapter, admin: Admin
) -> None:
    admin.users("out@contoso.example", refused="scope")
    admin.users(ALICE)
    people = ["out@contoso.example", ALICE, "gone@contoso.example"]
    busy = adapter.busy(people, DAY, DAY + timedelta(days=1))
    assert busy["out@contoso.example"].error == "not_delegated"
    assert busy[ALICE].error is None
    assert busy["gone@contoso.example"].error == "unknown"
    zones = adapter.time_zones(people)
    assert isinstance(zones["out@contoso.example"], CalendarAccessRefused)
    assert zones[ALICE] == "Europe/Paris"
    missing = zones["gone@contoso.example"]
    assert isinstance(missing, CalendarAccessRefused)
    assert missing.reason == "unknown"


def test_our_events_are_found_by_our_id_in_a_fresh_process(adapter: GraphCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE)
    adapter.insert_events([_spec(2)])
    fresh = GraphCalendarAdapter(tokens=adapter._transport._tokens, endpoint=adapter._transport._endpoint)
    event = fresh.get_event(ALICE, "ev0002")
    assert event is not None
    assert event.event_id == "ev0002"
    assert event.private_properties["mw_window_id"] == "w2"
    assert fresh.delete_event(ALICE, "ev0002") is True
    assert fresh.get_event(ALICE, "ev0002") is None


def test_a_subscription_per_person_with_our_client_state_and_a_lifetime_under_graphs_limit(
    adapter: GraphCalendarAdapter, admin: Admin, receiver: Receiver
) -> None:
    admin.users(ALICE, "out@contoso.example")
    admin.users("out@contoso.example", refused="scope")
    asked = [
        WatchRequest(ALICE, "chan-1", "tok-1", receiver.url, 30 * 86400),
        WatchRequest("out@contoso.example", "chan-2", "tok-2", receiver.url, 3600),
    ]
    opened, refused = adapter.watch_many(asked)
    assert isinstance(opened, Channel)
    assert isinstance(refused, CalendarAccessRefused)
    assert opened.expiration - datetime.now(UTC) < timedelta(minutes=10080)
    (stored,) = admin.call("GET", "subscriptions")["value"]
    assert (stored["id"], stored["clientState"], stored["changeType"]) == (
        opened.resource_id,
        "chan-1.tok-1",
        "updated,deleted",
    )
    renewed = adapter.renew(opened.resource_id, 3 * 86400)
    assert renewed > opened.expiration - timedelta(days=7)
    adapter.stop_channel(ALICE, "chan-1", opened.resource_id)
    adapter.stop_channel(ALICE, "chan-1", opened.resource_id)  # already gone: no error
    assert admin.call("GET", "subscriptions")["value"] == []


def test_an_expired_delta_link_asks_for_a_full_sync_and_the_full_sync_is_bounded(
    adapter: GraphCalendarAdapter, admin: Admin
) -> None:
    from maintenance_windows.ports.calendar import SyncTokenExpired

    admin.users(ALICE)
    adapter.insert_events([_spec(3)])
    far = DAY + timedelta(days=200)  # outside the bounded range a full sync reads
    admin.call(
        "POST",
        f"users/{ALICE}/events",
        {
            "subject": "Far",
            "start": {"dateTime": far.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (far + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        },
    )
    full = adapter.list_changes(ALICE, None)
    assert [e.event_id for e in full.events] == ["ev0003"]
    admin.call("POST", "delta/expire", {"email": ALICE})
    with pytest.raises(SyncTokenExpired):
        adapter.list_changes(ALICE, full.next_sync_token)
    with pytest.raises(SyncTokenExpired):
        adapter.list_changes(ALICE, "not-a-token-of-ours")


def test_free_busy_carries_the_persons_working_hours_in_iana_terms(adapter: GraphCalendarAdapter, admin: Admin) -> None:
    from datetime import time

    from maintenance_windows.domain.rules import DailyHours

    admin.call(
        "POST",
        "users",
        {
            "users": [
                {
                    "email": ALICE,
                    "timeZone": "W. Europe Standard Time",
                    "working_days": ["monday", "wednesday"],
                    "working_start": "10:30:00.0000000",
                    "working_end": "16:00:00.0000000",
                }
            ]
        },
    )
    result = adapter.busy([ALICE], DAY, DAY + timedelta(days=1))[ALICE]
    hours = DailyHours(start=time(10, 30), end=time(16))
    assert result.working_hours == {"mon": hours, "wed": hours}
    assert result.working_hours_zone == "Europe/Berlin"
