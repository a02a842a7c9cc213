"""One user's refused delegation fails that user alone, against the stand-in over loopback HTTP.

The credentials are google-auth Credentials whose refresh answers like Google's token endpoint: a working
user gets the stand-in's `local:<email>` token, a refused one raises RefreshError with Google's error code
and description (https://developers.google.com/identity/protocols/oauth2/service-account#error-codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import google.auth.credentials
import google.auth.exceptions
import pytest
from google.auth import _helpers

from infra.calendar_server import RunningServer
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, RetryPolicy
from maintenance_windows.config.settings import Settings
from maintenance_windows.ports.calendar import (
    BusyResult,
    CalendarAccessRefused,
    EventSpec,
    SyncTokenExpired,
)
from tests.integration.calendar.conftest import Admin

DAY = datetime(2031, 3, 4, tzinfo=UTC)
SUSPENDED = ("access_denied", "Account restricted")
OUTSIDE_THE_DOMAIN = ("unauthorized_client", "Client is unauthorized to retrieve access tokens using this method.")
UNKNOWN = ("invalid_grant", "Invalid email or User ID")


class TokenEndpoint:
    """Mints local tokens, refuses the users it is told to, and counts what it was asked."""

    def __init__(self, refusals: Mapping[str, tuple[str, str]]) -> None:
        self.refusals = dict(refusals)
        self.asked: list[str] = []

    def credentials_for(self, email: str) -> google.auth.credentials.Credentials:
        return _Delegated(email, self)


class _Delegated(google.auth.credentials.Credentials):
    def __init__(self, email: str, endpoint: TokenEndpoint) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._email = email
        self._endpoint = endpoint

    def refresh(self, request: object) -> None:  # noqa: ARG002  # google.auth's Credentials.refresh signature
        self._endpoint.asked.append(self._email)
        refusal = self._endpoint.refusals.get(self._email)
        if refusal is not None:
            code, description = refusal
            answer = {"error": code, "error_description": description}
            raise google.auth.exceptions.RefreshError(f"{code}: {description}", answer)  # type: ignore[no-untyped-call]
        self.token = f"local:{self._email}"
        self.expiry = _helpers.utcnow() + timedelta(hours=1)  # type: ignore[no-untyped-call]


def _adapter(server: RunningServer, endpoint: TokenEndpoint) -> GoogleCalendarAdapter:
    return GoogleCalendarAdapter(
        credentials_for=endpoint.credentials_for,
        api_endpoint=server.api_endpoint,
        retry=RetryPolicy(max_attempts=4, base_delay_seconds=0.001, max_delay_seconds=0.01),
    )


def _spec(user: str, index: int) -> EventSpec:
    return EventSpec(
        user_email=user,
        event_id=f"ev{index:08d}",
        start=DAY + timedelta(hours=9),
        end=DAY + timedelta(hours=9, minutes=30),
        time_zone="Europe/Paris",
        summary="Maintenance window",
        description_html="Update macOS",
    )


def test_a_batch_with_one_suspended_user_serves_the_other_49_and_names_the_one(
    calendar_server: RunningServer, admin: Admin
) -> None:
    users = [f"member{index:02d}@example.com" for index in range(50)]
    admin.users(*users, time_zone="America/Chicago")
    endpoint = TokenEndpoint({users[7]: SUSPENDED})
    adapter = _adapter(calendar_server, endpoint)

    zones = adapter.time_zones(users)
    refused = zones[users[7]]
    assert isinstance(refused, CalendarAccessRefused)
    assert refused.reason == "suspended"
    assert {email: zone for email, zone in zones.items() if email != users[7]} == {
        email: "America/Chicago" for email in users if email != users[7]
    }

    results = adapter.insert_events([_spec(user, index) for index, user in enumerate(users)])
    assert [result.created for result in results].count(True) == 49
    assert [(result.event_id, result.error) for result in results if not result.created] == [
        ("ev00000007", "suspended")
    ]
    counters = admin.counters()
    assert counters["calls"] == {"calendar.settings.get": 49, "calendar.events.insert": 49}  # never sent as them
    assert counters["round_trips"] == 2
    assert endpoint.asked.count(users[7]) == 1  # the refusal is remembered, not asked again per call


def test_a_free_busy_group_whose_first_member_is_refused_still_answers_for_everyone(
    calendar_server: RunningServer, admin: Admin
) -> None:
    users = [f"fb{index:03d}@example.com" for index in range(60)]  # two freeBusy groups: 50 + 10
    admin.users(*users, time_zone="UTC")
    admin.events(
        {
            "user": users[0],
            "summary": "busy",
            "start": {"dateTime": (DAY + timedelta(hours=9)).isoformat()},
            "end": {"dateTime": (DAY + timedelta(hours=10)).isoformat()},
        },
    )
    endpoint = TokenEndpoint({users[0]: OUTSIDE_THE_DOMAIN, users[1]: UNKNOWN, users[50]: SUSPENDED})
    adapter = _adapter(calendar_server, endpoint)
    admin.call("POST", "counters/reset")

    result = adapter.busy(users, DAY, DAY + timedelta(days=1))

    assert set(result) == set(users)
    assert result[users[0]].busy
    assert result[users[0]].error is None
    assert all(result[user] == BusyResult() for user in users[1:])
    asked_as = sorted(r["user"] for r in admin.call("GET", "requests?limit=10")["requests"] if r["batched"])
    assert asked_as == [users[2], users[51]]  # the first member of each group whose credentials work
    assert admin.counters()["calls"] == {"calendar.freebusy.query": 2}


def test_a_group_nobody_can_ask_for_reports_the_refusal_per_member(
    calendar_server: RunningServer, admin: Admin
) -> None:
    users = ["a@example.com", "b@example.com"]
    admin.users(*users)
    adapter = _adapter(calendar_server, TokenEndpoint(dict.fromkeys(users, OUTSIDE_THE_DOMAIN)))
    assert adapter.busy(users, DAY, DAY + timedelta(days=1)) == {
        user: BusyResult(error="not_delegated") for user in users
    }
    assert admin.counters()["total_calls"] == 0


def test_a_single_call_for_a_refused_user_raises_at_once(calendar_server: RunningServer, admin: Admin) -> None:
    admin.users("gone@example.com")
    endpoint = TokenEndpoint({"gone@example.com": UNKNOWN})
    adapter = _adapter(calendar_server, endpoint)
    with pytest.raises(CalendarAccessRefused) as refused:
        adapter.get_event("gone@example.com", "abc12345")
    assert refused.value.reason == "unknown"
    assert adapter.stats.snapshot()["retried_calls"] == 0
    assert admin.counters()["total_calls"] == 0


def test_a_410_with_any_reason_asks_for_a_full_sync(adapter: GoogleCalendarAdapter, admin: Admin) -> None:
    admin.users("alice@example.com")
    token = adapter.list_changes("alice@example.com", None).next_sync_token
    admin.faults({"status": 410, "reason": "deleted", "method": "calendar.events.list"})
    with pytest.raises(SyncTokenExpired) as expired:  # a 410 on a sync means a full sync, whatever its reason
        adapter.list_changes("alice@example.com", token)
    assert (expired.value.status, expired.value.reason) == (410, "deleted")


def test_the_stand_ins_token_endpoint_refuses_users_alone_through_the_local_settings(
    calendar_server: RunningServer, admin: Admin
) -> None:
    """The local stack's own wiring: MW_CALENDAR_CREDENTIALS=local mints tokens at the stand-in's /token."""
    states = {
        "active@example.com": None,
        "susp@example.com": "suspended",
        "nodel@example.com": "not_delegated",
        "gone@example.com": "deleted",
    }
    admin.call(
        "POST",
        "users",
        {
            "users": [
                {"email": email, "timeZone": "Asia/Tokyo", **({"delegation": state} if state else {})}
                for email, state in states.items()
            ]
        },
    )
    settings = Settings.from_env(
        {"MW_CALENDAR_CREDENTIALS": "local", "MW_CALENDAR_API_ENDPOINT": calendar_server.api_endpoint}
    )
    adapter = GoogleCalendarAdapter.from_settings(settings)

    zones = adapter.time_zones(list(states))
    assert zones["active@example.com"] == "Asia/Tokyo"
    reasons = {email: zone.reason for email, zone in zones.items() if isinstance(zone, CalendarAccessRefused)}
    # Google answers a suspended user like an unknown one (see docs/calendar-server.md): both read "unknown".
    assert reasons == {
        "susp@example.com": "unknown",
        "nodel@example.com": "not_delegated",
        "gone@example.com": "unknown",
    }
    counters = admin.counters()
    assert counters["calls"] == {"calendar.settings.get": 1}
    assert counters["token_grants"] == 1
    assert counters["token_refusals"] == {"invalid_grant": 2, "unauthorized_client": 1}


def test_a_token_refused_after_it_was_minted_fails_that_batch_part_alone(
    calendar_server: RunningServer, admin: Admin
) -> None:
    """Delegation revoked while the user's token is still cached: the API answers 401, googleapiclient
    refreshes that part's credentials, the token endpoint refuses, and only that user fails."""
    users = ["p0@example.com", "p1@example.com", "p2@example.com"]
    admin.users(*users)
    endpoint = TokenEndpoint({})
    adapter = _adapter(calendar_server, endpoint)
    assert all(isinstance(zone, str) for zone in adapter.time_zones(users).values())  # tokens minted
    admin.call("POST", "users", {"users": [{"email": users[1], "delegation": "not_delegated"}]})
    endpoint.refusals[users[1]] = OUTSIDE_THE_DOMAIN
    admin.call("POST", "counters/reset")

    results = adapter.insert_events([_spec(user, index) for index, user in enumerate(users)])

    assert [(r.created, r.error, r.access_refused) for r in results] == [
        (True, None, False),
        (False, "not_delegated", True),
        (True, None, False),
    ]

    def sent_as(user: str) -> list[int]:
        return [r["status"] for r in admin.call("GET", "requests?limit=20")["requests"] if r["user"] == user]

    assert sent_as(users[1]) == [401]  # answered 401 once, and not sent again after the refused refresh
    assert endpoint.asked.count(users[1]) == 2  # minted once, refused at the refresh
    zones = adapter.time_zones([users[1]])
    assert isinstance(zones[users[1]], CalendarAccessRefused)  # remembered: no call, no token request
    assert endpoint.asked.count(users[1]) == 2
    assert sent_as(users[1]) == [401]
