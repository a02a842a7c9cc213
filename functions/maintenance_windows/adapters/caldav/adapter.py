"""CalendarPort on CalDAV servers (RFC 4791), e.g. Nextcloud, Fastmail, iCloud, SOGo, Radicale.

Shape of the traffic (docs/caldav.md gives the RFC section for each):
- Each person's calendar is a collection: `caldav.calendar_path` under the server URL, or found by
  discovery (current-user-principal → calendar-home-set → the first VEVENT calendar), once per process.
- Time zones: PROPFIND calendar-timezone; none set answers "UTC", which the team's fallback_time_zone
  replaces (SlotRules.zone_of).
- Busy time and out of office: one calendar-query REPORT per person, VEVENTs in the range with their
  recurrences expanded by the server; what is transparent, cancelled or declined is free. With
  `busy_from: free-busy`, busy time is the server's free-busy-query REPORT instead.
- Writes: PUT `<calendar>/<event id>.ics` with `If-None-Match: *` (a retry finds 412: already booked, never
  a second event); updates and deletes with `If-Match: <etag>`, so a person's edit in between is never
  overwritten blind (412: read again, lay our change over theirs).
- Following: no push in CalDAV. `watch` opens a polled channel (no request) and the scheduler syncs each
  followed calendar on its cadence (service/polling.py) with sync-collection (RFC 6578) from the stored
  token; a token the server no longer knows is SyncTokenExpired, then a bounded full read.
Why not the `caldav` library as the client: it costs ~1 s to import (lxml, vobject, recurring-ical-events;
measured with `python -X importtime`), its no_overwrite save checks then writes (a race, no If-None-Match),
updates carry no If-Match, and its own session bypasses the shared retry and quota. The tests use it as the
person's client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urljoin

from maintenance_windows.adapters.batching import Call, Failure
from maintenance_windows.adapters.caldav import ical, webdav
from maintenance_windows.adapters.caldav.credentials import CalDavCredentials, Login
from maintenance_windows.adapters.caldav.transport import ICS, XML, DavAnswer, DavRequest, DavTransport
from maintenance_windows.adapters.call_stats import CallStats
from maintenance_windows.adapters.http_retry import RetryPolicy
from maintenance_windows.adapters.rate_limit import QuotaLimiter
from maintenance_windows.domain.caldav_server import CalDavServer
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import (
    AwayResult,
    BusyResult,
    CalendarAccessRefused,
    CalendarDeploymentError,
    CalendarError,
    CalendarEvent,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    SyncTokenExpired,
    WatchRequest,
)

#: The resource id of a polled channel: nothing to stop at the server, nothing pushes to us.
POLLED = "caldav-sync"
#: A full read covers this much ahead (windows are booked within weeks), from a day back.
FULL_READ_AHEAD = timedelta(days=120)
#: Attempts at a conditional write whose precondition failed because the person edited meanwhile.
WRITE_ATTEMPTS = 3
#: sync-collection rounds in one list_changes (a server may answer in parts, RFC 6578 3.6).
SYNC_ROUNDS = 20
QUOTA_PER_MINUTE = 6_000
#: How long one read of a person's events answers both busy() and out_of_office() for the same range.
EVENTS_REUSE_SECONDS = 60.0
_logger = get_logger(__name__)


@dataclass(frozen=True)
class _Where:
    calendar: str  # the collection URL, ending with "/"
    login: Login


class CalDavCalendarAdapter:
    def __init__(
        self,
        *,
        servers: Callable[[str], CalDavServer | None],
        credentials: CalDavCredentials,
        retry: RetryPolicy | None = None,
        quota_per_minute: int = QUOTA_PER_MINUTE,
        concurrency: int = 4,
        time_zone_ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stats = CallStats()
        self._servers = servers
        self.credentials = credentials
        self._clock = clock
        self._transport = DavTransport(
            limiter=QuotaLimiter(quota_per_minute, sleep=sleep, on_wait=self.stats.record_wait),
            retry=retry or RetryPolicy(),
            stats=self.stats,
            concurrency=concurrency,
            sleep=sleep,
        )
        self._time_zone_ttl = time_zone_ttl
        self._lock = threading.Lock()
        self._zones: dict[str, tuple[str, float]] = {}
        self._found: dict[str, str] = {}  # person → discovered calendar URL
        self._events: dict[str, tuple[datetime, datetime, list[ical.Occurrence], float]] = {}

    @property
    def session(self) -> object:
        """The pooled HTTP session (a test mounts a fault-injecting adapter on it)."""
        return self._transport.session

    @classmethod
    def from_settings(cls, settings: object, servers: Callable[[str], CalDavServer | None]) -> CalDavCalendarAdapter:
        secret = getattr(settings, "caldav_credentials", None)
        return cls(
            servers=servers,
            credentials=CalDavCredentials.from_json(secret.get_secret_value() if secret is not None else None),
            quota_per_minute=int(getattr(settings, "caldav_quota_per_minute", QUOTA_PER_MINUTE)),
        )

    # ---- reading ----------------------------------------------------------------------------------------

    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        people = list(dict.fromkeys(emails))
        now = time.monotonic()
        zones: dict[str, str | CalendarError] = {}
        with self._lock:
            for email in people:
                cached = self._zones.get(email)
                if cached and cached[1] > now:
                    zones[email] = cached[0]
        body = webdav.propfind((webdav.CALDAV, "calendar-timezone"))
        asked = [email for email in people if email not in zones]
        for email, outcome in self._each(asked, "calendar.timezone", "PROPFIND", body, depth="0").items():
            if isinstance(outcome, CalendarError):
                zones[email] = outcome
                continue
            member = _first(outcome)
            text = webdav.prop_text(member, webdav.CALDAV, "calendar-timezone") if member else None
            zone = (ical.zone_name(text) if text else None) or "UTC"
            zones[email] = zone
            with self._lock:
                self._zones[email] = (zone, now + self._time_zone_ttl.total_seconds())
        return {email: zones[email] for email in people}

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        if time_max <= time_min:
            raise CalendarError("busy: the time range is empty", status=400, reason="timeRangeEmpty")
        people = list(dict.fromkeys(emails))
        by_server = [e for e in people if (s := self._servers(e)) is not None and s.busy_from == "free-busy"]
        results = self._free_busy(by_server, time_min, time_max)
        from_events = [email for email in people if email not in results]
        for email, found in self._occurrences(from_events, time_min, time_max).items():
            if isinstance(found, CalendarError):
                results[email] = BusyResult(error=found.reason or "error")
                continue
            spans = [(o.start, o.end) for o in found if o.busy and o.start and o.end]
            spans += [_day_span(o, self._zone(email)) for o in found if o.busy and o.all_day_start]
            results[email] = BusyResult(_merged(spans, time_min, time_max))
        return {email: results[email] for email in emails}

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        """Events marked out of office (X-MICROSOFT-CDO-BUSYSTATUS:OOF), whole, as the port asks."""
        people = list(dict.fromkeys(emails))
        answers: dict[str, AwayResult] = {}
        for email, found in self._occurrences(people, time_min, time_max).items():
            if isinstance(found, CalendarError):
                answers[email] = AwayResult(error=found.reason or "error")
                continue
            spans = [(o.start, o.end) for o in found if o.away and o.start and o.end and o.end > o.start]
            spans += [_day_span(o, self._zone(email)) for o in found if o.away and o.all_day_start]
            answers[email] = AwayResult(tuple(sorted({Interval(start, end) for start, end in spans})))
        return answers

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        where = self._where(user_email)
        answer = self._single(
            user_email,
            where,
            "calendar.query",
            "REPORT",
            where.calendar,
            webdav.calendar_query(time_min, time_max),
            depth="1",
        )
        events: list[CalendarEvent] = []
        for member in _members(answer):
            if member.status == 200 and member.calendar_data:
                events += ical.events_of(member.calendar_data, member.name, member.etag, user_email)
        return [e for e in events if e.start and e.end and not e.all_day and e.status != "cancelled"]

    def _occurrences(
        self, emails: Sequence[str], low: datetime, high: datetime
    ) -> dict[str, list[ical.Occurrence] | CalendarError]:
        """Each person's event instances overlapping [low, high), from a recent read when one covers it."""
        found: dict[str, list[ical.Occurrence] | CalendarError] = {}
        now = time.monotonic()
        with self._lock:
            for email in emails:
                cached = self._events.get(email)
                if cached and cached[0] <= low and high <= cached[1] and cached[3] > now:
                    found[email] = [o for o in cached[2] if _overlaps(o, low, high)]
        asked = [email for email in emails if email not in found]
        body = webdav.calendar_query(low, high)
        for email, outcome in self._each(asked, "calendar.query", "REPORT", body, depth="1").items():
            if isinstance(outcome, CalendarError):
                found[email] = outcome
                continue
            try:
                items = [
                    o for m in _members(outcome) if m.calendar_data for o in ical.occurrences(m.calendar_data, email)
                ]
            except (ical.NotICalendar, webdav.NotMultistatus) as unreadable:
                found[email] = CalendarError(str(unreadable), reason="unreadable")
                continue
            items = [o for o in items if _overlaps(o, low, high)]
            found[email] = items
            with self._lock:
                self._events[email] = (low, high, items, now + EVENTS_REUSE_SECONDS)
        return found

    def _free_busy(self, emails: Sequence[str], low: datetime, high: datetime) -> dict[str, BusyResult]:
        """free-busy-query per person; a person whose server refuses the report is left to the events read."""
        results: dict[str, BusyResult] = {}
        body = webdav.free_busy_query(low, high)
        for email, outcome in self._each(emails, "calendar.freebusy", "REPORT", body, depth="1", raw=True).items():
            if isinstance(outcome, CalendarError):
                if outcome.status not in (403, 405, 415, 501):
                    results[email] = BusyResult(error=outcome.reason or "error")
                continue
            if not isinstance(outcome, DavAnswer):
                continue
            try:
                periods = [(s, e) for s, e, kind in ical.free_busy_periods(outcome.body.decode()) if kind != "FREE"]
            except (ical.NotICalendar, UnicodeDecodeError):
                continue
            results[email] = BusyResult(_merged(periods, low, high))
        return results

    # ---- writing ----------------------------------------------------------------------------------------

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        calls: list[Call[DavRequest]] = []
        refused: dict[int, CalendarError] = {}
        for index, spec in enumerate(specs):
            try:
                where = self._where(spec.user_email)
            except CalendarAccessRefused as withheld:
                refused[index] = withheld
                continue
            request = DavRequest(
                "PUT",
                _resource(where.calendar, spec.event_id),
                where.login,
                ical.event_text(spec),
                {"Content-Type": ICS, "If-None-Match": "*"},
            )
            calls.append(Call(str(index), spec.user_email, "event.create", _built(request)))
        outcomes = self._transport.run(calls)
        results: list[InsertResult] = []
        for index, spec in enumerate(specs):
            outcome = outcomes.get(str(index)) if index not in refused else None
            problem = refused.get(index) or self._problem(outcome, spec.user_email)
            if problem is not None:
                _logger.warning("event insert failed", status=problem.status, reason=problem.reason)
                results.append(
                    InsertResult(
                        spec.event_id,
                        created=False,
                        error=problem.reason or "error",
                        access_refused=isinstance(problem, CalendarAccessRefused),
                    )
                )
                continue
            assert isinstance(outcome, DavAnswer)
            if outcome.status == 412:  # If-None-Match: * failed: the resource exists, booked by an earlier try
                results.append(InsertResult(spec.event_id, created=False))
                continue
            etag = outcome.etag or self._etag_of(spec.user_email, spec.event_id)
            results.append(InsertResult(spec.event_id, created=True, etag=etag))
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
        where = self._where(user_email)
        url = _resource(where.calendar, event_id)
        for _ in range(WRITE_ATTEMPTS):
            current = self._get(user_email, where, url)
            if current is None:
                raise CalendarError(f"event {event_id} not found", status=404, reason="notFound")
            text, etag = current
            tags = {**ical.tags_of(text), **private_properties} if private_properties else None
            body = ical.patched_text(
                text,
                start=start,
                end=end,
                time_zone=time_zone,
                summary=summary,
                description_html=description_html,
                tags=tags,
            )
            answer = self._transport.call(
                "event.update", DavRequest("PUT", url, where.login, body, {"Content-Type": ICS, "If-Match": etag})
            )
            if answer.status == 412:  # the person changed it since our read: lay our change over theirs
                continue
            if answer.status == 404:
                raise CalendarError(f"event {event_id} not found", status=404, reason="notFound")
            self._raise_for(answer, user_email, where.login)
            again = self._get(user_email, where, url) if not answer.etag else (body.decode(), answer.etag)
            if again is None:
                raise CalendarError(f"event {event_id} vanished after the update", status=404, reason="notFound")
            return ical.to_event(again[0], event_id, again[1], user_email)
        raise CalendarError(f"event {event_id} kept changing under our update", status=412, reason="conflict")

    def delete_event(self, user_email: str, event_id: str) -> bool:
        where = self._where(user_email)
        url = _resource(where.calendar, event_id)
        for _ in range(WRITE_ATTEMPTS):
            current = self._get(user_email, where, url)
            if current is None:
                return False
            answer = self._transport.call(
                "event.delete", DavRequest("DELETE", url, where.login, headers={"If-Match": current[1]})
            )
            if answer.status == 412:
                continue
            if answer.status in (404, 410):
                return False
            self._raise_for(answer, user_email, where.login)
            return True
        raise CalendarError(f"event {event_id} kept changing under our delete", status=412, reason="conflict")

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        where = self._where(user_email)
        current = self._get(user_email, where, _resource(where.calendar, event_id))
        return None if current is None else ical.to_event(current[0], event_id, current[1], user_email)

    def _get(self, user_email: str, where: _Where, url: str) -> tuple[str, str] | None:
        answer = self._transport.call("event.get", DavRequest("GET", url, where.login, headers={"Accept": ICS}))
        if answer.status in (404, 410):
            return None
        self._raise_for(answer, user_email, where.login)
        if not answer.etag:
            # RFC 4791 5.3.4 lets a server omit the ETag; without it no conditional write is possible.
            raise CalendarError("the CalDAV server sent no ETag for an event", reason="no_etag")
        return answer.body.decode("utf-8", errors="replace"), answer.etag

    def _etag_of(self, user_email: str, event_id: str) -> str | None:
        where = self._where(user_email)
        current = self._get(user_email, where, _resource(where.calendar, event_id))
        return current[1] if current else None

    # ---- following ----------------------------------------------------------------------------------------

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        where = self._where(user_email)
        if sync_token is None:
            return self._full_read(user_email, where)
        events: list[CalendarEvent] = []
        token = sync_token
        for _ in range(SYNC_ROUNDS):
            page = self._sync(user_email, where, token, with_data=True)
            for member in page.members:
                if member.status in (404, 410):
                    events.append(_gone(member.name))
                elif member.status == 200 and member.calendar_data:
                    events.append(ical.to_event(member.calendar_data, member.name, member.etag, user_email))
                elif member.status == 200 and member.href.endswith(".ics"):
                    # RFC 6578 lets a server leave calendar-data out of a sync answer: read the event itself.
                    current = self._get(user_email, where, urljoin(where.calendar, member.href))
                    events.append(
                        _gone(member.name)
                        if current is None
                        else ical.to_event(current[0], member.name, current[1], user_email)
                    )
            token = page.sync_token or token
            if not page.truncated:
                return ChangeSet(tuple(events), token)
        raise CalendarError("sync-collection never finished", reason="sync_unbounded")

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        body = webdav.sync_collection("", with_data=False)
        tokens: dict[str, str | CalendarError] = {}
        for email, outcome in self._each(list(dict.fromkeys(emails)), "calendar.sync", "REPORT", body).items():
            if isinstance(outcome, CalendarError):
                tokens[email] = outcome
            elif isinstance(outcome, webdav.Multistatus) and outcome.sync_token:
                tokens[email] = outcome.sync_token
            else:
                tokens[email] = CalendarError("the server answered no sync-token", reason="no_sync_token")
        return tokens

    def _full_read(self, user_email: str, where: _Where) -> ChangeSet:
        """A position first, then the upcoming events (bounded): what changes in between comes again."""
        token = self._sync(user_email, where, "", with_data=False).sync_token
        if not token:
            raise CalendarError("the server answered no sync-token", reason="no_sync_token")
        low = self._clock() - timedelta(days=1)
        answer = self._single(
            user_email,
            where,
            "calendar.query",
            "REPORT",
            where.calendar,
            webdav.calendar_query(low, low + FULL_READ_AHEAD, expand=False),
            depth="1",
        )
        events = [
            ical.to_event(member.calendar_data, member.name, member.etag, user_email)
            for member in _members(answer)
            if member.status == 200 and member.calendar_data
        ]
        return ChangeSet(tuple(events), token)

    def _sync(self, user_email: str, where: _Where, token: str, *, with_data: bool) -> webdav.Multistatus:
        request = DavRequest(
            "REPORT",
            where.calendar,
            where.login,
            webdav.sync_collection(token, with_data=with_data),
            {"Content-Type": XML, "Depth": "0"},
        )
        answer = self._transport.call("calendar.sync", request)
        if (
            answer.status in (403, 409, 410)
            and token
            and ("valid-sync-token" in webdav.error_conditions(answer.body) or answer.status == 410)
        ):
            raise SyncTokenExpired("the server no longer knows the sync token", status=410, reason="fullSyncRequired")
        self._raise_for(answer, user_email, where.login)
        return webdav.parse_multistatus(answer.body)

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        (outcome,) = self.watch_many([WatchRequest(user_email, channel_id, token, address, ttl_seconds)])
        if isinstance(outcome, CalendarError):
            raise outcome
        return outcome

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        """Polled channels: CalDAV has no push, so nothing is asked of the server (service/polling.py)."""
        now = self._clock()
        channels: list[Channel | CalendarError] = []
        for request in requests:
            try:
                self._where(request.user_email)
            except CalendarError as problem:
                channels.append(problem)
                continue
            channels.append(Channel(request.channel_id, POLLED, now + timedelta(seconds=request.ttl_seconds)))
        return channels

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        """Nothing to stop: polling ends when the channel document is retired."""

    # ---- internals --------------------------------------------------------------------------------------

    def _server(self, email: str) -> CalDavServer:
        server = self._servers(email)
        if server is None:
            raise CalendarDeploymentError(
                f"no caldav server in the team rules for {email}", reason="caldav_not_configured"
            )
        return server

    def _where(self, email: str) -> _Where:
        server = self._server(email)
        login = self.credentials.login_for(email, server)
        if not server.discover:
            return _Where(server.calendar_url(email), login)
        with self._lock:
            known = self._found.get(email)
        if known is None:
            known = self._discover(email, server, login)
            with self._lock:
                self._found[email] = known
        return _Where(known, login)

    def _discover(self, email: str, server: CalDavServer, login: Login) -> str:
        """current-user-principal (RFC 5397) → calendar-home-set (RFC 4791 6.2.1) → first VEVENT calendar."""
        principal = self._href(email, login, server.url, (webdav.DAV, "current-user-principal"))
        home = self._href(email, login, principal, (webdav.CALDAV, "calendar-home-set"))
        body = webdav.propfind((webdav.DAV, "resourcetype"), (webdav.CALDAV, "supported-calendar-component-set"))
        answer = self._transport.call(
            "calendar.discover", DavRequest("PROPFIND", home, login, body, {"Content-Type": XML, "Depth": "1"})
        )
        self._raise_for(answer, email, login)
        for member in webdav.parse_multistatus(answer.body).members:
            if webdav.is_event_calendar(member):
                return urljoin(home, member.href).rstrip("/") + "/"
        raise CalendarAccessRefused(f"no event calendar in {email}'s calendar home", reason="unknown")

    def _href(self, email: str, login: Login, url: str, prop: tuple[str, str]) -> str:
        request = DavRequest("PROPFIND", url, login, webdav.propfind(prop), {"Content-Type": XML, "Depth": "0"})
        answer = self._transport.call("calendar.discover", request)
        self._raise_for(answer, email, login)
        member = _first(webdav.parse_multistatus(answer.body))
        found = webdav.href_of((member.props or {}).get(f"{{{prop[0]}}}{prop[1]}") if member else None, url)
        if found is None:
            raise CalendarAccessRefused(f"the server names no {prop[1]} for {email}", reason="unknown")
        return found

    def _each(
        self, emails: Sequence[str], method: str, verb: str, body: bytes, *, depth: str = "0", raw: bool = False
    ) -> dict[str, webdav.Multistatus | DavAnswer | CalendarError]:
        """One request per person on their calendar collection, several in flight; each answer or error."""
        outcomes: dict[str, webdav.Multistatus | DavAnswer | CalendarError] = {}
        calls: list[Call[DavRequest]] = []
        for email in emails:
            try:
                where = self._where(email)
            except CalendarAccessRefused as withheld:
                outcomes[email] = withheld
                continue
            request = DavRequest(verb, where.calendar, where.login, body, {"Content-Type": XML, "Depth": depth})
            calls.append(Call(email, email, method, _built(request)))
        for key, outcome in self._transport.run(calls).items():
            problem = self._problem(outcome, key)
            if problem is not None:
                outcomes[key] = problem
                continue
            assert isinstance(outcome, DavAnswer)
            if raw:
                outcomes[key] = outcome
                continue
            try:
                outcomes[key] = webdav.parse_multistatus(outcome.body)
            except webdav.NotMultistatus as unreadable:
                outcomes[key] = CalendarError(str(unreadable), status=outcome.status, reason="unreadable")
        return outcomes

    def _problem(self, outcome: DavAnswer | Failure | None, email: str) -> CalendarError | None:
        if outcome is None:
            return CalendarError("no answer", reason="unavailable")
        if isinstance(outcome, Failure):
            return CalendarError(
                f"CalDAV: {outcome.status} {outcome.reason}", status=outcome.status, reason="unavailable"
            )
        if outcome.status < 400 or outcome.status == 412:
            return None
        try:
            self._raise_for(outcome, email, self._where(email).login)
        except CalendarDeploymentError:
            raise
        except CalendarError as problem:
            return problem
        return None

    def _raise_for(self, answer: DavAnswer, email: str, login: Login) -> None:
        if answer.status < 400:
            return
        if answer.status == 401:
            if login.shared:
                raise CalendarDeploymentError(
                    f"the CalDAV server refused the service account {login.username!r}",
                    status=401,
                    reason="unauthorized",
                )
            raise CalendarAccessRefused(
                f"the server refused {email}'s app password", status=401, reason="not_delegated"
            )
        if answer.status == 403:
            raise CalendarAccessRefused(f"no rights on {email}'s calendar", status=403, reason="not_delegated")
        if answer.status == 404:
            raise CalendarAccessRefused(f"no calendar for {email} at the configured path", status=404, reason="unknown")
        raise CalendarError(f"CalDAV answered {answer.status}", status=answer.status, reason="error")

    def _single(
        self, email: str, where: _Where, method: str, verb: str, url: str, body: bytes, *, depth: str
    ) -> webdav.Multistatus:
        request = DavRequest(verb, url, where.login, body, {"Content-Type": XML, "Depth": depth})
        answer = self._transport.call(method, request)
        self._raise_for(answer, email, where.login)
        return webdav.parse_multistatus(answer.body)

    def _zone(self, email: str) -> str:
        with self._lock:
            cached = self._zones.get(email)
        return cached[0] if cached else "UTC"


def _built(request: DavRequest) -> Callable[[], DavRequest]:
    return lambda: request


def _resource(calendar: str, event_id: str) -> str:
    return calendar + quote(event_id, safe="") + ".ics"


def _members(found: webdav.Multistatus | DavAnswer | CalendarError) -> tuple[webdav.Member, ...]:
    return found.members if isinstance(found, webdav.Multistatus) else ()


def _first(found: webdav.Multistatus | DavAnswer | CalendarError) -> webdav.Member | None:
    members = [m for m in _members(found) if m.status == 200]
    return members[0] if members else None


def _gone(event_id: str) -> CalendarEvent:
    return CalendarEvent(event_id, "cancelled", None, None, False, None, None)


def _overlaps(occurrence: ical.Occurrence, low: datetime, high: datetime) -> bool:
    if occurrence.start is None or occurrence.end is None:
        return occurrence.all_day_start is not None
    return occurrence.start < high and occurrence.end > low


def _day_span(occurrence: ical.Occurrence, zone: str) -> tuple[datetime, datetime]:
    """An all-day event's day in the person's zone (a DATE has no zone of its own, RFC 5545 3.3.4)."""
    from zoneinfo import ZoneInfo

    assert occurrence.all_day_start is not None
    start = datetime.combine(occurrence.all_day_start, datetime.min.time(), ZoneInfo(zone))
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _merged(spans: Sequence[tuple[datetime, datetime]], low: datetime, high: datetime) -> tuple[Interval, ...]:
    clipped = sorted((max(s, low), min(e, high)) for s, e in spans if s < high and e > low and e > s)
    merged: list[list[datetime]] = []
    for start, end in clipped:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple(Interval(start, end) for start, end in merged)
