"""CalendarPort on Google Calendar v3, through google-api-python-client and domain-wide delegation.

Shape of the traffic:
- Requests are built from the discovery document bundled with the client (no network at start).
- Calls that concern many users go out as HTTP batches (`batching.py`, `transport.py`), each part carrying
  its own user's Authorization header; free/busy asks for up to 50 calendars per call, and those calls are
  batched too, so 2,500 users cost one round trip.
- Every call passes a client-side limiter holding the project quota (`rate_limit.py`), and transient
  failures (429, 403 rate/quota reasons, 5xx, transport errors) are retried with exponential backoff and
  full jitter (`http_retry.py`); inside a batch only the failed parts are sent again.
- A user whose delegated credentials are refused fails alone (a per-user CalendarAccessRefused, or a
  BusyResult error), and free/busy for a group is asked as a member whose credentials work; a deployment
  fault that would refuse everybody (e.g. IAM signBlob denied) raises CalendarDeploymentError once.

Batch size: Google takes up to 1,000 calls per batch request
(https://developers.google.com/workspace/calendar/api/guides/batch). 50 was chosen by measurement
(`python -m infra.bench batch_size`, figures in docs/performance.md): beyond 50 a run is bound by the
quota, not by round trips, while a failed envelope would fail, and a retry resend, more parts at once.

Quota (https://developers.google.com/workspace/calendar/api/guides/quota, which applies to projects
created on or after 1 May 2026): 10,000 requests per minute per project and 600 per minute per user per
project, both sliding windows, and a daily billing threshold of 1,000,000 requests per project. The
limiter holds the per-project minute. The per-user minute is left to the server (answered 403
userRateLimitExceeded, retried): a run makes a handful of calls per user, and one moving window per user
would cost the limiter 10,000 windows to sweep. The daily threshold is a billing line, not a rate; an
instance cannot count a project's day, and a 10,000-user run costs ~10,300 calls.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httplib2
from googleapiclient.discovery import build
from googleapiclient.http import HttpRequest

from maintenance_windows.adapters.batching import Call, Failure, chunks
from maintenance_windows.adapters.calendar_credentials import CredentialsFactory, credentials_factory
from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.google_calendar import bodies, resources
from maintenance_windows.adapters.google_calendar.failures import to_port_error
from maintenance_windows.adapters.google_calendar.transport import (
    GOOGLE_API_ENDPOINT,
    CalendarTransport,
    batch_uri_for,
)
from maintenance_windows.adapters.google_calendar.user_credentials import UserCredentials
from maintenance_windows.adapters.google_out_of_office import collect as collect_out_of_office
from maintenance_windows.adapters.google_out_of_office import out_of_office_query
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.rate_limit import QuotaLimiter
from maintenance_windows.config.settings import Settings
from maintenance_windows.domain.ids import user_key
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import (
    AwayResult,
    BusyResult,
    CalendarError,
    CalendarEvent,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    WatchRequest,
)

GOOGLE_MAX_BATCH_CALLS = 1000
DEFAULT_BATCH_SIZE = 50  # chosen by measurement: see the module docstring
GOOGLE_QUOTA_PER_MINUTE = 10_000
MAX_FREEBUSY_CALENDARS = 50
_GONE = frozenset({404, 410})

_logger = get_logger(__name__)


class GoogleCalendarAdapter:
    def __init__(
        self,
        *,
        credentials_for: CredentialsFactory,
        api_endpoint: str | None = None,
        batch_uri: str | None = None,
        quota_per_minute: int = GOOGLE_QUOTA_PER_MINUTE,
        retry: RetryPolicy | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = 4,
        page_size: int = 250,
        time_zone_ttl: timedelta = timedelta(hours=1),  # shorter than booking.TIME_ZONE_MAX_AGE: travellers
        credentials_cache_size: int = 4096,
        http_timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= batch_size <= GOOGLE_MAX_BATCH_CALLS:
            raise ValueError(f"batch_size must be within 1..{GOOGLE_MAX_BATCH_CALLS}")
        endpoint = api_endpoint or GOOGLE_API_ENDPOINT
        self._batch_uri = batch_uri or batch_uri_for(endpoint)
        self._page_size = page_size
        self._time_zone_ttl = time_zone_ttl
        self.stats = CallStats()
        self._time_zones: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.credentials = UserCredentials(
            credentials_for,
            cache_size=credentials_cache_size,
            http_timeout_seconds=http_timeout_seconds,
            on_refusal=self._forget_time_zone,
        )
        self._transport = CalendarTransport(
            credentials=self.credentials,
            limiter=QuotaLimiter(quota_per_minute, sleep=sleep, on_wait=self.stats.record_wait),
            stats=self.stats,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            batch_uri=self._batch_uri,
            batch_size=batch_size,
            concurrency=concurrency,
        )
        service = build(
            "calendar",
            "v3",
            http=httplib2.Http(timeout=http_timeout_seconds),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint},
        )
        # Each service.events() call rebuilds every method and its docstring (~4 ms): build them once.
        self._events = service.events()
        self._settings = service.settings()
        self._freebusy = service.freebusy()
        self._channels = service.channels()

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleCalendarAdapter:
        return cls(
            # In local mode the endpoint is the stand-in's: tokens then come from its token endpoint, so a
            # refused user fails at the token request as on Google.
            credentials_for=credentials_factory(
                settings.calendar_credentials,
                settings.calendar_service_account,
                api_endpoint=settings.calendar_api_endpoint,
            ),
            api_endpoint=settings.calendar_api_endpoint,
            quota_per_minute=settings.calendar_quota_per_minute,
        )

    # ---- CalendarPort: many users at once ----------------------------------------------------------------

    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        now = time.monotonic()
        zones: dict[str, str | CalendarError] = {}
        missing: list[str] = []
        with self._lock:
            for email in dict.fromkeys(emails):
                cached = self._time_zones.get(email)
                if cached is not None and cached[1] > now:
                    zones[email] = cached[0]
                else:
                    missing.append(email)
        settings = self._settings
        # Call keys become batch Content-IDs: short indexes, never addresses (a long header gets folded).
        calls = [
            Call(str(index), email, "calendar.settings.get", lambda: settings.get(setting="timezone"))
            for index, email in enumerate(missing)
        ]
        outcomes = self._transport.run(calls)
        for index, email in enumerate(missing):
            outcome = outcomes[str(index)]
            if isinstance(outcome, Failure):
                self._log_failure("time zone lookup failed", email, outcome)
                zones[email] = to_port_error(outcome, "settings.get")  # never guessed: the caller decides
                continue
            zones[email] = outcome["value"]
        with self._lock:
            expiry = now + self._time_zone_ttl.total_seconds()
            for email in missing:
                zone = zones[email]
                if isinstance(zone, str):
                    self._time_zones[email] = (zone, expiry)
        return zones

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        unique = list(dict.fromkeys(emails))
        groups = list(chunks(unique, MAX_FREEBUSY_CALENDARS))
        calls = [
            # Anyone in the Workspace domain may read colleagues' free/busy: ask as the group's first user,
            # or as the next one whose credentials work, so one refused member does not blind the group.
            Call(
                str(index),
                group[0],
                "calendar.freebusy.query",
                self._free_busy_builder(group, time_min, time_max),
                alternates=tuple(group[1:]),
            )
            for index, group in enumerate(groups)
        ]
        outcomes = self._transport.run(calls)
        results: dict[str, BusyResult] = {}
        for index, group in enumerate(groups):
            outcome = outcomes[str(index)]
            if isinstance(outcome, Failure):
                if outcome.transient or outcome.status == 400:
                    raise to_port_error(outcome, "freebusy.query")
                results.update({email: BusyResult(error=outcome.reason) for email in group})
                continue
            calendars = outcome.get("calendars", {})
            results.update({email: resources.busy_result(calendars.get(email)) for email in group})
        return results

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        unique = list(dict.fromkeys(emails))
        query = out_of_office_query(time_min, time_max, self._page_size)
        calls = [
            Call(str(index), email, "calendar.events.list", functools.partial(self._events.list, **query))
            for index, email in enumerate(unique)
        ]
        outcomes = self._transport.run(calls)
        first_pages: dict[str, Any] = {}
        for index, email in enumerate(unique):
            outcome = outcomes[str(index)]
            if isinstance(outcome, Failure) and outcome.transient:
                raise to_port_error(outcome, "events.list")
            first_pages[email] = to_port_error(outcome, "events.list") if isinstance(outcome, Failure) else outcome
        return collect_out_of_office(
            unique, first_pages, lambda email, token: self._pages(email, {**query, "pageToken": token})
        )

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        calls = [
            Call(str(index), spec.user_email, "calendar.events.insert", self._insert_builder(spec))
            for index, spec in enumerate(specs)
        ]
        outcomes = self._transport.run(calls)
        results: list[InsertResult] = []
        for index, spec in enumerate(specs):
            outcome = outcomes[str(index)]
            if not isinstance(outcome, Failure):
                results.append(InsertResult(spec.event_id, created=True, etag=outcome.get("etag")))
            elif outcome.status == 409:
                results.append(InsertResult(spec.event_id, created=False))
            else:
                self._log_failure("event insert failed", spec.user_email, outcome)
                results.append(
                    InsertResult(
                        spec.event_id, created=False, error=outcome.reason, access_refused=outcome.credentials_refused
                    )
                )
        return results

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        calls = [
            Call(str(index), request.user_email, "calendar.events.watch", self._watch_builder(request))
            for index, request in enumerate(requests)
        ]
        outcomes = self._transport.run(calls)
        results: list[Channel | CalendarError] = []
        for index in range(len(requests)):
            outcome = outcomes[str(index)]
            if isinstance(outcome, Failure):
                if outcome.transient:
                    raise to_port_error(outcome, "events.watch")
                results.append(to_port_error(outcome, "events.watch"))
            else:
                results.append(resources.channel(outcome))
        return results

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        """First pages in batches; the rare user whose upcoming events span pages is finished one by one."""
        unique = list(dict.fromkeys(emails))
        query = {**bodies.full_sync_query(), "maxResults": self._page_size}
        events = self._events
        calls = [
            Call(str(index), email, "calendar.events.list", functools.partial(events.list, **query))
            for index, email in enumerate(unique)
        ]
        outcomes = self._transport.run(calls)
        tokens: dict[str, str | CalendarError] = {}
        for index, email in enumerate(unique):
            outcome = outcomes[str(index)]
            if isinstance(outcome, Failure):
                tokens[email] = to_port_error(outcome, "events.list")
            elif outcome.get("nextSyncToken"):
                tokens[email] = outcome["nextSyncToken"]
            else:
                try:
                    tokens[email] = self.list_changes(email, None).next_sync_token
                except CalendarError as problem:
                    tokens[email] = problem
        return tokens

    # ---- CalendarPort: one user ------------------------------------------------------------------------

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
        body = bodies.patch_body(
            start=start,
            end=end,
            time_zone=time_zone,
            summary=summary,
            description_html=description_html,
            private_properties=private_properties,
        )
        request = functools.partial(
            self._events.patch, calendarId=bodies.PRIMARY, eventId=event_id, body=body, sendUpdates="none"
        )
        return resources.to_event(self._transport.execute(user_email, "calendar.events.patch", request))

    def delete_event(self, user_email: str, event_id: str) -> bool:
        request = functools.partial(
            self._events.delete, calendarId=bodies.PRIMARY, eventId=event_id, sendUpdates="none"
        )
        try:
            self._transport.execute(user_email, "calendar.events.delete", request)
        except CalendarError as error:
            if error.status in _GONE:
                return False
            raise
        return True

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        request = functools.partial(self._events.get, calendarId=bodies.PRIMARY, eventId=event_id)
        try:
            resource = self._transport.execute(user_email, "calendar.events.get", request)
        except CalendarError as error:
            if error.status in _GONE:
                return None
            raise
        return resources.to_event(resource)

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        query = bodies.full_sync_query() if sync_token is None else bodies.incremental_sync_query(sync_token)
        events: list[CalendarEvent] = []
        next_sync_token: str | None = None
        for page in self._pages(user_email, query):
            events.extend(resources.to_event(item) for item in page.get("items", []))
            next_sync_token = page.get("nextSyncToken", next_sync_token)
        if next_sync_token is None:
            raise CalendarError("events.list ended without a nextSyncToken", reason="noSyncToken")
        return ChangeSet(tuple(events), next_sync_token)

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        found: list[CalendarEvent] = []
        for page in self._pages(user_email, bodies.recent_events_query(time_min, time_max)):
            found.extend(resources.to_event(item) for item in page.get("items", []))
        return [event for event in found if not event.all_day and event.status != "cancelled"]

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        request = WatchRequest(user_email, channel_id, token, address, ttl_seconds)
        answer = self._transport.execute(user_email, "calendar.events.watch", self._watch_builder(request))
        return resources.channel(answer)

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        request = functools.partial(self._channels.stop, body={"id": channel_id, "resourceId": resource_id})
        try:
            self._transport.execute(user_email, "calendar.channels.stop", request)
        except CalendarError as error:
            if error.status != 404:
                raise
            # Already stopped or expired: the goal is reached.
            _logger.info("channel already gone", user_key=user_key(user_email))

    # ---- helpers -----------------------------------------------------------------------------------------

    def _insert_builder(self, spec: EventSpec) -> Callable[[], HttpRequest]:
        body = bodies.event_body(spec)
        return functools.partial(self._events.insert, calendarId=bodies.PRIMARY, body=body, sendUpdates="none")

    def _watch_builder(self, request: WatchRequest) -> Callable[[], HttpRequest]:
        return functools.partial(self._events.watch, calendarId=bodies.PRIMARY, body=bodies.watch_body(request))

    def _free_busy_builder(
        self, group: Sequence[str], time_min: datetime, time_max: datetime
    ) -> Callable[[], HttpRequest]:
        return functools.partial(self._freebusy.query, body=bodies.free_busy_body(group, time_min, time_max))

    def _pages(self, user_email: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        events = self._events
        page_token: str | None = None
        while True:
            params = {**query, "maxResults": self._page_size}
            if page_token is not None:
                params["pageToken"] = page_token
            page = self._transport.execute(user_email, "calendar.events.list", functools.partial(events.list, **params))
            yield page
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    def _forget_time_zone(self, email: str) -> None:
        """A refused user's cached zone goes: answering it would hide the refusal from the caller, whose
        next time zone lookup is how it learns whether access came back."""
        with self._lock:
            self._time_zones.pop(email, None)

    @staticmethod
    def _log_failure(message: str, email: str, failure: Failure) -> None:
        _logger.warning(message, user_key=user_key(email), status=failure.status, reason=failure.reason)
