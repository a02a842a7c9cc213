"""The stand-in refuses what Google refuses, with Google's error shape, over real loopback HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from infra.calendar_server import RunningServer
from maintenance_windows.adapters.calendar_credentials import local_credentials
from tests.integration.calendar.conftest import Admin, api

ALICE = "alice@example.com"
BOB = "bob@example.com"


def _event(
    event_id: str | None = None, start: str = "2031-03-04T09:00:00Z", end: str = "2031-03-04T10:00:00Z"
) -> dict[str, Any]:
    body: dict[str, Any] = {"summary": "Standup", "start": {"dateTime": start}, "end": {"dateTime": end}}
    if event_id is not None:
        body["id"] = event_id
    return body


def _error(response: Any, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == status
    assert error["errors"][0]["reason"] == reason
    assert error["errors"][0]["domain"] in ("global", "calendar", "usageLimits")
    assert error["message"]
    return error


@pytest.fixture
def seeded(admin: Admin) -> Admin:
    admin.users(ALICE, BOB)
    return admin


def test_unknown_query_parameter_is_refused(calendar_server: RunningServer, seeded: Admin) -> None:
    error = _error(api(calendar_server, "GET", "calendars/primary/events?colour=red"), 400, "badRequest")
    assert error["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("maxResults=lots", "invalid"),
        ("maxResults=0", "invalid"),
        ("showDeleted=maybe", "invalid"),
        ("orderBy=alphabetical", "invalid"),
        ("timeMin=2031-03-04T09:00:00", "badRequest"),  # no offset
        ("orderBy=startTime", "badRequest"),  # needs singleEvents=true
        ("timeMin=2031-03-05T00:00:00Z&timeMax=2031-03-04T00:00:00Z", "timeRangeEmpty"),
    ],
)
def test_bad_list_parameters(calendar_server: RunningServer, seeded: Admin, query: str, reason: str) -> None:
    _error(api(calendar_server, "GET", f"calendars/primary/events?{query}"), 400, reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**_event(), "colour": "red"}, "invalid"),  # unknown field
        ({**_event(), "summary": 42}, "invalid"),  # wrong JSON type
        ({**_event(), "reminders": {"useDefault": "no"}}, "invalid"),
        ({"summary": "no times", "end": {"dateTime": "2031-03-04T10:00:00Z"}}, "required"),
        ({**_event(), "transparency": "see-through"}, "invalid"),
        ({**_event(), "start": {"dateTime": "2031-03-04T09:00:00"}}, "required"),  # no offset and no zone
        (_event(start="2031-03-04T11:00:00Z"), "timeRangeEmpty"),
        (
            {**_event(), "reminders": {"useDefault": True, "overrides": [{"method": "popup", "minutes": 5}]}},
            "cannotUseDefaultRemindersAndSpecifyOverride",
        ),
    ],
)
def test_bad_event_bodies(calendar_server: RunningServer, seeded: Admin, body: dict[str, Any], reason: str) -> None:
    _error(api(calendar_server, "POST", "calendars/primary/events", json=body), 400, reason)


@pytest.mark.parametrize("event_id", ["ABCDEF", "abcd", "wxyz12345", "abc-12345"])
def test_client_event_ids_must_be_base32hex(calendar_server: RunningServer, seeded: Admin, event_id: str) -> None:
    _error(api(calendar_server, "POST", "calendars/primary/events", json=_event(event_id)), 400, "invalid")


def test_duplicate_ids_conflict_even_after_deletion(calendar_server: RunningServer, seeded: Admin) -> None:
    assert api(calendar_server, "POST", "calendars/primary/events", json=_event("abc12345")).status_code == 200
    _error(api(calendar_server, "POST", "calendars/primary/events", json=_event("abc12345")), 409, "duplicate")
    assert api(calendar_server, "DELETE", "calendars/primary/events/abc12345").status_code == 204
    _error(api(calendar_server, "DELETE", "calendars/primary/events/abc12345"), 410, "deleted")
    _error(api(calendar_server, "POST", "calendars/primary/events", json=_event("abc12345")), 409, "duplicate")
    _error(api(calendar_server, "DELETE", "calendars/primary/events/unknown99"), 404, "notFound")


def test_identity_and_calendar_access(calendar_server: RunningServer, seeded: Admin) -> None:
    _error(api(calendar_server, "GET", "calendars/primary/events", user=None), 401, "authError")
    _error(api(calendar_server, "GET", "calendars/primary/events", user="no-at-sign"), 401, "authError")
    _error(api(calendar_server, "GET", "calendars/primary/events", user="ghost@example.com"), 404, "notFound")
    _error(api(calendar_server, "GET", f"calendars/{BOB}/events"), 404, "notFound")  # not alice's calendar
    assert api(calendar_server, "GET", f"calendars/{ALICE}/events").status_code == 200


def test_if_match_precondition(calendar_server: RunningServer, seeded: Admin) -> None:
    created = api(calendar_server, "POST", "calendars/primary/events", json=_event("ifmatch01")).json()
    stale = {"If-Match": '"123"'}
    _error(
        api(
            calendar_server,
            "PATCH",
            "calendars/primary/events/ifmatch01",
            json={"summary": "x"},
            headers=stale,
        ),
        412,
        "conditionNotMet",
    )
    fresh = {"If-Match": created["etag"]}
    patched = api(calendar_server, "PATCH", "calendars/primary/events/ifmatch01", json={"summary": "y"}, headers=fresh)
    assert patched.status_code == 200
    assert patched.json()["etag"] != created["etag"]


def test_sync_token_rules(calendar_server: RunningServer, seeded: Admin) -> None:
    api(calendar_server, "POST", "calendars/primary/events", json=_event("sync00001"))
    token = api(calendar_server, "GET", "calendars/primary/events").json()["nextSyncToken"]
    combined = api(calendar_server, "GET", f"calendars/primary/events?syncToken={token}&timeMin=2031-01-01T00:00:00Z")
    _error(combined, 400, "badRequest")
    _error(api(calendar_server, "GET", "calendars/primary/events?syncToken=garbage"), 410, "fullSyncRequired")
    bob_token = api(calendar_server, "GET", "calendars/primary/events", user=BOB).json()["nextSyncToken"]
    _error(
        api(calendar_server, "GET", f"calendars/primary/events?syncToken={bob_token}"),
        410,
        "fullSyncRequired",
    )

    assert api(calendar_server, "GET", f"calendars/primary/events?syncToken={token}").status_code == 200
    seeded.call("POST", "sync-tokens/expire", {"email": ALICE})
    error = _error(api(calendar_server, "GET", f"calendars/primary/events?syncToken={token}"), 410, "fullSyncRequired")
    assert error["message"] == "Sync token is no longer valid, a full sync is required."


def test_incremental_sync_pages_and_deletions(calendar_server: RunningServer, seeded: Admin) -> None:
    for index in range(3):
        api(calendar_server, "POST", "calendars/primary/events", json=_event(f"inc0000{index}"))
    token = api(calendar_server, "GET", "calendars/primary/events").json()["nextSyncToken"]
    api(calendar_server, "DELETE", "calendars/primary/events/inc00000")
    api(calendar_server, "PATCH", "calendars/primary/events/inc00001", json={"summary": "moved"})
    api(calendar_server, "POST", "calendars/primary/events", json=_event("inc00009"))

    first = api(calendar_server, "GET", f"calendars/primary/events?syncToken={token}&maxResults=2").json()
    assert "nextSyncToken" not in first and first["nextPageToken"]
    second = api(
        calendar_server,
        "GET",
        f"calendars/primary/events?syncToken={token}&maxResults=2&pageToken={first['nextPageToken']}",
    ).json()
    assert "nextPageToken" not in second and second["nextSyncToken"]
    items = first["items"] + second["items"]
    assert [item["id"] for item in items] == ["inc00000", "inc00001", "inc00009"]
    assert items[0] == {key: items[0][key] for key in ("kind", "etag", "id", "status", "updated")}
    assert items[0]["status"] == "cancelled"

    quiet = api(calendar_server, "GET", f"calendars/primary/events?syncToken={second['nextSyncToken']}").json()
    assert quiet["items"] == []


def test_free_busy_limits(calendar_server: RunningServer, seeded: Admin) -> None:
    window = {"timeMin": "2031-03-04T00:00:00Z", "timeMax": "2031-03-05T00:00:00Z"}
    items = [{"id": f"user{index}@example.com"} for index in range(51)]
    _error(
        api(calendar_server, "POST", "freeBusy", json={**window, "items": items}),
        400,
        "tooManyCalendarsRequested",
    )
    _error(
        api(calendar_server, "POST", "freeBusy", json={"timeMax": window["timeMax"], "items": []}),
        400,
        "required",
    )
    too_long = {"timeMin": "2031-01-01T00:00:00Z", "timeMax": "2031-06-01T00:00:00Z", "items": []}
    _error(api(calendar_server, "POST", "freeBusy", json=too_long), 400, "invalid")
    answer = api(calendar_server, "POST", "freeBusy", json={**window, "items": [{"id": "ghost@example.com"}]}).json()
    assert answer["calendars"]["ghost@example.com"]["errors"] == [{"domain": "global", "reason": "notFound"}]


def test_batch_of_more_than_fifty_calls_is_refused(calendar_server: RunningServer, seeded: Admin) -> None:
    service = build(
        "calendar",
        "v3",
        credentials=local_credentials()(ALICE),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": calendar_server.api_endpoint},
    )
    batch = BatchHttpRequest(batch_uri=f"{calendar_server.url}/batch/calendar/v3")
    for _ in range(51):
        batch.add(service.settings().get(setting="timezone"))
    with pytest.raises(HttpError) as raised:
        batch.execute()
    assert raised.value.status_code == 400


def test_quotas_answer_like_google(calendar_server: RunningServer, seeded: Admin) -> None:
    seeded.configure(user_quota_per_minute=2)
    assert api(calendar_server, "GET", "users/me/settings/timezone").status_code == 200
    assert api(calendar_server, "GET", "users/me/settings/timezone").status_code == 200
    _error(api(calendar_server, "GET", "users/me/settings/timezone"), 403, "userRateLimitExceeded")
    assert api(calendar_server, "GET", "users/me/settings/timezone", user=BOB).status_code == 200

    seeded.configure(user_quota_per_minute=None, project_quota_per_minute=3, quota_status=429)
    _error(api(calendar_server, "GET", "users/me/settings/timezone", user=BOB), 429, "rateLimitExceeded")
    counters = seeded.counters()
    assert counters["rejected"] == {"userRateLimitExceeded": 1, "rateLimitExceeded": 1}
    assert counters["calls"]["calendar.settings.get"] == 5


def test_latency_is_paid_per_round_trip(calendar_server: RunningServer, seeded: Admin) -> None:
    seeded.configure(latency_ms=150)
    started = time.monotonic()
    answer = api(calendar_server, "GET", "users/me/settings/timezone")
    assert time.monotonic() - started >= 0.15
    assert answer.json() == {
        "kind": "calendar#setting",
        "etag": answer.json()["etag"],
        "id": "timezone",
        "value": "Europe/Paris",
    }
    seeded.call("GET", "counters")  # admin calls pay no latency and are not counted
    assert seeded.counters()["round_trips"] == 1
