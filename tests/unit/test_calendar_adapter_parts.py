"""Pure pieces of the Google Calendar adapter: limiter, backoff, error classification, conversions."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import httplib2
import pytest
from googleapiclient.errors import HttpError

from maintenance_windows.adapters import google_calendar as gc
from maintenance_windows.adapters.calendar_credentials import (
    CredentialsConfigurationError,
    credentials_factory,
    local_credentials,
)
from maintenance_windows.config.settings import Settings
from maintenance_windows.ports.calendar import CalendarUnavailable, SyncTokenExpired


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_waits_for_the_oldest_call_to_leave_the_window() -> None:
    clock = FakeClock()
    limiter = gc.SlidingWindowLimiter(3, window_seconds=60, clock=clock, sleep=clock.sleep)
    limiter.acquire(3)
    assert clock.slept == []
    clock.now = 10.0
    limiter.acquire()
    assert clock.slept == [50.0]  # the first call (t=0) leaves the window at t=60
    limiter.acquire(2)  # all three t=0 calls left at t=60: two more fit without waiting
    assert clock.slept == [50.0]
    limiter.acquire()
    assert clock.slept == [50.0, 60.0]  # three calls at t=60 fill the window until t=120


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        gc.SlidingWindowLimiter(0)


def test_backoff_is_bounded_full_jitter() -> None:
    policy = gc.RetryPolicy(max_attempts=5, base_delay_seconds=1.0, max_delay_seconds=5.0)
    rng = random.Random(7)
    delays = [[policy.delay(attempt, rng) for _ in range(200)] for attempt in range(5)]
    assert all(0 <= delay <= 1.0 for delay in delays[0])
    assert all(0 <= delay <= 5.0 for delay in delays[4])
    assert max(delays[4]) > 4.0  # the cap is reached, not just the base
    assert max(delays[0]) < max(delays[2])


def _http_error(status: int, reason: str | None) -> HttpError:
    details = [{"domain": "usageLimits", "reason": reason, "message": "m"}] if reason else []
    content = json.dumps({"error": {"code": status, "message": "m", "errors": details}}).encode()
    return HttpError(httplib2.Response({"status": status}), content, uri="http://x")


@pytest.mark.parametrize(
    ("status", "reason", "transient"),
    [
        (429, "rateLimitExceeded", True),
        (403, "rateLimitExceeded", True),
        (403, "userRateLimitExceeded", True),
        (403, "quotaExceeded", True),
        (403, "forbidden", False),
        (500, "backendError", True),
        (503, None, True),
        (400, "invalid", False),
        (404, "notFound", False),
        (409, "duplicate", False),
        (410, "fullSyncRequired", False),
    ],
)
def test_error_classification(status: int, reason: str | None, transient: bool) -> None:
    failure = gc._classify(_http_error(status, reason))
    assert failure is not None
    assert (failure.status, failure.transient) == (status, transient)
    assert failure.reason == (reason or "unknown")
    error = failure.error("calendar.events.insert")
    assert isinstance(error, CalendarUnavailable) == transient
    assert error.status == status and error.reason == failure.reason
    assert "calendar.events.insert" in str(error)


def test_gone_sync_token_maps_to_its_own_error() -> None:
    failure = gc._classify(_http_error(410, "fullSyncRequired"))
    assert failure is not None
    assert isinstance(failure.error("calendar.events.list"), SyncTokenExpired)


def test_transport_errors_are_transient_and_bugs_are_not_swallowed() -> None:
    failure = gc._classify(ConnectionRefusedError("refused"))
    assert failure is not None and failure.transient and failure.status is None
    assert gc._classify(KeyError("bug")) is None


def test_batch_uri_sits_beside_the_api_endpoint() -> None:
    assert gc._batch_uri_for("http://127.0.0.1:8080/calendar/v3/") == "http://127.0.0.1:8080/batch/calendar/v3"
    assert gc._batch_uri_for(gc.GOOGLE_API_ENDPOINT) == gc.GOOGLE_BATCH_URI
    with pytest.raises(ValueError, match="/calendar/v3/"):
        gc._batch_uri_for("http://127.0.0.1:8080/")


def test_events_are_read_back_from_google_shapes() -> None:
    timed = gc._to_event(
        {
            "id": "abc12345",
            "status": "confirmed",
            "etag": '"1"',
            "updated": "2031-03-04T08:00:00.000Z",
            "start": {"dateTime": "2031-03-04T10:00:00+01:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2031-03-04T10:30:00+01:00"},
            "transparency": "transparent",
            "attendees": [{"email": "a@x.com", "self": True, "responseStatus": "declined"}],
            "extendedProperties": {"private": {"k": "v"}},
        }
    )
    assert timed.start == datetime(2031, 3, 4, 9, tzinfo=UTC)
    assert timed.transparent and timed.declined_by_owner and not timed.all_day
    assert timed.private_properties == {"k": "v"}
    all_day = gc._to_event({"id": "d1234567", "start": {"date": "2031-03-04"}, "end": {"date": "2031-03-05"}})
    assert all_day.all_day and all_day.start is None and all_day.status == "confirmed"
    cancelled = gc._to_event({"kind": "calendar#event", "id": "c1234567", "status": "cancelled", "etag": '"2"'})
    assert (cancelled.status, cancelled.start, cancelled.all_day) == ("cancelled", None, False)


def test_event_times_are_sent_in_the_users_zone() -> None:
    moment = datetime(2031, 7, 1, 7, tzinfo=UTC)
    assert gc._event_time(moment, "Europe/Paris") == {
        "dateTime": "2031-07-01T09:00:00+02:00",
        "timeZone": "Europe/Paris",
    }
    assert gc._event_time(moment, None) == {"dateTime": "2031-07-01T07:00:00Z"}


def test_credentials_modes() -> None:
    local = local_credentials()("a@x.com")
    assert local.token == "local:a@x.com" and local.valid
    assert credentials_factory("local", None)("b@x.com").token == "local:b@x.com"
    with pytest.raises(CredentialsConfigurationError, match="MW_CALENDAR_SERVICE_ACCOUNT"):
        credentials_factory("keyless", None)
    with pytest.raises(CredentialsConfigurationError, match="cannot read"):
        credentials_factory("/nonexistent/key.json", None)


def test_batch_size_is_bounded_by_googles_advice() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        gc.GoogleCalendarAdapter(credentials_for=local_credentials(), batch_size=51)


def test_from_settings_points_batches_beside_the_endpoint() -> None:
    settings = Settings.from_env(
        {"MW_CALENDAR_CREDENTIALS": "local", "MW_CALENDAR_API_ENDPOINT": "http://127.0.0.1:9/calendar/v3/"}
    )
    adapter = gc.GoogleCalendarAdapter.from_settings(settings)
    assert adapter._batch_uri == "http://127.0.0.1:9/batch/calendar/v3"
    assert adapter._credentials_of("a@x.com").token == "local:a@x.com"
