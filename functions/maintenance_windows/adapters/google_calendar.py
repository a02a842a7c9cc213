"""CalendarPort on Google Calendar v3, through google-api-python-client and domain-wide delegation.

Shape of the traffic:
- Requests are built from the discovery document bundled with the client (no network at start).
- Calls that concern many users go out as HTTP batches of up to 50 calls, each part carrying its own
  user's Authorization header; free/busy asks for up to 50 calendars per call, and those calls are
  batched too, so 2,500 users cost one round trip.
- Every call passes a client-side limiter holding the project quota, and transient failures (429,
  403 rate/quota reasons, 5xx, transport errors) are retried with exponential backoff and full jitter;
  inside a batch only the failed parts are sent again.

Requests are built by one shared service object and executed with a per-user authorized http, rather
than building a service per user: build() costs milliseconds and memory per user, credentials do not.
"""

from __future__ import annotations

import functools
import logging
import random
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from maintenance_windows.adapters.calendar_credentials import CredentialsFactory, credentials_factory
from maintenance_windows.adapters.google_out_of_office import collect as collect_out_of_office
from maintenance_windows.adapters.google_out_of_office import out_of_office_query
from maintenance_windows.config.settings import Settings
from maintenance_windows.domain.ids import user_key
from maintenance_windows.domain.intervals import Interval, parse_rfc3339, to_rfc3339
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.calendar import (
    AwayResult,
    BusyResult,
    CalendarError,
    CalendarEvent,
    CalendarUnavailable,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    SyncTokenExpired,
    WatchRequest,
)

GOOGLE_API_ENDPOINT = "https://www.googleapis.com/calendar/v3/"
GOOGLE_BATCH_URI = "https://www.googleapis.com/batch/calendar/v3"
MAX_BATCH_SIZE = 50  # Google's advice for Calendar batches
MAX_FREEBUSY_CALENDARS = 50
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "usageLimits"})
_GONE = frozenset({404, 410})

_logger = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    max_attempts: int = 6
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 32.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_delay_seconds, self.base_delay_seconds * 2**attempt))


class SlidingWindowLimiter:
    """At most `limit` calls in any `window_seconds`; acquire() sleeps until a call is allowed.

    Hand-written because the rule is Google's sliding minute per project, and the popular limiter
    packages are either async-only or fixed-window; this one is a deque and a lock.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self._on_wait = on_wait or (lambda seconds: None)

    def acquire(self, calls: int = 1) -> None:
        for _ in range(calls):
            self._acquire_one()

    def _acquire_one(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self._window:
                    self._calls.popleft()
                if len(self._calls) < self._limit:
                    self._calls.append(now)
                    return
                wait = self._calls[0] + self._window - now
            self._on_wait(wait)
            self._sleep(wait)


@dataclass
class CalendarStats:
    """What a benchmark reports: calls by method, HTTP round trips, retries, limiter waits."""

    calls: Counter[str] = field(default_factory=Counter)
    round_trips: int = 0
    retried_calls: int = 0
    throttled_seconds: float = 0.0  # limiter sleeps, summed over threads
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, methods: Sequence[str]) -> None:
        with self._lock:
            self.round_trips += 1
            self.calls.update(methods)

    def record_retries(self, count: int) -> None:
        with self._lock:
            self.retried_calls += count

    def record_wait(self, seconds: float) -> None:
        with self._lock:
            self.throttled_seconds += seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "round_trips": self.round_trips,
                "retried_calls": self.retried_calls,
                "throttled_seconds": round(self.throttled_seconds, 3),
            }


@dataclass(frozen=True)
class _Failure:
    status: int | None
    reason: str
    message: str

    @property
    def transient(self) -> bool:
        if self.status is None or self.status == 429 or self.status >= 500:
            return True
        return self.status == 403 and self.reason in _RATE_LIMIT_REASONS

    def error(self, context: str) -> CalendarError:
        text = f"{context}: HTTP {self.status} {self.reason}: {self.message}"
        if self.transient:
            return CalendarUnavailable(text, status=self.status, reason=self.reason)
        if self.status == 410 and self.reason == "fullSyncRequired":
            return SyncTokenExpired(text, status=self.status, reason=self.reason)
        return CalendarError(text, status=self.status, reason=self.reason)


@dataclass(frozen=True)
class _Call:
    """One API call for one user, rebuilt on every attempt."""

    key: str
    email: str
    method: str
    build: Callable[[], HttpRequest]


class GoogleCalendarAdapter:
    def __init__(
        self,
        *,
        credentials_for: CredentialsFactory,
        api_endpoint: str | None = None,
        batch_uri: str | None = None,
        quota_per_minute: int = 10_000,
        retry: RetryPolicy | None = None,
        batch_size: int = MAX_BATCH_SIZE,
        concurrency: int = 4,
        page_size: int = 250,
        time_zone_ttl: timedelta = timedelta(hours=1),  # shorter than booking.TIME_ZONE_MAX_AGE: travellers
        credentials_cache_size: int = 4096,
        http_timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be within 1..{MAX_BATCH_SIZE}")
        endpoint = api_endpoint or GOOGLE_API_ENDPOINT
        self._batch_uri = batch_uri or _batch_uri_for(endpoint)
        self._credentials_for = credentials_for
        self._retry = retry or RetryPolicy()
        self._batch_size = batch_size
        self._concurrency = max(1, concurrency)
        self._page_size = page_size
        self._time_zone_ttl = time_zone_ttl
        self._timeout = http_timeout_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = CalendarStats()
        self._limiter = SlidingWindowLimiter(quota_per_minute, sleep=sleep, on_wait=self.stats.record_wait)
        self._credentials: OrderedDict[str, google.auth.credentials.Credentials] = OrderedDict()
        self._credentials_cache_size = credentials_cache_size
        self._time_zones: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        # httplib2.Http is not thread-safe: one connection pool per thread, shared by all users.
        self._thread_http = threading.local()
        self._service = build(
            "calendar",
            "v3",
            http=httplib2.Http(timeout=http_timeout_seconds),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint},
        )
        # Each service.events() call rebuilds every method and its docstring (~4 ms): build them once.
        self._events = self._service.events()
        self._settings = self._service.settings()
        self._freebusy = self._service.freebusy()
        self._channels = self._service.channels()

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleCalendarAdapter:
        return cls(
            credentials_for=credentials_factory(settings.calendar_credentials, settings.calendar_service_account),
            api_endpoint=settings.calendar_api_endpoint,
            quota_per_minute=settings.calendar_quota_per_minute,
        )

    # ---- CalendarPort ------------------------------------------------------------------------------

    def time_zones(self, emails: Sequence[str]) -> dict[str, str]:
        now = time.monotonic()
        zones: dict[str, str] = {}
        missing: list[str] = []
        with self._lock:
            for email in dict.fromkeys(emails):
                cached = self._time_zones.get(email)
                if cached is not None and cached[1] > now:
                    zones[email] = cached[0]
                else:
                    missing.append(email)
        # Call keys become batch Content-IDs: short indexes, never addresses (a long header gets folded).
        calls = [
            _Call(str(index), email, "calendar.settings.get", lambda: self._settings.get(setting="timezone"))
            for index, email in enumerate(missing)
        ]
        outcomes = self._run_batched(calls)
        for index, email in enumerate(missing):
            outcome = outcomes[str(index)]
            if isinstance(outcome, _Failure):
                log(
                    _logger,
                    logging.WARNING,
                    "time zone lookup failed",
                    user_key=user_key(email),
                    status=outcome.status,
                    reason=outcome.reason,
                )
                continue
            zones[email] = outcome["value"]
        with self._lock:
            expiry = now + self._time_zone_ttl.total_seconds()
            for email in missing:
                if email in zones:
                    self._time_zones[email] = (zones[email], expiry)
        return zones

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        unique = list(dict.fromkeys(emails))
        groups = [unique[i : i + MAX_FREEBUSY_CALENDARS] for i in range(0, len(unique), MAX_FREEBUSY_CALENDARS)]
        calls = [
            # Anyone in the Workspace domain may read colleagues' free/busy: ask as the group's first user.
            _Call(
                str(index),
                group[0],
                "calendar.freebusy.query",
                self._free_busy_builder(group, time_min, time_max),
            )
            for index, group in enumerate(groups)
        ]
        outcomes = self._run_batched(calls)
        results: dict[str, BusyResult] = {}
        for index, group in enumerate(groups):
            outcome = outcomes[str(index)]
            if isinstance(outcome, _Failure):
                if outcome.transient or outcome.status == 400:
                    raise outcome.error("freebusy.query")
                results.update({email: BusyResult(error=outcome.reason) for email in group})
                continue
            calendars = outcome.get("calendars", {})
            results.update({email: _busy_result(calendars.get(email)) for email in group})
        return results

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        unique = list(dict.fromkeys(emails))
        query = out_of_office_query(time_min, time_max, self._page_size)
        events = self._events
        calls = [_Call(str(index), email, "calendar.events.list", lambda: events.list(**query))
                 for index, email in enumerate(unique)]  # fmt: skip
        outcomes = self._run_batched(calls)
        first_pages: dict[str, Any] = {}
        for index, email in enumerate(unique):
            outcome = outcomes[str(index)]
            if isinstance(outcome, _Failure) and outcome.transient:
                raise outcome.error("events.list")
            first_pages[email] = outcome.error("events.list") if isinstance(outcome, _Failure) else outcome
        return collect_out_of_office(
            unique, first_pages, lambda email, token: self._pages(email, {**query, "pageToken": token})
        )

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        calls = [
            _Call(str(index), spec.user_email, "calendar.events.insert", self._insert_builder(spec))
            for index, spec in enumerate(specs)
        ]
        outcomes = self._run_batched(calls)
        results: list[InsertResult] = []
        for index, spec in enumerate(specs):
            outcome = outcomes[str(index)]
            if not isinstance(outcome, _Failure):
                results.append(InsertResult(spec.event_id, created=True, etag=outcome.get("etag")))
            elif outcome.status == 409:
                results.append(InsertResult(spec.event_id, created=False))
            else:
                log(
                    _logger,
                    logging.WARNING,
                    "event insert failed",
                    user_key=user_key(spec.user_email),
                    status=outcome.status,
                    reason=outcome.reason,
                )
                results.append(InsertResult(spec.event_id, created=False, error=outcome.reason))
        return results

    def patch_event(
        self,
        user_email: str,
        event_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        time_zone: str | None = None,
        summary: str | None = None,
        description_html: str | None = None,
        private_properties: Mapping[str, str] | None = None,
    ) -> CalendarEvent:
        body: dict[str, Any] = {}
        if start is not None:
            body["start"] = _event_time(start, time_zone)
        if end is not None:
            body["end"] = _event_time(end, time_zone)
        if summary is not None:
            body["summary"] = summary
        if description_html is not None:
            body["description"] = description_html
        if private_properties is not None:
            body["extendedProperties"] = {"private": dict(private_properties)}
        events = self._events
        resource = self._execute(
            user_email,
            "calendar.events.patch",
            lambda: events.patch(calendarId="primary", eventId=event_id, body=body, sendUpdates="none"),
        )
        return _to_event(resource)

    def delete_event(self, user_email: str, event_id: str) -> bool:
        events = self._events
        try:
            self._execute(
                user_email,
                "calendar.events.delete",
                lambda: events.delete(calendarId="primary", eventId=event_id, sendUpdates="none"),
            )
        except CalendarError as error:
            if error.status in _GONE:
                return False
            raise
        return True

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        events = self._events
        try:
            resource = self._execute(
                user_email, "calendar.events.get", lambda: events.get(calendarId="primary", eventId=event_id)
            )
        except CalendarError as error:
            if error.status in _GONE:
                return None
            raise
        return _to_event(resource)

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        if sync_token is None:
            query = self._full_sync_query()
        else:
            query = {"calendarId": "primary", "singleEvents": True, "showDeleted": True, "syncToken": sync_token}
        events: list[CalendarEvent] = []
        next_sync_token: str | None = None
        for page in self._pages(user_email, query):
            events.extend(_to_event(item) for item in page.get("items", []))
            next_sync_token = page.get("nextSyncToken", next_sync_token)
        if next_sync_token is None:
            raise CalendarError("events.list ended without a nextSyncToken", reason="noSyncToken")
        return ChangeSet(tuple(events), next_sync_token)

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        query = {
            "calendarId": "primary",
            "singleEvents": True,
            "orderBy": "startTime",
            "timeMin": to_rfc3339(time_min),
            "timeMax": to_rfc3339(time_max),
        }
        found: list[CalendarEvent] = []
        for page in self._pages(user_email, query):
            found.extend(_to_event(item) for item in page.get("items", []))
        return [event for event in found if not event.all_day and event.status != "cancelled"]

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        request = WatchRequest(user_email, channel_id, token, address, ttl_seconds)
        return _channel(self._execute(user_email, "calendar.events.watch", self._watch_builder(request)))

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        calls = [
            _Call(str(index), request.user_email, "calendar.events.watch", self._watch_builder(request))
            for index, request in enumerate(requests)
        ]
        outcomes = self._run_batched(calls)
        results: list[Channel | CalendarError] = []
        for index in range(len(requests)):
            outcome = outcomes[str(index)]
            if isinstance(outcome, _Failure):
                if outcome.transient:
                    raise outcome.error("events.watch")
                results.append(outcome.error("events.watch"))
            else:
                results.append(_channel(outcome))
        return results

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        """First pages in batches; the rare user whose upcoming events span pages is finished one by one."""
        unique = list(dict.fromkeys(emails))
        query = self._full_sync_query()
        events = self._events
        calls = [
            _Call(str(index), email, "calendar.events.list", lambda: events.list(**query, maxResults=self._page_size))
            for index, email in enumerate(unique)
        ]
        outcomes = self._run_batched(calls)
        tokens: dict[str, str | CalendarError] = {}
        for index, email in enumerate(unique):
            outcome = outcomes[str(index)]
            if isinstance(outcome, _Failure):
                tokens[email] = outcome.error("events.list")
            elif outcome.get("nextSyncToken"):
                tokens[email] = outcome["nextSyncToken"]
            else:
                try:
                    tokens[email] = self.list_changes(email, None).next_sync_token
                except CalendarError as problem:
                    tokens[email] = problem
        return tokens

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        channels = self._channels
        try:
            self._execute(
                user_email,
                "calendar.channels.stop",
                lambda: channels.stop(body={"id": channel_id, "resourceId": resource_id}),
            )
        except CalendarError as error:
            if error.status != 404:
                raise
            # Already stopped or expired: the goal is reached.
            log(_logger, logging.INFO, "channel already gone", user_key=user_key(user_email))

    # ---- request builders ----------------------------------------------------------------------------

    @staticmethod
    def _full_sync_query() -> dict[str, Any]:
        # The same singleEvents/showDeleted on full and incremental syncs, as Google asks.
        return {
            "calendarId": "primary",
            "singleEvents": True,
            "showDeleted": True,
            "timeMin": to_rfc3339(datetime.now(UTC)),
        }

    def _watch_builder(self, request: WatchRequest) -> Callable[[], HttpRequest]:
        body = {
            "id": request.channel_id,
            "type": "web_hook",
            "address": request.address,
            "token": request.token,
            "params": {"ttl": str(request.ttl_seconds)},
        }
        events = self._events
        return lambda: events.watch(calendarId="primary", body=body)

    def _free_busy_builder(
        self, group: Sequence[str], time_min: datetime, time_max: datetime
    ) -> Callable[[], HttpRequest]:
        body = {
            "timeMin": to_rfc3339(time_min),
            "timeMax": to_rfc3339(time_max),
            "items": [{"id": email} for email in group],
        }
        return lambda: self._freebusy.query(body=body)

    def _insert_builder(self, spec: EventSpec) -> Callable[[], HttpRequest]:
        body: dict[str, Any] = {
            "id": spec.event_id,
            "start": _event_time(spec.start, spec.time_zone),
            "end": _event_time(spec.end, spec.time_zone),
            "summary": spec.summary,
            "description": spec.description_html,
            "transparency": "opaque",
            "guestsCanModify": False,
            "reminders": {
                "useDefault": False,
                "overrides": [{"method": "popup", "minutes": minutes} for minutes in spec.popup_reminders_minutes],
            },
            "extendedProperties": {"private": dict(spec.private_properties)},
        }
        if spec.color_id is not None:
            body["colorId"] = spec.color_id
        return lambda: self._events.insert(calendarId="primary", body=body, sendUpdates="none")

    # ---- execution -----------------------------------------------------------------------------------

    def _pages(self, user_email: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        events = self._events
        page_token: str | None = None
        while True:
            params = {**query, "maxResults": self._page_size}
            if page_token is not None:
                params["pageToken"] = page_token
            page = self._execute(user_email, "calendar.events.list", functools.partial(events.list, **params))
            yield page
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    def _execute(self, email: str, method: str, make_request: Callable[[], HttpRequest]) -> Any:
        """One call, retried while transient; raises CalendarError (or a subclass) otherwise."""
        for attempt in range(self._retry.max_attempts):
            self._limiter.acquire()
            self.stats.record([method])
            try:
                return make_request().execute(http=self._authorized_http(email), num_retries=0)
            except Exception as error:  # classified just below; unknown ones re-raised
                failure = _classify(error)
                if failure is None:
                    raise
            if not failure.transient or attempt + 1 == self._retry.max_attempts:
                raise failure.error(method)
            self._back_off(method, failure, attempt, calls=1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_batched(self, calls: Sequence[_Call]) -> dict[str, Any]:
        """Outcome per call key: the decoded response, or the _Failure that ended its attempts."""
        outcomes: dict[str, Any] = {}
        pending = list(calls)
        for attempt in range(self._retry.max_attempts):
            retry: list[_Call] = []
            for answered in self._send_batches(list(_chunks(pending, self._batch_size))):
                for call, outcome in answered.items():
                    outcomes[call.key] = outcome
                    if isinstance(outcome, _Failure) and outcome.transient:
                        retry.append(call)
            if not retry or attempt + 1 == self._retry.max_attempts:
                break
            worst = next(outcomes[call.key] for call in retry)
            self._back_off(retry[0].method, worst, attempt, calls=len(retry))
            pending = retry
        return outcomes

    def _send_batches(self, chunks: list[Sequence[_Call]]) -> list[dict[_Call, Any]]:
        """Send batches, up to `concurrency` at a time: round trips, not CPU, bound a 10,000-user run."""
        if self._concurrency == 1 or len(chunks) == 1:
            return [self._send_batch(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="calendar-batch") as pool:
            return list(pool.map(self._send_batch, chunks))

    def _send_batch(self, chunk: Sequence[_Call]) -> dict[_Call, Any]:
        self._limiter.acquire(len(chunk))
        self.stats.record([call.method for call in chunk])
        if len(chunk) == 1:
            # A lone call needs no multipart envelope; Google counts it the same.
            call = chunk[0]
            try:
                return {call: call.build().execute(http=self._authorized_http(call.email), num_retries=0)}
            except Exception as error:  # classified just below
                return {call: self._failure_or_raise(error)}
        results: dict[_Call, Any] = {}
        by_key = {call.key: call for call in chunk}

        def collect(request_id: str, response: Any, exception: Exception | None) -> None:
            call = by_key[request_id]
            results[call] = response if exception is None else self._failure_or_raise(exception)

        batch = BatchHttpRequest(callback=collect, batch_uri=self._batch_uri)
        try:
            for call in chunk:
                request = call.build()
                # The part carries its own user's token; the envelope is sent with the first user's.
                request.http = self._authorized_http(call.email, fresh=True)
                batch.add(request, request_id=call.key)
            batch.execute(http=self._authorized_http(chunk[0].email))
        except Exception as error:  # a failed envelope fails every part alike
            failure = self._failure_or_raise(error)
            return {call: results.get(call, failure) for call in chunk}
        return results

    def _failure_or_raise(self, error: Exception) -> _Failure:
        failure = _classify(error)
        if failure is None:
            raise error
        return failure

    def _back_off(self, method: str, failure: _Failure, attempt: int, *, calls: int) -> None:
        delay = self._retry.delay(attempt, self._rng)
        self.stats.record_retries(calls)
        log(
            _logger,
            logging.WARNING,
            "calendar call will be retried",
            method=method,
            status=failure.status,
            reason=failure.reason,
            attempt=attempt + 1,
            calls=calls,
            delay_seconds=round(delay, 3),
        )
        self._sleep(delay)

    def _authorized_http(self, email: str, *, fresh: bool = False) -> google_auth_httplib2.AuthorizedHttp:
        credentials = self._credentials_of(email)
        http = getattr(self._thread_http, "http", None)
        if http is None:
            http = self._thread_http.http = httplib2.Http(timeout=self._timeout)
        if fresh and not credentials.valid:
            # Batch parts are signed with the token as it is; the client refreshes only the envelope's.
            credentials.refresh(google_auth_httplib2.Request(http))  # type: ignore[no-untyped-call]
        return google_auth_httplib2.AuthorizedHttp(credentials, http=http)

    def _credentials_of(self, email: str) -> google.auth.credentials.Credentials:
        with self._lock:
            credentials = self._credentials.get(email)
            if credentials is not None:
                self._credentials.move_to_end(email)
                return credentials
        credentials = self._credentials_for(email)
        with self._lock:
            self._credentials[email] = credentials
            while len(self._credentials) > self._credentials_cache_size:
                self._credentials.popitem(last=False)
        return credentials


# ---- helpers ---------------------------------------------------------------------------------------


def _channel(answer: Mapping[str, Any]) -> Channel:
    expiration = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
    return Channel(channel_id=answer["id"], resource_id=answer["resourceId"], expiration=expiration)


def _batch_uri_for(api_endpoint: str) -> str:
    """The batch endpoint beside an api_endpoint ending in /calendar/v3/.

    service.new_batch_http_request() ignores api_endpoint and always targets www.googleapis.com.
    """
    root = api_endpoint.rstrip("/")
    suffix = "/calendar/v3"
    if not root.endswith(suffix):
        raise ValueError(f"calendar api_endpoint must end with /calendar/v3/: {api_endpoint!r}")
    return f"{root[: -len(suffix)]}/batch/calendar/v3"


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _classify(error: Exception) -> _Failure | None:
    """A _Failure for errors the adapter understands; None for programming errors (re-raised)."""
    if isinstance(error, HttpError):
        details = error.error_details if isinstance(error.error_details, list) else []
        reasons = [detail.get("reason") for detail in details if isinstance(detail, dict) and detail.get("reason")]
        return _Failure(error.status_code, str(reasons[0]) if reasons else "unknown", error.reason or "")
    if isinstance(error, google.auth.exceptions.RefreshError):
        # Delegation refused (unknown user, scopes not granted): not going to heal by retrying now.
        return _Failure(401, "authError", str(error))
    if isinstance(error, google.auth.exceptions.TransportError | httplib2.HttpLib2Error | socket.timeout | OSError):
        return _Failure(None, "transportError", str(error))
    return None


def _event_time(moment: datetime, time_zone: str | None) -> dict[str, str]:
    if time_zone is None:
        return {"dateTime": to_rfc3339(moment)}
    local = moment.astimezone(ZoneInfo(time_zone))
    return {"dateTime": local.isoformat(), "timeZone": time_zone}


def _busy_result(entry: Mapping[str, Any] | None) -> BusyResult:
    if entry is None:
        return BusyResult(error="missing")
    errors = entry.get("errors") or []
    if errors:
        return BusyResult(error=str(errors[0].get("reason", "unknown")))
    busy = tuple(
        Interval(parse_rfc3339(block["start"]), parse_rfc3339(block["end"])) for block in entry.get("busy", [])
    )
    return BusyResult(busy=busy)


def _to_event(resource: Mapping[str, Any]) -> CalendarEvent:
    start, end = resource.get("start") or {}, resource.get("end") or {}
    all_day = "date" in start
    attendees = resource.get("attendees") or []
    return CalendarEvent(
        event_id=resource["id"],
        status=resource.get("status", "confirmed"),
        start=None if all_day or "dateTime" not in start else parse_rfc3339(start["dateTime"]),
        end=None if all_day or "dateTime" not in end else parse_rfc3339(end["dateTime"]),
        all_day=all_day,
        etag=resource.get("etag"),
        updated=parse_rfc3339(resource["updated"]) if resource.get("updated") else None,
        private_properties=dict((resource.get("extendedProperties") or {}).get("private") or {}),
        transparent=resource.get("transparency") == "transparent",
        declined_by_owner=any(a.get("self") and a.get("responseStatus") == "declined" for a in attendees),
        summary=resource.get("summary", ""),
    )
