"""The stand-in refuses what Google refuses, with Google's error shape, over real loopback HTTP."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests
from google.auth.exceptions import RefreshError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from infra.calendar_server import RunningServer
from infra.calendar_server.oauth import JWT_BEARER
from maintenance_windows.adapters.calendar_credentials import local_credentials, local_token_uri
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


@pytest.mark.usefixtures("seeded")
def test_unknown_query_parameter_is_refused(calendar_server: RunningServer) -> None:
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
@pytest.mark.usefixtures("seeded")
def test_bad_list_parameters(calendar_server: RunningServer, query: str, reason: str) -> None:
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
@pytest.mark.usefixtures("seeded")
def test_bad_event_bodies(calendar_server: RunningServer, body: dict[str, Any], reason: str) -> None:
    _error(api(calendar_server, "POST", "calendars/primary/events", json=body), 400, reason)


@pytest.mark.parametrize("event_id", ["ABCDEF", "abcd", "wxyz12345", "abc-12345"])
@pytest.mark.usefixtures("seeded")
def test_client_event_ids_must_be_base32hex(calendar_server: RunningServer, event_id: str) -> None:
    _error(api(calendar_server, "POST", "calendars/primary/events", json=_event(event_id)), 400, "invalid")


@pytest.mark.usefixtures("seeded")
def test_duplicate_ids_conflict_even_after_deletion(calendar_server: RunningServer) -> None:
    assert api(calendar_server, "POST", "calendars/primary/events", json=_event("abc12345")).status_code == 200
    _error(api(calendar_server, "POST", "calendars/primary/events", json=_event("abc12345")), 409, "duplicate")
    assert api(calendar_server, "DELETE", "calendars/primary/events/abc12345").status_code == 204
    _error(api(calendar_server, "DELETE", "calendars/primary/events/abc12345"), 410, "deleted")
    _error(api(calendar_server, "POST", "calendars/primary/events", json=_event("abc12345")), 409, "duplicate")
    _error(api(calendar_server, "DELETE", "calendars/primary/events/unknown99"), 404, "notFound")


@pytest.mark.usefixtures("seeded")
def test_identity_and_calendar_access(calendar_server: RunningServer) -> None:
    _error(api(calendar_server, "GET", "calendars/primary/events", user=None), 401, "authError")
    _error(api(calendar_server, "GET", "calendars/primary/events", user="no-at-sign"), 401, "authError")
    _error(api(calendar_server, "GET", "calendars/primary/events", user="ghost@example.com"), 404, "notFound")
    _error(api(calendar_server, "GET", f"calendars/{BOB}/events"), 404, "notFound")  # not alice's calendar
    assert api(calendar_server, "GET", f"calendars/{ALICE}/events").status_code == 200


@pytest.mark.usefixtures("seeded")
def test_if_match_precondition(calendar_server: RunningServer) -> None:
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


@pytest.mark.usefixtures("seeded")
def test_incremental_sync_pages_and_deletions(calendar_server: RunningServer) -> None:
    for index in range(3):
        api(calendar_server, "POST", "calendars/primary/events", json=_event(f"inc0000{index}"))
    token = api(calendar_server, "GET", "calendars/primary/events").json()["nextSyncToken"]
    api(calendar_server, "DELETE", "calendars/primary/events/inc00000")
    api(calendar_server, "PATCH", "calendars/primary/events/inc00001", json={"summary": "moved"})
    api(calendar_server, "POST", "calendars/primary/events", json=_event("inc00009"))

    first = api(calendar_server, "GET", f"calendars/primary/events?syncToken={token}&maxResults=2").json()
    assert "nextSyncToken" not in first
    assert first["nextPageToken"]
    second = api(
        calendar_server,
        "GET",
        f"calendars/primary/events?syncToken={token}&maxResults=2&pageToken={first['nextPageToken']}",
    ).json()
    assert "nextPageToken" not in second
    assert second["nextSyncToken"]
    items = first["items"] + second["items"]
    assert [item["id"] for item in items] == ["inc00000", "inc00001", "inc00009"]
    assert set(items[0]) == {"kind", "etag", "id", "status", "updated"}  # a deletion carries no more
    assert items[0]["status"] == "cancelled"

    quiet = api(calendar_server, "GET", f"calendars/primary/events?syncToken={second['nextSyncToken']}").json()
    assert quiet["items"] == []


@pytest.mark.usefixtures("seeded")
def test_free_busy_limits(calendar_server: RunningServer) -> None:
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


def _batch_body(parts: int) -> tuple[str, bytes]:
    part = (
        "--b\r\nContent-Type: application/http\r\nContent-ID: <x + {0}>\r\n\r\n"
        "GET /calendar/v3/users/me/settings/timezone HTTP/1.1\r\nAuthorization: Bearer local:alice@example.com\r\n\r\n"
    )
    return 'multipart/mixed; boundary="b"', ("".join(part.format(i) for i in range(parts)) + "--b--\r\n").encode()


def test_batches_take_up_to_a_thousand_calls(calendar_server: RunningServer, seeded: Admin) -> None:
    content_type, body = _batch_body(1000)
    answer = requests.post(
        f"{calendar_server.url}/batch/calendar/v3", data=body, headers={"Content-Type": content_type}, timeout=30
    )
    assert answer.status_code == 200
    assert answer.text.count("HTTP/1.1 200 OK") == 1000
    content_type, body = _batch_body(1001)
    refused = requests.post(
        f"{calendar_server.url}/batch/calendar/v3", data=body, headers={"Content-Type": content_type}, timeout=30
    )
    _error(refused, 400, "badRequest")
    assert seeded.counters()["calls"]["calendar.settings.get"] == 1000  # the refused batch ran nothing


def _service(calendar_server: RunningServer, credentials: Any) -> Any:
    return build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": calendar_server.api_endpoint},
    )


@pytest.mark.parametrize(
    ("state", "error", "description"),
    [
        ("suspended", "invalid_grant", "Invalid email or User ID"),
        ("unknown", "invalid_grant", "Invalid email or User ID"),
        ("deleted", "invalid_grant", "The account has been deleted"),
        ("not_delegated", "unauthorized_client", "Client is unauthorized to retrieve access tokens"),
    ],
)
def test_refused_delegation_fails_that_user_alone_with_refresh_error(
    calendar_server: RunningServer, seeded: Admin, state: str, error: str, description: str
) -> None:
    seeded.call("POST", "users", {"users": [{"email": "carol@example.com", "delegation": state}]})
    credentials_for = local_credentials(local_token_uri(calendar_server.api_endpoint))
    with pytest.raises(RefreshError) as raised:
        _service(calendar_server, credentials_for("carol@example.com")).settings().get(setting="timezone").execute()
    assert raised.value.args[0].startswith(f"{error}: {description}")
    assert raised.value.retryable is False
    # The same credentials work for everyone else, through the token endpoint.
    alice = _service(calendar_server, credentials_for(ALICE)).settings().get(setting="timezone").execute()
    assert alice["value"] == "Europe/Paris"
    counters = seeded.counters()
    assert (counters["token_grants"], counters["token_refusals"]) == (1, {error: 1})
    # A static token for the refused user is not accepted either: Google never issued one.
    _error(api(calendar_server, "GET", "users/me/settings/timezone", user="carol@example.com"), 401, "authError")


@pytest.mark.usefixtures("seeded")
def test_token_endpoint_refuses_what_google_refuses(calendar_server: RunningServer) -> None:
    credentials = local_credentials(local_token_uri(calendar_server.api_endpoint))(ALICE)
    assertion = credentials._make_authorization_grant_assertion()  # type: ignore[attr-defined]
    token_uri = local_token_uri(calendar_server.api_endpoint)
    wrong_grant = requests.post(token_uri, data={"grant_type": "password", "assertion": assertion}, timeout=5)
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
    garbage = requests.post(token_uri, data={"grant_type": JWT_BEARER, "assertion": "a.b.c"}, timeout=5)
    assert (garbage.status_code, garbage.json()["error"]) == (400, "invalid_grant")
    granted = requests.post(token_uri, data={"grant_type": JWT_BEARER, "assertion": assertion}, timeout=5).json()
    assert granted == {"access_token": f"local:{ALICE}", "expires_in": 3599, "token_type": "Bearer"}


def test_watch_follows_the_push_guide(calendar_server: RunningServer, seeded: Admin) -> None:
    def watch(**body: Any) -> requests.Response:
        channel = {"id": "chan-1", "type": "web_hook", "address": "https://example.com/push", **body}
        return api(calendar_server, "POST", "calendars/primary/events/watch", json=channel)

    _error(watch(id="chan.1"), 400, "badRequest")  # "." is not in [A-Za-z0-9-_+/=]
    _error(watch(id="c" * 65), 400, "invalid")
    _error(watch(token="t" * 257), 400, "invalid")
    _error(watch(params={"ttl": "-5"}), 400, "pushInvalidTtl")
    month = watch(id="A-b_c+d/e=1", token="t" * 256, params={"ttl": str(30 * 86400)})
    assert month.status_code == 200, month.text
    lifetime_ms = int(month.json()["expiration"]) - time.time() * 1000
    assert 604_700_000 < lifetime_ms <= 604_800_000  # capped at the stand-in's maximum (7 days by default)
    seeded.configure(channel_max_ttl_seconds=30 * 86400)
    longer = watch(id="chan-2", params={"ttl": str(30 * 86400)})
    assert int(longer.json()["expiration"]) - time.time() * 1000 > 29 * 86_400_000


def test_a_410_may_carry_another_reason(calendar_server: RunningServer, seeded: Admin) -> None:
    token = api(calendar_server, "GET", "calendars/primary/events").json()["nextSyncToken"]
    seeded.call("POST", "sync-tokens/expire", {"email": ALICE, "reason": "updatedMinTooLongAgo", "message": "Gone"})
    _error(api(calendar_server, "GET", f"calendars/primary/events?syncToken={token}"), 410, "updatedMinTooLongAgo")
    seeded.faults({"status": 410, "reason": "deleted", "method": "calendar.events.list"})
    _error(api(calendar_server, "GET", "calendars/primary/events"), 410, "deleted")


def test_errors_can_carry_details_as_well_as_errors(calendar_server: RunningServer, seeded: Admin) -> None:
    seeded.faults({"status": 429, "reason": "rateLimitExceeded", "details": True})
    error = _error(api(calendar_server, "GET", "users/me/settings/timezone"), 429, "rateLimitExceeded")
    [info] = error["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["reason"], info["metadata"]["method"]) == ("RATE_LIMIT_EXCEEDED", "calendar.settings.get")
    seeded.configure(error_details=True)
    with pytest.raises(HttpError) as raised:
        _service(calendar_server, local_credentials()(ALICE)).events().get(
            calendarId="primary", eventId="nope1"
        ).execute()
    # googleapiclient prefers `details` when both are present: clients must not rely on `errors` alone.
    assert raised.value.error_details[0]["reason"] == "NOT_FOUND"


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
    setting = answer.json()
    assert re.fullmatch(r'"[0-9a-f]{16}"', setting.pop("etag"))
    assert setting == {"kind": "calendar#setting", "id": "timezone", "value": "Europe/Paris"}
    seeded.call("GET", "counters")  # admin calls pay no latency and are not counted
    assert seeded.counters()["round_trips"] == 1


def _series(event_id: str, rule: str = "RRULE:FREQ=DAILY;COUNT=5") -> dict[str, Any]:
    return {
        "id": event_id,
        "summary": "Daily stand-up",
        "start": {"dateTime": "2031-03-03T09:30:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2031-03-03T09:45:00", "timeZone": "Europe/Paris"},
        "recurrence": [rule],
    }


def test_recurring_events_over_http(calendar_server: RunningServer, seeded: Admin) -> None:
    assert api(calendar_server, "POST", "calendars/primary/events", json=_series("stand0001")).status_code == 200
    service = _service(calendar_server, local_credentials()(ALICE))
    events = service.events()
    listed = events.list(calendarId="primary", singleEvents=True, orderBy="startTime", maxResults=2).execute()
    assert [item["id"] for item in listed["items"]] == ["stand0001_20310303T083000Z", "stand0001_20310304T083000Z"]
    rest = events.list(calendarId="primary", singleEvents=True, orderBy="startTime", pageToken=listed["nextPageToken"])
    assert len(rest.execute()["items"]) == 3
    # The user moves Wednesday's stand-up in the UI and deletes Thursday's through the API.
    seeded.call(
        "POST",
        f"users/{ALICE}/events/stand0001_20310305T083000Z/move",
        {"start": "2031-03-05T11:00:00+01:00", "end": "2031-03-05T11:15:00+01:00"},
    )
    events.delete(calendarId="primary", eventId="stand0001_20310306T083000Z").execute()
    instances = events.list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()["items"]
    assert [item["start"]["dateTime"][:16] for item in instances] == [
        "2031-03-03T09:30",
        "2031-03-04T09:30",
        "2031-03-05T11:00",
        "2031-03-07T09:30",
    ]
    assert {item["recurringEventId"] for item in instances} == {"stand0001"}
    master_view = events.list(calendarId="primary").execute()["items"]
    assert sorted(item["id"] for item in master_view) == [
        "stand0001",
        "stand0001_20310305T083000Z",
        "stand0001_20310306T083000Z",
    ]
    busy = (
        service.freebusy()
        .query(body={"timeMin": "2031-03-05T00:00:00Z", "timeMax": "2031-03-07T00:00:00Z", "items": [{"id": ALICE}]})
        .execute()["calendars"][ALICE]["busy"]
    )
    assert busy == [{"start": "2031-03-05T10:00:00Z", "end": "2031-03-05T10:15:00Z"}]


@pytest.mark.usefixtures("seeded")
def test_status_events_over_http(calendar_server: RunningServer) -> None:
    home = {
        **_event("place0001"),
        "eventType": "workingLocation",
        "workingLocationProperties": {"type": "homeOffice", "homeOffice": {}},
        "visibility": "public",
        "transparency": "transparent",
    }
    assert api(calendar_server, "POST", "calendars/primary/events", json=home).status_code == 200
    ooo = {**_event("ooo000001", "2031-03-04T11:00:00Z", "2031-03-04T12:00:00Z"), "eventType": "outOfOffice"}
    _error(api(calendar_server, "POST", "calendars/primary/events", json=ooo), 400, "required")
    ooo["outOfOfficeProperties"] = {"autoDeclineMode": "declineNone"}
    assert api(calendar_server, "POST", "calendars/primary/events", json=ooo).status_code == 200
    only = api(calendar_server, "GET", "calendars/primary/events?eventTypes=outOfOffice").json()["items"]
    assert [item["id"] for item in only] == ["ooo000001"]
    _error(
        api(calendar_server, "PATCH", "calendars/primary/events/ooo000001", json={"eventType": "default"}),
        400,
        "invalid",
    )
    # Working locations may not be written through the batch endpoint.
    service = _service(calendar_server, local_credentials()(ALICE))
    answers: list[Any] = []
    batch = service.new_batch_http_request(callback=lambda _id, _response, error: answers.append(error))
    batch._batch_uri = f"{calendar_server.url}/batch/calendar/v3"
    batch.add(service.events().insert(calendarId="primary", body={**home, "id": "place0002"}))
    batch.add(service.events().patch(calendarId="primary", eventId="place0001", body={"summary": "Home"}))
    batch.execute()
    assert [error.status_code for error in answers] == [400, 400]
