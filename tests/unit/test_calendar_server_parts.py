"""In-process checks of the Calendar stand-in's pieces: routing, validation, batch format, store rules."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from googleapiclient.http import BatchHttpRequest

from infra.calendar_server import oauth
from infra.calendar_server.batch import PartResponse, parse_batch, render_batch
from infra.calendar_server.errors import ApiError
from infra.calendar_server.limits import CallGate, GateConfig, ScriptedFault
from infra.calendar_server.store import CalendarStore, Notification
from infra.calendar_server.validation import load_discovery, parse_date_time
from maintenance_windows.adapters.calendar_credentials import local_credentials, local_token_uri

ALICE = "alice@example.com"


def _timed(event_id: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


@pytest.fixture
def store() -> CalendarStore:
    calendars = CalendarStore()
    calendars.add_user(ALICE, "Europe/Paris")
    return calendars


def test_routing_prefers_literal_paths() -> None:
    discovery = load_discovery()
    watch = discovery.match("POST", "calendars/primary/events/watch")
    assert watch is not None
    assert watch.method.method_id == "calendar.events.watch"
    get = discovery.match("GET", "calendars/a@b.c/events/abc12345")
    assert get is not None
    assert get.method.method_id == "calendar.events.get"
    assert get.path_params == {"calendarId": "a@b.c", "eventId": "abc12345"}
    assert discovery.match("GET", "calendars/primary/nothing") is None


def test_query_validation_types_and_repetition() -> None:
    discovery = load_discovery()
    listing = discovery.match("GET", "calendars/primary/events")
    assert listing is not None
    typed = discovery.validate_query(
        listing.method,
        {
            "maxResults": ["5"],
            "singleEvents": ["true"],
            "privateExtendedProperty": ["a=1", "b=2"],
            "alt": ["json"],
        },
    )
    assert typed == {
        "maxResults": 5,
        "singleEvents": True,
        "privateExtendedProperty": ["a=1", "b=2"],
        "alt": "json",
    }
    with pytest.raises(ApiError) as repeated:
        discovery.validate_query(listing.method, {"maxResults": ["5", "6"]})
    assert repeated.value.reason == "invalid"


def test_body_validation_walks_nested_schemas() -> None:
    discovery = load_discovery()
    insert = discovery.match("POST", "calendars/primary/events")
    assert insert is not None
    good = _timed("abc12345", "2031-01-01T09:00:00Z", "2031-01-01T10:00:00Z", reminders={"overrides": [{"minutes": 5}]})
    discovery.validate_body(insert.method, good)
    bad = {**good, "reminders": {"overrides": [{"minutes": "5"}]}}
    with pytest.raises(ApiError) as raised:
        discovery.validate_body(insert.method, bad)
    assert raised.value.location == "resource.reminders.overrides[0].minutes"
    with pytest.raises(ApiError) as map_value:
        discovery.validate_body(insert.method, {**good, "extendedProperties": {"private": {"k": 1}}})
    assert map_value.value.reason == "invalid"


def test_date_times_need_an_offset_for_query_bounds() -> None:
    assert parse_date_time("2031-01-01T09:00:00.123456789+02:00", location="t") == datetime(
        2031, 1, 1, 7, 0, 0, 123456, tzinfo=UTC
    )
    with pytest.raises(ApiError):
        parse_date_time("2031-01-01T09:00:00", location="t")
    assert parse_date_time("2031-01-01T09:00:00", location="t", offset_required=False).tzinfo is None


def test_rendered_batch_is_what_googleapiclient_parses() -> None:
    content_type, body = render_batch(
        [
            PartResponse("<abc + 1>", 200, "OK", "application/json; charset=UTF-8", b'{"id": "x"}'),
            PartResponse("<abc + 2>", 204, "No Content", None, b""),
        ]
    )
    client = BatchHttpRequest(batch_uri="http://unused/batch")
    text = body.decode()
    boundary = content_type.split("boundary=")[1]
    parts = [part for part in text.split(f"--{boundary}") if part.strip() not in ("", "--")]
    assert len(parts) == 2
    _, payload = parts[0].split("\r\n\r\n", 1)
    response, content = client._deserialize_response(payload)
    assert (response.status, content) == (200, '{"id": "x"}\r\n')
    assert client._header_to_id("<response-abc + 1>") == "1"


def test_parse_batch_limits_parts() -> None:
    part = "--b\r\nContent-Type: application/http\r\nContent-ID: <x + {0}>\r\n\r\nGET /calendar/v3/x HTTP/1.1\r\n\r\n"
    body = "".join(part.format(index) for index in range(1001)) + "--b--\r\n"
    with pytest.raises(ApiError) as raised:
        parse_batch('multipart/mixed; boundary="b"', body.encode())
    assert raised.value.code == 400
    parsed = parse_batch(
        'multipart/mixed; boundary="b"', ("".join(part.format(i) for i in range(2)) + "--b--").encode()
    )
    assert [(p.method, p.path, p.content_id) for p in parsed] == [
        ("GET", "/calendar/v3/x", "<x + 0>"),
        ("GET", "/calendar/v3/x", "<x + 1>"),
    ]


def test_busy_merges_touching_blocks_and_clips_to_the_range(store: CalendarStore) -> None:
    store.insert(ALICE, "primary", _timed("aaaaa1", "2031-01-01T08:00:00Z", "2031-01-01T09:00:00Z"))
    store.insert(ALICE, "primary", _timed("aaaaa2", "2031-01-01T09:00:00Z", "2031-01-01T09:30:00Z"))
    store.insert(ALICE, "primary", _timed("aaaaa3", "2031-01-01T23:00:00Z", "2031-01-02T02:00:00Z"))
    answer = store.free_busy(
        {"timeMin": "2031-01-01T08:30:00Z", "timeMax": "2031-01-02T00:00:00Z", "items": [{"id": ALICE}]}
    )
    assert answer["calendars"][ALICE]["busy"] == [
        {"start": "2031-01-01T08:30:00Z", "end": "2031-01-01T09:30:00Z"},
        {"start": "2031-01-01T23:00:00Z", "end": "2031-01-02T00:00:00Z"},
    ]


def test_full_listing_pages_do_not_skip_when_events_arrive(store: CalendarStore) -> None:
    for index in range(6):
        store.insert(ALICE, "primary", _timed(f"bbbbb{index}", "2031-01-01T08:00:00Z", "2031-01-01T09:00:00Z"))
    first = store.list_events(ALICE, "primary", {"maxResults": 3})
    store.insert(ALICE, "primary", _timed("aaaaa0", "2031-01-01T08:00:00Z", "2031-01-01T09:00:00Z"))  # sorts first
    second = store.list_events(ALICE, "primary", {"maxResults": 3, "pageToken": first["nextPageToken"]})
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert seen == [f"bbbbb{index}" for index in range(6)]
    later = store.list_events(ALICE, "primary", {"syncToken": second["nextSyncToken"]})
    assert [item["id"] for item in later["items"]] == ["aaaaa0"]  # the late arrival comes with the next sync


def test_local_times_are_answered_with_offsets(store: CalendarStore) -> None:
    event = store.insert(
        ALICE,
        "primary",
        {
            "id": "ccccc1",
            "start": {"dateTime": "2031-07-01T09:00:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2031-07-01T09:30:00", "timeZone": "Europe/Paris"},
        },
    )
    assert event["start"]["dateTime"] == "2031-07-01T09:00:00+02:00"


def test_channels_notify_only_while_active() -> None:
    sent: list[Notification] = []
    calendars = CalendarStore(notify=sent.append)
    calendars.add_user(ALICE, None)
    channel = calendars.watch(ALICE, "primary", {"id": "c1", "type": "web_hook", "address": "https://h/x"}, "uri")
    calendars.insert(ALICE, "primary", _timed("ddddd1", "2031-01-01T08:00:00Z", "2031-01-01T09:00:00Z"))
    calendars.stop_channel({"id": "c1", "resourceId": channel["resourceId"]})
    calendars.insert(ALICE, "primary", _timed("ddddd2", "2031-01-01T08:00:00Z", "2031-01-01T09:00:00Z"))
    assert [(n.state, n.message_number) for n in sent] == [("sync", 1), ("exists", 2)]
    with pytest.raises(ApiError) as raised:
        calendars.stop_channel({"id": "c1", "resourceId": channel["resourceId"]})
    assert raised.value.code == 404


def test_gate_scripted_faults_match_method_and_user() -> None:
    gate = CallGate(GateConfig())
    gate.script_faults([ScriptedFault(500, method="calendar.events.get", user="b@x.com")])
    gate.admit("calendar.events.get", "a@x.com")
    gate.admit("calendar.events.list", "b@x.com")
    with pytest.raises(ApiError) as raised:
        gate.admit("calendar.events.get", "b@x.com")
    assert (raised.value.code, raised.value.reason) == (500, "backendError")
    gate.admit("calendar.events.get", "b@x.com")  # consumed
    assert gate.snapshot()["calls"] == {"calendar.events.get": 3, "calendar.events.list": 1}


def _weekly(event_id: str, count: int | None = 4, **extra: Any) -> dict[str, Any]:
    rule = f"RRULE:FREQ=WEEKLY;COUNT={count}" if count else "RRULE:FREQ=WEEKLY"
    return {
        "id": event_id,
        "summary": "Weekly sync",
        "start": {"dateTime": "2031-03-18T09:00:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2031-03-18T10:00:00", "timeZone": "Europe/Paris"},
        "recurrence": [rule],
        **extra,
    }


def _instances(store: CalendarStore, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = store.list_events(ALICE, "primary", {"singleEvents": True, **params})["items"]
    return items


def test_series_expand_in_their_zone_across_dst(store: CalendarStore) -> None:
    store.insert(ALICE, "primary", _weekly("series01"))
    instances = _instances(store, orderBy="startTime")
    # 09:00 in Paris is 08:00Z until the clocks change on 30 March 2031, then 07:00Z.
    assert [item["id"] for item in instances] == [
        "series01_20310318T080000Z",
        "series01_20310325T080000Z",
        "series01_20310401T070000Z",
        "series01_20310408T070000Z",
    ]
    first = instances[0]
    assert first["recurringEventId"] == "series01"
    assert first["originalStartTime"] == {"dateTime": "2031-03-18T09:00:00+01:00", "timeZone": "Europe/Paris"}
    assert "recurrence" not in first
    assert first["iCalUID"] == "series01@google.com"
    listed = store.list_events(ALICE, "primary", {})["items"]
    assert [item["id"] for item in listed] == ["series01"]  # without singleEvents: the series once
    assert listed[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=4"]


def test_exdate_time_bounds_and_endless_series(store: CalendarStore) -> None:
    store.insert(
        ALICE,
        "primary",
        _weekly("series02", recurrence=None)
        | {"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Paris:20310325T090000"]},
    )
    assert len(_instances(store)) == 3
    window = {
        "timeMin": parse_date_time("2031-03-31T00:00:00Z", location="t"),
        "timeMax": parse_date_time("2031-04-05T00:00:00Z", location="t"),
    }
    assert [item["id"] for item in _instances(store, **window)] == ["series02_20310401T070000Z"]
    store.insert(ALICE, "primary", _weekly("series03", count=None))
    endless = [item for item in _instances(store) if item["recurringEventId"] == "series03"]
    assert 100 < len(endless) < 300  # bounded by the expansion horizon: 730 days past the later of now and its start
    for bad in (["DTSTART:20310318T090000Z"], ["RRULE:FREQ=SOMETIMES"]):
        with pytest.raises(ApiError) as refused:
            store.insert(ALICE, "primary", _weekly("series04") | {"recurrence": bad})
        assert refused.value.code == 400
    no_zone = _timed("series05", "2031-03-18T09:00:00Z", "2031-03-18T10:00:00Z", recurrence=["RRULE:FREQ=DAILY"])
    with pytest.raises(ApiError) as missing:
        store.insert(ALICE, "primary", no_zone)
    assert (missing.value.code, missing.value.reason) == (400, "required")


def test_exceptions_move_and_cancel_single_instances(store: CalendarStore) -> None:
    store.insert(ALICE, "primary", _weekly("series06"))
    moved_id, cancelled_id = "series06_20310325T080000Z", "series06_20310401T070000Z"
    assert store.get(ALICE, "primary", moved_id)["recurringEventId"] == "series06"
    moved = store.patch(
        ALICE,
        "primary",
        moved_id,
        {"start": {"dateTime": "2031-03-26T15:00:00Z"}, "end": {"dateTime": "2031-03-26T16:00:00Z"}},
        None,
    )
    assert (moved["id"], moved["originalStartTime"]["dateTime"]) == (moved_id, "2031-03-25T09:00:00+01:00")
    store.delete(ALICE, "primary", cancelled_id, None)
    instances = _instances(store, orderBy="startTime")
    assert [(item["id"], item["start"]["dateTime"]) for item in instances] == [
        ("series06_20310318T080000Z", "2031-03-18T09:00:00+01:00"),
        (moved_id, "2031-03-26T15:00:00Z"),
        ("series06_20310408T070000Z", "2031-04-08T09:00:00+02:00"),
    ]
    with_deleted = _instances(store, showDeleted=True)
    assert cancelled_id in [item["id"] for item in with_deleted]
    # Without singleEvents: the series, the moved exception, and the cancelled one (even without showDeleted).
    listed = {item["id"]: item for item in store.list_events(ALICE, "primary", {})["items"]}
    assert set(listed) == {"series06", moved_id, cancelled_id}
    assert listed[cancelled_id]["status"] == "cancelled"
    assert listed[cancelled_id]["originalStartTime"]["dateTime"] == "2031-04-01T09:00:00+02:00"
    busy = store.free_busy(
        {"timeMin": "2031-03-18T00:00:00Z", "timeMax": "2031-04-10T00:00:00Z", "items": [{"id": ALICE}]}
    )["calendars"][ALICE]["busy"]
    assert busy == [
        {"start": "2031-03-18T08:00:00Z", "end": "2031-03-18T09:00:00Z"},
        {"start": "2031-03-26T15:00:00Z", "end": "2031-03-26T16:00:00Z"},
        {"start": "2031-04-08T07:00:00Z", "end": "2031-04-08T08:00:00Z"},
    ]
    with pytest.raises(ApiError) as not_an_instance:
        store.get(ALICE, "primary", "series06_20310319T080000Z")
    assert not_an_instance.value.code == 404
    store.delete(ALICE, "primary", "series06", None)  # the whole series
    assert _instances(store) == []


def test_incremental_sync_with_single_events_shows_a_changed_series_as_instances(store: CalendarStore) -> None:
    token = store.list_events(ALICE, "primary", {"singleEvents": True})["nextSyncToken"]
    store.insert(ALICE, "primary", _weekly("series07", count=2))
    changes = store.list_events(ALICE, "primary", {"singleEvents": True, "syncToken": token})["items"]
    assert [item["id"] for item in changes] == ["series07_20310318T080000Z", "series07_20310325T080000Z"]
    plain = store.list_events(ALICE, "primary", {"syncToken": token})["items"]
    assert [item["id"] for item in plain] == ["series07"]


def test_all_day_series(store: CalendarStore) -> None:
    store.insert(
        ALICE,
        "primary",
        {
            "id": "series08",
            "start": {"date": "2031-03-17"},
            "end": {"date": "2031-03-18"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        },
    )
    instances = _instances(store)
    assert [item["id"] for item in instances] == ["series08_20310317", "series08_20310318", "series08_20310319"]
    assert instances[1]["start"] == {"date": "2031-03-18"}
    assert instances[1]["originalStartTime"] == {"date": "2031-03-18"}
    store.delete(ALICE, "primary", "series08_20310318", None)
    busy = store.free_busy(
        {"timeMin": "2031-03-16T00:00:00Z", "timeMax": "2031-03-21T00:00:00Z", "items": [{"id": ALICE}]}
    )["calendars"][ALICE]["busy"]
    assert busy == [  # midnight to midnight in Paris (UTC+1)
        {"start": "2031-03-16T23:00:00Z", "end": "2031-03-17T23:00:00Z"},
        {"start": "2031-03-18T23:00:00Z", "end": "2031-03-19T23:00:00Z"},
    ]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"eventType": "outOfOffice"}, "required"),  # outOfOfficeProperties
        ({"eventType": "focusTime"}, "required"),  # focusTimeProperties
        (
            {
                "eventType": "workingLocation",
                "workingLocationProperties": {"type": "homeOffice"},
                "visibility": "public",
            },
            "invalid",
        ),  # not transparent
        (
            {
                "eventType": "workingLocation",
                "workingLocationProperties": {"type": "homeOffice"},
                "transparency": "transparent",
            },
            "invalid",
        ),  # not public
        (
            {
                "eventType": "workingLocation",
                "workingLocationProperties": {},
                "visibility": "public",
                "transparency": "transparent",
            },
            "required",
        ),  # no type
        ({"eventType": "fromGmail"}, "invalid"),
    ],
)
def test_status_events_need_their_required_fields(store: CalendarStore, extra: dict[str, Any], reason: str) -> None:
    with pytest.raises(ApiError) as refused:
        store.insert(ALICE, "primary", _timed("kind01", "2031-01-01T08:00:00Z", "2031-01-01T09:00:00Z", **extra))
    assert (refused.value.code, refused.value.reason) == (400, reason)


def test_status_events_block_time_as_google_says(store: CalendarStore) -> None:
    for event_id, hour, kind in (
        ("ooo001", 8, "outOfOffice"),
        ("focus1", 10, "focusTime"),
        ("place1", 12, "workingLocation"),
    ):
        start, end = f"2031-01-01T{hour:02}:00:00Z", f"2031-01-01T{hour + 1:02}:00:00Z"
        store.seed_event(ALICE, _timed(event_id, start, end, eventType=kind))
    busy = store.free_busy(
        {"timeMin": "2031-01-01T00:00:00Z", "timeMax": "2031-01-02T00:00:00Z", "items": [{"id": ALICE}]}
    )["calendars"][ALICE]["busy"]
    assert busy == [
        {"start": "2031-01-01T08:00:00Z", "end": "2031-01-01T09:00:00Z"},
        {"start": "2031-01-01T10:00:00Z", "end": "2031-01-01T11:00:00Z"},
    ]
    only = store.list_events(ALICE, "primary", {"eventTypes": ["focusTime", "workingLocation"]})["items"]
    assert {item["id"] for item in only} == {"focus1", "place1"}
    with pytest.raises(ApiError) as immutable:
        store.patch(ALICE, "primary", "focus1", {"eventType": "default"}, None)
    assert immutable.value.reason == "invalid"
    two_days = {"eventType": "workingLocation", "start": {"date": "2031-01-05"}, "end": {"date": "2031-01-07"}}
    with pytest.raises(ApiError):
        store.seed_event(ALICE, {"id": "place2", **two_days})


def test_token_grants_follow_the_subjects_delegation() -> None:
    credentials = local_credentials(local_token_uri("http://127.0.0.1:9/calendar/v3/"))("a@x.com")
    assert credentials._token_uri == "http://127.0.0.1:9/token"  # type: ignore[attr-defined]
    form = {"grant_type": oauth.JWT_BEARER, "assertion": credentials._make_authorization_grant_assertion().decode()}  # type: ignore[attr-defined]
    states = {"a@x.com": "active"}
    granted = oauth.grant(form, states.get)
    assert (granted.status, granted.body["access_token"]) == (200, "local:a@x.com")
    for state, expected in (("suspended", (400, "invalid_grant")), ("not_delegated", (401, "unauthorized_client"))):
        refused = oauth.grant(form, {"a@x.com": state}.get)
        assert (refused.status, refused.body["error"]) == expected
    assert oauth.grant(form, {}.get).body["error_description"] == "Invalid email or User ID"  # never seeded
    late = oauth.grant(form, states.get, now=time.time() + 2 * 3600)  # the assertion has expired
    assert late.body["error"] == "invalid_grant"
    assert "short-lived" in late.body["error_description"]
