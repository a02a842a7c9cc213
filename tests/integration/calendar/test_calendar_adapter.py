"""GoogleCalendarAdapter against the stand-in over loopback HTTP: batching, paging, sync, retries, push."""

from __future__ import annotations

import queue
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.ports.calendar import (
    BusyResult,
    CalendarError,
    CalendarUnavailable,
    Channel,
    EventSpec,
    SyncTokenExpired,
    WatchRequest,
)
from tests.integration.calendar.conftest import Admin, PushReceiver

ALICE = "alice@example.com"
BOB = "bob@example.com"
DAY = datetime(2031, 3, 4, tzinfo=UTC)


def _at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def _spec(user: str, index: int, hour: int = 9) -> EventSpec:
    return EventSpec(
        user_email=user,
        event_id=f"ev{index:08d}",
        start=_at(hour),
        end=_at(hour, 30),
        time_zone="Europe/Paris",
        summary="Maintenance window",
        description_html="<b>Update</b> macOS",
        private_properties={"mw": "1", "window": f"w{index}"},
        color_id="5",
        popup_reminders_minutes=(10, 2),
    )


def _timed(user: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "user": user,
        "summary": "seeded",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": end.isoformat()},
        **extra,
    }


def test_time_zones_are_batched_and_cached(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    emails = [f"tz{index}@example.com" for index in range(120)]
    admin.users(*emails, time_zone="America/Chicago")
    admin.users(*emails[::2], time_zone="Asia/Tokyo")  # each batch part must be answered as its own user
    zones = adapter.time_zones([*emails, "ghost@example.com"])
    ghost = zones.pop("ghost@example.com")  # reported, never left out (and never guessed)
    assert isinstance(ghost, CalendarError)
    assert (ghost.status, ghost.reason) == (404, "notFound")
    assert zones == {email: "Asia/Tokyo" if index % 2 == 0 else "America/Chicago" for index, email in enumerate(emails)}
    assert admin.counters()["round_trips"] == 3  # 121 calls in batches of 50
    assert adapter.stats.snapshot()["calls"] == {"calendar.settings.get": 121}
    assert adapter.time_zones(emails[1:2]) == {emails[1]: "America/Chicago"}
    assert admin.counters()["round_trips"] == 3  # served from the cache


def test_batch_insert_is_idempotent(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    users = [f"u{index}@example.com" for index in range(60)]
    admin.users(*users)
    specs = [_spec(user, index) for index, user in enumerate(users)]
    results = adapter.insert_events(specs)
    assert all(result.created and result.etag for result in results)
    assert admin.counters()["round_trips"] == 2
    assert admin.counters()["calls"] == {"calendar.events.insert": 60}

    again = adapter.insert_events(specs[:3])
    assert [(result.event_id, result.created, result.error) for result in again] == [
        (spec.event_id, False, None) for spec in specs[:3]
    ]
    stored = admin.call("GET", f"users/{users[0]}/events")["items"][0]
    assert stored["start"] == {"dateTime": "2031-03-04T10:00:00+01:00", "timeZone": "Europe/Paris"}
    assert stored["extendedProperties"] == {"private": {"mw": "1", "window": "w0"}}
    assert stored["reminders"]["overrides"] == [
        {"method": "popup", "minutes": 10},
        {"method": "popup", "minutes": 2},
    ]
    assert stored["transparency"] == "opaque"
    assert stored["guestsCanModify"] is False


def test_transient_failures_are_retried_part_by_part(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE)
    admin.faults(
        {"status": 429, "method": "calendar.events.insert"},
        {"status": 500, "method": "calendar.events.insert"},
        {"status": 403, "reason": "rateLimitExceeded", "method": "calendar.events.insert"},
    )
    results = adapter.insert_events([_spec(ALICE, index) for index in range(5)])
    assert all(result.created for result in results)
    counters = admin.counters()
    assert counters["rejected"] == {"rateLimitExceeded": 2, "backendError": 1}
    assert counters["calls"] == {"calendar.events.insert": 8}  # 5 + 3 retried parts
    assert counters["round_trips"] == 2
    assert adapter.stats.snapshot()["retried_calls"] == 3
    assert len(admin.call("GET", f"users/{ALICE}/events")["items"]) == 5


def test_exhausted_retries_raise_unavailable(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE)
    admin.faults({"status": 503, "method": "calendar.events.get", "count": 4})
    with pytest.raises(CalendarUnavailable) as raised:
        adapter.get_event(ALICE, "abc12345")
    assert raised.value.status == 503
    assert admin.counters()["calls"] == {"calendar.events.get": 4}


def test_quota_exhaustion_inside_a_batch_is_reported_per_event(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE, BOB)
    admin.faults({"status": 403, "reason": "quotaExceeded", "user": ALICE, "count": 4})
    results = adapter.insert_events([_spec(ALICE, 0), _spec(BOB, 1)])
    assert [result.error for result in results] == ["quotaExceeded", None]
    assert [result.created for result in results] == [False, True]
    assert admin.counters()["round_trips"] == 4  # the failed part alone was retried, three times


def test_caller_errors_surface_with_reason(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE)
    with pytest.raises(CalendarError) as missing:
        adapter.patch_event(ALICE, "n0there99", summary="x")
    assert (missing.value.status, missing.value.reason) == (404, "notFound")
    assert not isinstance(missing.value, CalendarUnavailable)

    adapter.insert_events([_spec(ALICE, 1)])
    with pytest.raises(CalendarError) as backwards:
        adapter.patch_event(ALICE, "ev00000001", start=_at(12), end=_at(11), time_zone="Europe/Paris")
    assert (backwards.value.status, backwards.value.reason) == (400, "timeRangeEmpty")
    assert "timeRangeEmpty" in str(backwards.value)
    assert admin.counters()["calls"]["calendar.events.patch"] == 2  # no retries for caller errors


def test_patch_get_delete(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE)
    adapter.insert_events([_spec(ALICE, 7)])
    patched = adapter.patch_event(
        ALICE,
        "ev00000007",
        start=_at(14),
        end=_at(14, 30),
        time_zone="Europe/Paris",
        private_properties={"rev": "2"},
    )
    assert (patched.start, patched.end) == (_at(14), _at(14, 30))
    assert patched.private_properties == {"mw": "1", "window": "w7", "rev": "2"}
    fetched = adapter.get_event(ALICE, "ev00000007")
    assert fetched is not None
    assert fetched.etag == patched.etag
    assert not fetched.all_day
    assert adapter.delete_event(ALICE, "ev00000007") is True
    assert adapter.delete_event(ALICE, "ev00000007") is False  # 410 deleted
    assert adapter.delete_event(ALICE, "never0000") is False  # 404
    gone = adapter.get_event(ALICE, "ev00000007")
    assert gone is not None
    assert gone.status == "cancelled"
    assert adapter.get_event(ALICE, "never0000") is None


def test_full_then_incremental_sync_with_paging(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE)
    now = datetime.now(UTC).replace(microsecond=0)
    admin.events(*[_timed(ALICE, now + timedelta(days=day), now + timedelta(days=day, hours=1)) for day in range(1, 8)])
    admin.events(_timed(ALICE, now - timedelta(days=3), now - timedelta(days=3, hours=-1)))  # past: not in a full sync
    full = adapter.list_changes(ALICE, None)
    assert len(full.events) == 7
    assert admin.counters()["calls"] == {"calendar.events.list": 3}  # page size 3

    moved = full.events[0].event_id
    admin.call(
        "POST",
        f"users/{ALICE}/events/{moved}/move",
        {
            "start": (now + timedelta(days=20)).isoformat(),
            "end": (now + timedelta(days=20, hours=1)).isoformat(),
        },
    )
    admin.call("POST", f"users/{ALICE}/events/{full.events[1].event_id}/delete")
    changes = adapter.list_changes(ALICE, full.next_sync_token)
    assert {(event.event_id, event.status) for event in changes.events} == {
        (moved, "confirmed"),
        (full.events[1].event_id, "cancelled"),
    }
    assert changes.next_sync_token != full.next_sync_token
    assert adapter.list_changes(ALICE, changes.next_sync_token).events == ()

    admin.call("POST", "sync-tokens/expire", {"email": ALICE})
    with pytest.raises(SyncTokenExpired):
        adapter.list_changes(ALICE, changes.next_sync_token)


def test_busy_follows_google_rules(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE, time_zone="UTC")
    admin.events(
        _timed(ALICE, _at(9), _at(10)),
        _timed(ALICE, _at(9, 30), _at(11)),  # overlaps: merged
        _timed(ALICE, _at(12), _at(13), transparency="transparent"),
        _timed(ALICE, _at(13), _at(14), eventType="outOfOffice"),
        _timed(ALICE, _at(15), _at(16), eventType="focusTime"),
        _timed(ALICE, _at(16), _at(17), status="cancelled"),
        _timed(ALICE, _at(17), _at(18), eventType="workingLocation"),
    )
    declined = admin.events(_timed(ALICE, _at(19), _at(20)))[0]
    admin.call("POST", f"users/{ALICE}/events/{declined}/decline")
    result = adapter.busy([ALICE, "ghost@example.com"], DAY, DAY + timedelta(days=1))
    assert result["ghost@example.com"] == BusyResult(error="notFound")
    assert result[ALICE].busy == (
        Interval(_at(9), _at(11)),
        Interval(_at(13), _at(14)),
        Interval(_at(15), _at(16)),
    )


def test_all_day_events_block_the_users_day(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users(ALICE, time_zone="Europe/Paris")
    event_id = admin.events(_timed(ALICE, _at(9), _at(10)))[0]
    admin.call("POST", f"users/{ALICE}/events/{event_id}/all-day")
    busy = adapter.busy([ALICE], DAY - timedelta(days=1), DAY + timedelta(days=2))[ALICE].busy
    assert busy == (Interval(DAY - timedelta(hours=1), DAY + timedelta(hours=23)),)  # Paris midnight to midnight
    assert adapter.recent_events(ALICE, DAY - timedelta(days=1), DAY + timedelta(days=1)) == []


def test_busy_packs_fifty_calendars_per_call_and_calls_per_batch(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    users = [f"fb{index}@example.com" for index in range(120)]
    admin.users(*users)
    result = adapter.busy(users, DAY, DAY + timedelta(days=1))
    assert set(result) == set(users)
    assert all(item == BusyResult() for item in result.values())
    assert admin.counters()["calls"] == {"calendar.freebusy.query": 3}
    assert admin.counters()["round_trips"] == 1


def test_push_notifications_sync_then_exists(
    adapter: GoogleCalendarAdapter, admin: Admin, push_receiver: PushReceiver
) -> None:
    admin.users(ALICE)
    channel = adapter.watch(ALICE, "channel-1", "secret-token", push_receiver.url, ttl_seconds=3600)
    assert channel.channel_id == "channel-1"
    assert channel.resource_id
    assert timedelta(minutes=59) < channel.expiration - datetime.now(UTC) <= timedelta(hours=1)

    sync = push_receiver.next()
    assert sync.body == b""
    assert sync.headers["X-Goog-Resource-State"] == "sync"
    assert sync.headers["X-Goog-Message-Number"] == "1"
    assert sync.headers["X-Goog-Channel-Id"] == "channel-1"
    assert sync.headers["X-Goog-Channel-Token"] == "secret-token"
    assert sync.headers["X-Goog-Resource-Id"] == channel.resource_id
    assert "/calendar/v3/calendars/primary/events" in sync.headers["X-Goog-Resource-Uri"]
    expires = parsedate_to_datetime(sync.headers["X-Goog-Channel-Expiration"])
    assert abs(expires - channel.expiration) < timedelta(seconds=1)

    adapter.insert_events([_spec(ALICE, 1)])
    change = push_receiver.next()
    assert (change.headers["X-Goog-Resource-State"], change.headers["X-Goog-Message-Number"]) == (
        "exists",
        "2",
    )

    adapter.stop_channel(ALICE, channel.channel_id, channel.resource_id)
    adapter.stop_channel(ALICE, channel.channel_id, channel.resource_id)  # already stopped: no error
    adapter.delete_event(ALICE, "ev00000001")
    with pytest.raises(queue.Empty):
        push_receiver.next(timeout=0.3)
    assert admin.counters()["notifications_sent"] == 2


def test_push_duplicates_and_admin_changes_notify(
    adapter: GoogleCalendarAdapter, admin: Admin, push_receiver: PushReceiver
) -> None:
    admin.users(ALICE)
    event_id = admin.events(_timed(ALICE, _at(9), _at(10)))[0]
    adapter.watch(ALICE, "channel-2", "t", push_receiver.url, ttl_seconds=600)
    assert push_receiver.next().headers["X-Goog-Resource-State"] == "sync"
    admin.configure(push_duplicates=2)
    admin.call("POST", f"users/{ALICE}/events/{event_id}/decline")
    numbers = [push_receiver.next().headers["X-Goog-Message-Number"] for _ in range(2)]
    assert numbers == ["2", "2"]


def test_watch_many_and_first_sync_tokens_are_batched(
    adapter: GoogleCalendarAdapter, admin: Admin, push_receiver: PushReceiver
) -> None:
    users = [f"user{n}@example.com" for n in range(60)]
    admin.users(*users)
    now = datetime.now(UTC).replace(microsecond=0)
    admin.events(_timed(users[0], now + timedelta(days=1), now + timedelta(days=1, hours=1)))
    requests = [
        WatchRequest(user, f"channel-{n}", f"token-{n}", push_receiver.url, 3600) for n, user in enumerate(users)
    ]
    requests.append(WatchRequest("nobody@example.com", "channel-x", "t", push_receiver.url, 3600))
    admin.call("POST", "counters/reset")

    channels = adapter.watch_many(requests)
    tokens = adapter.sync_tokens(users)

    assert [c.channel_id for c in channels[:-1] if isinstance(c, Channel)] == [f"channel-{n}" for n in range(60)]
    assert isinstance(channels[-1], CalendarError)
    assert channels[-1].status == 404
    assert all(isinstance(token, str) and token for token in tokens.values())
    assert len(tokens) == 60
    counters = admin.counters()
    assert counters["calls"] == {"calendar.events.watch": 61, "calendar.events.list": 60}
    assert counters["round_trips"] == 4  # 61 watches and 60 lists in batches of 50
    # The token is a real baseline: a later change shows up in an incremental sync.
    admin.events(_timed(users[1], now + timedelta(days=2), now + timedelta(days=2, hours=1)))
    token = tokens[users[1]]
    assert isinstance(token, str)
    assert len(adapter.list_changes(users[1], token).events) == 1
