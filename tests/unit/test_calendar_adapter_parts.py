"""Pure pieces of the Google Calendar adapter: quota, backoff, error classification, conversions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httplib2
import limits.storage.memory
import pytest
import tenacity
from googleapiclient.errors import HttpError

from maintenance_windows.adapters.calendar_credentials import (
    CredentialsConfigurationError,
    credentials_factory,
    local_credentials,
)
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, bodies, resources
from maintenance_windows.adapters.google_calendar.adapter import MAX_BATCH_SIZE
from maintenance_windows.adapters.google_calendar.failures import classify, to_port_error
from maintenance_windows.adapters.google_calendar.transport import GOOGLE_API_ENDPOINT, GOOGLE_BATCH_URI, batch_uri_for
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.rate_limit import QuotaLimiter
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


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The wall clock `limits` keeps its window by, replaced so waits can be asserted without waiting."""
    fake = FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", _TimeModule(fake))
    monkeypatch.setattr("maintenance_windows.adapters.rate_limit.time", _TimeModule(fake))
    return fake


class _TimeModule:
    def __init__(self, clock: FakeClock) -> None:
        self.time = clock


def test_limiter_waits_for_the_oldest_call_to_leave_the_window(clock: FakeClock) -> None:
    limiter = QuotaLimiter(3, window_seconds=60, sleep=clock.sleep)
    limiter.acquire(3)
    assert clock.slept == []
    clock.now = 10.0
    limiter.acquire()
    assert clock.slept == [pytest.approx(50.0, abs=0.01)]  # the first call (t=0) leaves the window at t=60
    limiter.acquire(2)  # all three t=0 calls left at t=60: two more fit without waiting
    assert len(clock.slept) == 1
    limiter.acquire()
    assert clock.slept[1:] == [pytest.approx(60.0, abs=0.01)]  # three calls at t=60 fill the window until t=120


def test_limiter_takes_a_batch_larger_than_the_quota_in_turns(clock: FakeClock) -> None:
    limiter = QuotaLimiter(3, window_seconds=60, sleep=clock.sleep)
    limiter.acquire(7)  # 3 now, 3 a window later, 1 a window after that
    assert clock.slept == [pytest.approx(60.0, abs=0.01), pytest.approx(60.0, abs=0.01)]


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        QuotaLimiter(0)


def test_backoff_is_bounded_full_jitter() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_seconds=1.0, max_delay_seconds=5.0)
    delays: list[list[float]] = [[], [], [], []]

    def failing() -> None:
        raise ConnectionError("down")

    for _ in range(200):
        slept: list[float] = []
        retrying = policy.retrying(tenacity.retry_if_exception_type(ConnectionError), sleep=slept.append)
        with pytest.raises(ConnectionError):
            retrying(failing)
        assert len(slept) == 4  # five attempts, four waits, then the last error itself
        for attempt, delay in enumerate(slept):
            delays[attempt].append(delay)
    assert all(0 <= delay <= 1.0 for delay in delays[0])
    assert all(0 <= delay <= 5.0 for delay in delays[3])
    assert max(delays[3]) > 4.0  # the cap is reached, not just the base
    assert max(delays[0]) < max(delays[2])


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay_seconds=100.0, max_retry_after_seconds=5.0)
    asked = iter([2.0, 60.0])
    slept: list[float] = []
    outcomes = iter(["busy", "busy", "done"])
    retrying = policy.retrying(
        tenacity.retry_if_result(lambda answer: answer == "busy"),
        sleep=slept.append,
        retry_after=lambda state: next(asked),
    )
    assert retrying(lambda: next(outcomes)) == "done"
    assert slept == [2.0, 5.0]


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
    failure = classify(_http_error(status, reason))
    assert failure is not None
    assert (failure.status, failure.transient) == (status, transient)
    assert failure.reason == (reason or "unknown")
    error = to_port_error(failure, "calendar.events.insert")
    assert isinstance(error, CalendarUnavailable) == transient
    assert error.status == status and error.reason == failure.reason
    assert "calendar.events.insert" in str(error)


def test_gone_sync_token_maps_to_its_own_error() -> None:
    failure = classify(_http_error(410, "fullSyncRequired"))
    assert failure is not None
    assert isinstance(to_port_error(failure, "calendar.events.list"), SyncTokenExpired)


def test_transport_errors_are_transient_and_bugs_are_not_swallowed() -> None:
    failure = classify(ConnectionRefusedError("refused"))
    assert failure is not None and failure.transient and failure.status is None
    assert classify(KeyError("bug")) is None


def test_batch_uri_sits_beside_the_api_endpoint() -> None:
    assert batch_uri_for("http://127.0.0.1:8080/calendar/v3/") == "http://127.0.0.1:8080/batch/calendar/v3"
    assert batch_uri_for(GOOGLE_API_ENDPOINT) == GOOGLE_BATCH_URI
    with pytest.raises(ValueError, match="/calendar/v3/"):
        batch_uri_for("http://127.0.0.1:8080/")


def test_events_are_read_back_from_google_shapes() -> None:
    timed = resources.to_event(
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
    all_day = resources.to_event({"id": "d1234567", "start": {"date": "2031-03-04"}, "end": {"date": "2031-03-05"}})
    assert all_day.all_day and all_day.start is None and all_day.status == "confirmed"
    cancelled = resources.to_event({"kind": "calendar#event", "id": "c1234567", "status": "cancelled", "etag": '"2"'})
    assert (cancelled.status, cancelled.start, cancelled.all_day) == ("cancelled", None, False)


def test_event_times_are_sent_in_the_users_zone() -> None:
    moment = datetime(2031, 7, 1, 7, tzinfo=UTC)
    assert bodies.event_time(moment, "Europe/Paris") == {
        "dateTime": "2031-07-01T09:00:00+02:00",
        "timeZone": "Europe/Paris",
    }
    assert bodies.event_time(moment, None) == {"dateTime": "2031-07-01T07:00:00Z"}


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
        GoogleCalendarAdapter(credentials_for=local_credentials(), batch_size=MAX_BATCH_SIZE + 1)


def test_from_settings_points_batches_beside_the_endpoint() -> None:
    settings = Settings.from_env(
        {"MW_CALENDAR_CREDENTIALS": "local", "MW_CALENDAR_API_ENDPOINT": "http://127.0.0.1:9/calendar/v3/"}
    )
    adapter = GoogleCalendarAdapter.from_settings(settings)
    assert adapter._batch_uri == "http://127.0.0.1:9/batch/calendar/v3"
    assert adapter.credentials.credentials_of("a@x.com").token == "local:a@x.com"
