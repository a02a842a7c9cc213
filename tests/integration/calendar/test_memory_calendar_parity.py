"""The memory calendar must answer like the Google adapter on the Calendar stand-in, for everything the product asks.

The same script runs on both; the unit tests rely on the double being faithful. Etags, timestamps and sync
tokens are opaque on both sides, so the script compares what they mean (changed or not, valid or not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.calendar_server import RunningServer
from maintenance_windows.adapters.calendar_credentials import local_credentials, local_token_uri
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, RetryPolicy
from maintenance_windows.adapters.memory_calendar import MemoryCalendar
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.ports.calendar import (
    CalendarAccessRefused,
    CalendarError,
    CalendarEvent,
    CalendarPort,
    Channel,
    EventSpec,
    SyncTokenExpired,
    WatchRequest,
)
from tests.integration.calendar.conftest import Admin

ALICE = "alice@example.com"
ZONE = "Europe/Paris"
#: Two days ahead at 09:00 UTC: the adapter's full sync lists from the wall clock's now.
DAY = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


@dataclass
class Side:
    """One implementation of the port, and how the user acts on it."""

    calendar: CalendarPort
    add_event: Callable[[str, datetime, datetime, bool], None]  # (event id, start, end, transparent)
    act: Callable[[str, str, dict[str, Any] | None], None]  # (action, event id, body)
    expire_tokens: Callable[[], None]
    add_typed: Callable[[str, datetime, datetime, str], None]  # (event id, start, end, eventType)


def _at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def _spec(event_id: str, start: datetime, description: str = "<p>fix</p>") -> EventSpec:
    return EventSpec(
        ALICE,
        event_id,
        start,
        start + timedelta(minutes=30),
        ZONE,
        "Maintenance",
        description,
        {"mw_window_id": "w-1", "mw_revision": "0"},
        "11",
        (10,),
    )


def _seen(event: CalendarEvent | None) -> tuple[Any, ...] | None:
    if event is None:
        return None
    summary = event.summary if event.status != "cancelled" else ""
    return (
        event.event_id,
        event.status,
        event.start,
        event.end,
        event.all_day,
        dict(event.private_properties),
        event.transparent,
        event.declined_by_owner,
        summary,
    )


def _listed(events: tuple[CalendarEvent, ...] | list[CalendarEvent]) -> list[tuple[Any, ...] | None]:
    return sorted((_seen(event) for event in events), key=lambda seen: str(seen))


def _script(side: Side) -> dict[str, Any]:
    calendar = side.calendar
    seen: dict[str, Any] = {}
    seen["zones"] = calendar.time_zones([ALICE])
    first = calendar.insert_events([_spec("aaaa0001", _at(1)), _spec("aaaa0002", _at(3))])
    seen["inserted"] = [(result.event_id, result.created, result.error, bool(result.etag)) for result in first]
    seen["reinserted"] = [(r.event_id, r.created) for r in calendar.insert_events([_spec("aaaa0001", _at(5))])]
    seen["got"] = _seen(calendar.get_event(ALICE, "aaaa0001"))
    full = calendar.list_changes(ALICE, None)
    seen["full"] = _listed(full.events)
    patched = calendar.patch_event(
        ALICE,
        "aaaa0001",
        start=_at(2),
        end=_at(2.5),
        time_zone=ZONE,
        description_html="<p>new</p>",
        private_properties={"mw_revision": "1"},
    )
    seen["patched"] = (_seen(patched), patched.etag != first[0].etag)
    ours = calendar.list_changes(ALICE, full.next_sync_token)
    seen["after_our_patch"] = _listed(ours.events)
    side.act("move", "aaaa0002", {"start": _at(4).isoformat(), "end": _at(4.5).isoformat()})
    moved = calendar.list_changes(ALICE, ours.next_sync_token)
    seen["after_user_move"] = _listed(moved.events)
    seen["deleted"] = (calendar.delete_event(ALICE, "aaaa0002"), calendar.delete_event(ALICE, "aaaa0002"))
    seen["get_deleted"] = _seen(calendar.get_event(ALICE, "aaaa0002"))
    deleted = calendar.list_changes(ALICE, moved.next_sync_token)
    seen["after_delete"] = _listed(deleted.events)
    seen["reinsert_deleted"] = [r.created for r in calendar.insert_events([_spec("aaaa0002", _at(6))])]
    seen["missing"] = (calendar.delete_event(ALICE, "aaaa9999"), calendar.get_event(ALICE, "aaaa9999"))
    with pytest.raises(CalendarError) as not_found:
        calendar.patch_event(ALICE, "aaaa9999", description_html="x")
    seen["patch_missing"] = not_found.value.status
    side.add_event("cccc0001", _at(-1), _at(0.5), False)  # starts before the range: clipped
    side.add_event("cccc0002", _at(0), _at(1.5), False)
    side.add_event("cccc0003", _at(7), _at(8), True)  # transparent: free
    side.add_event("cccc0004", _at(8), _at(9), False)
    side.act("decline", "cccc0004", None)
    seen["busy"] = calendar.busy([ALICE], _at(0), _at(24))[ALICE]
    seen["recent"] = _listed(calendar.recent_events(ALICE, _at(0), _at(24)))
    side.add_typed("dddd0001", _at(10), _at(20), "outOfOffice")
    side.add_typed("dddd0002", _at(20), _at(21), "focusTime")
    side.add_typed("dddd0003", _at(22), _at(23), "workingLocation")
    side.add_typed("dddd0004", _at(-30), _at(-26), "outOfOffice")  # before the range
    seen["away"] = calendar.out_of_office([ALICE], _at(0), _at(24))[ALICE]
    seen["busy_typed"] = calendar.busy([ALICE], _at(9.5), _at(24))[ALICE]
    side.act("all-day", "aaaa0001", None)
    seen["all_day"] = _seen(calendar.get_event(ALICE, "aaaa0001"))
    seen["busy_all_day"] = calendar.busy([ALICE], _at(-24), _at(48))[ALICE]
    request = WatchRequest(ALICE, "channel-parity-1", "token-1", "http://127.0.0.1:9/push", 3600)
    opened = calendar.watch_many([request, request])
    seen["watched"] = [type(item).__name__ for item in opened]
    assert isinstance(opened[0], Channel)
    assert isinstance(opened[1], CalendarError)
    seen["duplicate_channel"] = (opened[1].status, opened[1].reason)
    seen["expiry_about_an_hour"] = abs(opened[0].expiration - datetime.now(UTC) - timedelta(hours=1)) < timedelta(
        minutes=1
    )
    calendar.stop_channel(ALICE, "channel-parity-1", opened[0].resource_id)
    calendar.stop_channel(ALICE, "channel-parity-1", opened[0].resource_id)  # already gone: no error
    token = calendar.sync_tokens([ALICE])[ALICE]
    assert isinstance(token, str)
    seen["fresh_token_lists"] = _listed(calendar.list_changes(ALICE, token).events)
    side.expire_tokens()
    with pytest.raises(SyncTokenExpired) as expired:
        calendar.list_changes(ALICE, token)
    seen["expired"] = (expired.value.status, expired.value.reason)
    return seen


def _stand_in(adapter: GoogleCalendarAdapter, admin: Admin) -> Side:
    admin.users(ALICE, time_zone=ZONE)

    def add_event(event_id: str, start: datetime, end: datetime, transparent: bool) -> None:
        transparency = "transparent" if transparent else "opaque"
        admin.events(
            {
                "user": ALICE,
                "id": event_id,
                "summary": "Meeting",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
                "transparency": transparency,
            }
        )

    def act(action: str, event_id: str, body: dict[str, Any] | None) -> None:
        admin.call("POST", f"users/{ALICE}/events/{event_id}/{action}", body or {})

    def add_typed(event_id: str, start: datetime, end: datetime, event_type: str) -> None:
        admin.events(
            {
                "user": ALICE,
                "id": event_id,
                "summary": event_type,
                "eventType": event_type,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
            }
        )

    expire = lambda: admin.call("POST", "sync-tokens/expire", {"email": ALICE})  # noqa: E731
    return Side(adapter, add_event, act, expire, add_typed)


def _memory() -> Side:
    calendar = MemoryCalendar()
    calendar.set_time_zone(ALICE, ZONE)

    def add_event(event_id: str, start: datetime, end: datetime, transparent: bool) -> None:
        calendar.add_event(ALICE, event_id, start, end, summary="Meeting", transparent=transparent)

    def act(action: str, event_id: str, body: dict[str, Any] | None) -> None:
        if action == "move":
            assert body is not None
            calendar.user_moves(
                ALICE, event_id, datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
            )
        elif action == "decline":
            calendar.user_declines(ALICE, event_id)
        else:
            calendar.user_makes_all_day(ALICE, event_id)

    def add_typed(event_id: str, start: datetime, end: datetime, event_type: str) -> None:
        calendar.add_event(ALICE, event_id, start, end, summary=event_type, event_type=event_type)

    return Side(calendar, add_event, act, lambda: calendar.expire_sync_tokens(ALICE), add_typed)


def test_the_memory_calendar_answers_like_the_adapter_on_the_stand_in(
    adapter: GoogleCalendarAdapter, admin: Admin
) -> None:
    on_stand_in = _script(_stand_in(adapter, admin))
    in_memory = _script(_memory())
    for key in on_stand_in:
        assert in_memory[key] == on_stand_in[key], key
    assert on_stand_in["reinserted"] == [("aaaa0001", False)]
    assert on_stand_in["reinsert_deleted"] == [False]
    assert on_stand_in["deleted"] == (True, False)
    assert on_stand_in["expired"] == (410, "fullSyncRequired")
    # Out of office is read by type; free/busy shows it and focus time, never a working location.
    assert on_stand_in["away"].away == (Interval(_at(10), _at(20)),)
    assert on_stand_in["away"].error is None
    assert Interval(_at(10), _at(21)) in on_stand_in["busy_typed"].busy
    assert not any(block.overlaps(Interval(_at(22), _at(23))) for block in on_stand_in["busy_typed"].busy)


REFUSED = "nodel@example.com"


def _refusal_script(calendar: CalendarPort) -> dict[str, Any]:
    """What a user whose delegated token cannot be minted looks like, beside a working user."""
    seen: dict[str, Any] = {}
    zones = calendar.time_zones([ALICE, REFUSED])
    refused = zones[REFUSED]
    seen["zones"] = (zones[ALICE], type(refused).__name__, getattr(refused, "reason", None))
    inserted = calendar.insert_events([_spec("dddd0001", _at(1)), replace_user(_spec("dddd0002", _at(1)), REFUSED)])
    seen["inserted"] = [(result.created, result.error) for result in inserted]
    tokens = calendar.sync_tokens([ALICE, REFUSED])
    seen["tokens"] = (isinstance(tokens[ALICE], str), type(tokens[REFUSED]).__name__)
    request = WatchRequest(REFUSED, "channel-refused-1", "token-1", "http://127.0.0.1:9/push", 3600)
    seen["watched"] = [type(item).__name__ for item in calendar.watch_many([request])]
    with pytest.raises(CalendarAccessRefused) as single:
        calendar.get_event(REFUSED, "dddd0002")
    seen["single"] = (single.value.status, single.value.reason)
    return seen


def replace_user(spec: EventSpec, user: str) -> EventSpec:
    return EventSpec(user, spec.event_id, spec.start, spec.end, spec.time_zone, spec.summary, spec.description_html)


def test_a_refused_delegation_looks_the_same_in_memory_and_on_the_stand_in(
    calendar_server: RunningServer, admin: Admin
) -> None:
    admin.users(ALICE, time_zone=ZONE)
    admin.call("POST", "users", {"users": [{"email": REFUSED, "delegation": "not_delegated"}]})
    adapter = GoogleCalendarAdapter(
        credentials_for=local_credentials(local_token_uri(calendar_server.api_endpoint)),
        api_endpoint=calendar_server.api_endpoint,
        retry=RetryPolicy(max_attempts=2, base_delay_seconds=0.001, max_delay_seconds=0.01),
    )
    memory = MemoryCalendar()
    memory.set_time_zone(ALICE, ZONE)
    memory.refuse_delegation(REFUSED, "not_delegated")

    on_stand_in, in_memory = _refusal_script(adapter), _refusal_script(memory)
    assert in_memory == on_stand_in
    assert on_stand_in["zones"] == (ZONE, "CalendarAccessRefused", "not_delegated")
    assert on_stand_in["inserted"] == [(True, None), (False, "not_delegated")]
