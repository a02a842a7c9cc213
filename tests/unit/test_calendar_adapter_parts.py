"""Pure pieces of the Google Calendar adapter: quota, backoff, error classification, conversions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import google.auth.exceptions
import httplib2
import limits.storage.memory
import pytest
import tenacity
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account
from googleapiclient.errors import HttpError

from maintenance_windows.adapters.calendar_credentials import (
    TOKEN_CREATOR_ROLE,
    CredentialsConfigurationError,
    credentials_factory,
    keyless_credentials,
    local_credentials,
    signing_problem,
)
from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter, bodies, resources
from maintenance_windows.adapters.google_calendar.failures import classify, to_port_error
from maintenance_windows.adapters.google_calendar.transport import GOOGLE_API_ENDPOINT, GOOGLE_BATCH_URI, batch_uri_for
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.rate_limit import QuotaLimiter
from maintenance_windows.config.settings import Settings
from maintenance_windows.ports.calendar import (
    ACCESS_REFUSED_REASONS,
    CalendarAccessRefused,
    CalendarDeploymentError,
    CalendarUnavailable,
    SyncTokenExpired,
)


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
        retry_after=lambda _state: next(asked),
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
    assert error.status == status
    assert error.reason == failure.reason
    assert "calendar.events.insert" in str(error)


def _error_info(reason: str) -> dict[str, object]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}


@pytest.mark.parametrize(
    ("error", "reason", "transient"),
    [
        # Google's newer format: the legacy list and google.rpc details side by side (googleapiclient exposes
        # only `details` as error_details), so the legacy reason must still be the one read.
        (
            {
                "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded"}],
                "details": [_error_info("RATE_LIMIT_EXCEEDED")],
            },
            "userRateLimitExceeded",
            True,
        ),
        (
            {"errors": [{"domain": "global", "reason": "notFound"}], "details": [_error_info("NOT_FOUND")]},
            "notFound",
            False,
        ),
        ({"details": [_error_info("RATE_LIMIT_EXCEEDED")]}, "RATE_LIMIT_EXCEEDED", True),  # details alone
        ({"details": [{"@type": "type.googleapis.com/google.rpc.Help", "links": []}]}, "unknown", False),
    ],
)
def test_the_reason_is_read_from_errors_or_details(error: dict[str, object], reason: str, transient: bool) -> None:
    content = json.dumps({"error": {"code": 403, "message": "m", **error}}).encode()
    failure = classify(HttpError(httplib2.Response({"status": 403}), content, uri="http://x"))
    assert failure is not None
    assert (failure.reason, failure.transient) == (reason, transient)


@pytest.mark.parametrize("reason", ["fullSyncRequired", "deleted", None])
def test_any_gone_sync_token_maps_to_its_own_error(reason: str | None) -> None:
    failure = classify(_http_error(410, reason))
    assert failure is not None
    assert isinstance(to_port_error(failure, "calendar.events.list"), SyncTokenExpired)
    # A 410 elsewhere (a deleted event) is not about sync at all.
    assert not isinstance(to_port_error(failure, "calendar.events.get"), SyncTokenExpired)


def test_transport_errors_are_transient_and_bugs_are_not_swallowed() -> None:
    failure = classify(ConnectionRefusedError("refused"))
    assert failure is not None
    assert failure.transient
    assert failure.status is None
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
    assert timed.transparent
    assert timed.declined_by_owner
    assert not timed.all_day
    assert timed.private_properties == {"k": "v"}
    all_day = resources.to_event({"id": "d1234567", "start": {"date": "2031-03-04"}, "end": {"date": "2031-03-05"}})
    assert all_day.all_day
    assert all_day.start is None
    assert all_day.status == "confirmed"
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
    assert local.token == "local:a@x.com"
    assert local.valid
    assert credentials_factory("local", None)("b@x.com").token == "local:b@x.com"
    with pytest.raises(CredentialsConfigurationError, match="MW_CALENDAR_SERVICE_ACCOUNT"):
        credentials_factory("keyless", None)
    with pytest.raises(CredentialsConfigurationError, match="cannot read"):
        credentials_factory("/nonexistent/key.json", None)


def test_batch_size_is_bounded_by_googles_limit() -> None:
    # Google takes up to 1,000 calls in one batch request (Calendar API guide, "Sending batch requests").
    GoogleCalendarAdapter(credentials_for=local_credentials(), batch_size=1000)
    for refused in (0, 1001):
        with pytest.raises(ValueError, match="batch_size"):
            GoogleCalendarAdapter(credentials_for=local_credentials(), batch_size=refused)


def test_from_settings_points_batches_beside_the_endpoint() -> None:
    settings = Settings.from_env(
        {"MW_CALENDAR_CREDENTIALS": "local", "MW_CALENDAR_API_ENDPOINT": "http://127.0.0.1:9/calendar/v3/"}
    )
    adapter = GoogleCalendarAdapter.from_settings(settings)
    assert adapter._batch_uri == "http://127.0.0.1:9/batch/calendar/v3"
    # Local credentials mint each user's token at the stand-in's token endpoint, as production does at Google's.
    credentials = adapter.credentials.credentials_of("a@x.com")
    assert isinstance(credentials, service_account.Credentials)
    assert (credentials._token_uri, credentials._subject) == ("http://127.0.0.1:9/token", "a@x.com")


def _refresh_error(*args: object, retryable: bool = False) -> google.auth.exceptions.RefreshError:
    return google.auth.exceptions.RefreshError(*args, retryable=retryable)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("code", "description", "reason"),
    [
        ("invalid_grant", "Invalid email or User ID", "unknown"),
        ("invalid_grant", "Not a valid email.", "unknown"),
        ("invalid_grant", "The account has been deleted", "unknown"),
        ("unauthorized_client", "Client is unauthorized to retrieve access tokens using this method.", "not_delegated"),
        ("unauthorized_client", "Unauthorized client or scope in request.", "not_delegated"),
        ("access_denied", "Requested client not authorized.", "not_delegated"),
        ("admin_policy_enforced", "", "not_delegated"),
        ("org_internal", "This client is restricted to users within its organization.", "not_delegated"),
        ("access_denied", "Account restricted", "suspended"),
        ("invalid_grant", "The user account is suspended", "suspended"),
    ],
)
def test_a_refused_token_is_that_users_failure_with_a_reason(code: str, description: str, reason: str) -> None:
    refused = _refresh_error(f"{code}: {description}", {"error": code, "error_description": description})
    failure = classify(refused)
    assert failure is not None
    assert (failure.reason, failure.transient, failure.credentials_refused) == (reason, False, True)
    assert reason in ACCESS_REFUSED_REASONS
    error = to_port_error(failure, "calendar.settings.get")
    assert isinstance(error, CalendarAccessRefused)
    assert error.reason == reason


def test_a_token_endpoint_outage_is_transient() -> None:
    busy = _refresh_error("internal_failure: Backend Error", {"error": "internal_failure"}, retryable=True)
    failure = classify(busy)
    assert failure is not None
    assert failure.transient
    assert not failure.credentials_refused


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("invalid_client", "The OAuth client was not found."),
        ("disabled_client", "The OAuth client was disabled."),
        ("invalid_grant", "Invalid JWT Signature."),
        ("invalid_scope", "Invalid OAuth scope or ID token audience provided."),
    ],
)
def test_a_refused_service_account_is_a_deployment_error(code: str, description: str) -> None:
    answer = {"error": code, "error_description": description}
    refused = _refresh_error(f"{code}: {description}", answer)
    with pytest.raises(CalendarDeploymentError, match=code):
        classify(refused)


def _sign_blob_denied(status: int, body: dict[str, object]) -> google.auth.exceptions.TransportError:
    """What google-auth's iam.Signer raises for a non-200 signBlob answer (the body as bytes)."""
    body_bytes = json.dumps({"error": {"code": status, **body}}, indent=2).encode()
    return google.auth.exceptions.TransportError(f"Error calling the IAM signBlob API: {body_bytes!r}")  # type: ignore[no-untyped-call]


def test_signing_problems_name_what_to_fix() -> None:
    denied = _sign_blob_denied(
        403,
        {
            "message": "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist).",
            "status": "PERMISSION_DENIED",
        },
    )
    problem = signing_problem(str(denied), "mw@p.iam.gserviceaccount.com")
    assert problem is not None
    assert TOKEN_CREATOR_ROLE in problem
    assert "mw@p.iam.gserviceaccount.com" in problem
    disabled = _sign_blob_denied(
        403,
        {
            "message": "IAM Service Account Credentials API has not been used in project 1 before or it is disabled.",
            "status": "PERMISSION_DENIED",
            "details": [{"reason": "SERVICE_DISABLED"}],
        },
    )
    assert "iamcredentials.googleapis.com" in (signing_problem(str(disabled), "mw@p") or "")
    assert signing_problem(str(_sign_blob_denied(400, {"status": "INVALID_ARGUMENT"})), "mw@p") is None
    assert signing_problem("exhausted signBlob endpoint retries", "mw@p") is None  # 5xx: transient
    assert signing_problem("connection reset", "mw@p") is None


class FakeIam:
    """IAM Credentials as google-auth's Signer calls it: answers every signBlob with one canned response."""

    def __init__(self, status: int, body: dict[str, object]) -> None:
        self.status, self.body = status, body
        self.calls: list[str] = []

    def __call__(self, url: str, *_args: object, **_kwargs: object) -> SimpleNamespace:  # google.auth's Request
        self.calls.append(url)
        return SimpleNamespace(status=self.status, data=json.dumps(self.body).encode(), headers={})


def test_a_missing_token_creator_role_is_one_clear_deployment_error_not_retried() -> None:
    denied = "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist)."
    iam = FakeIam(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": denied}})
    factory = keyless_credentials(
        "mw@p.iam.gserviceaccount.com",
        source_credentials=oauth2_credentials.Credentials(token="runtime-token"),  # type: ignore[no-untyped-call]
        http_request=iam,
    )
    slept: list[float] = []
    adapter = GoogleCalendarAdapter(
        credentials_for=factory, api_endpoint="http://127.0.0.1:9/calendar/v3/", sleep=slept.append, concurrency=1
    )
    users = [f"user{index}@example.com" for index in range(120)]
    with pytest.raises(CalendarDeploymentError) as raised:
        adapter.time_zones(users)
    assert TOKEN_CREATOR_ROLE in str(raised.value)
    assert "mw@p.iam.gserviceaccount.com" in str(raised.value)
    assert len(iam.calls) == 1
    assert ":signBlob" in iam.calls[0]
    assert slept == []  # no retries: the same answer would come for everyone
    with pytest.raises(CalendarDeploymentError):
        adapter.busy(users, datetime(2031, 3, 4, tzinfo=UTC), datetime(2031, 3, 5, tzinfo=UTC))
    assert len(iam.calls) == 1  # remembered, not asked again within the minute
    assert adapter.stats.snapshot()["total_calls"] == 0


def test_syncs_list_series_as_one_item_and_agree_with_each_other() -> None:
    now = datetime(2031, 3, 4, tzinfo=UTC)
    full, incremental = bodies.full_sync_query(now), bodies.incremental_sync_query("token")
    assert full["singleEvents"] is False
    assert full["timeMin"] == "2031-03-04T00:00:00Z"
    assert (incremental["singleEvents"], incremental["showDeleted"]) == (full["singleEvents"], full["showDeleted"])
    assert "timeMin" not in incremental  # Google refuses timeMin beside a syncToken
