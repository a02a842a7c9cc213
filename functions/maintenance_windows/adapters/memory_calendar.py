"""CalendarPort in process memory, for unit tests and benchmarks.

It keeps the port's contract and the Google Calendar v3 rules the product relies on, as the local stand-in
serves them (docs/calendar-server.md gives the sources):

- Event ids are the client's; inserting an id that exists, or existed (Google never reuses a deleted id),
  books nothing and answers created=False (409). Every write gives the event a new etag.
- Deleting marks the event cancelled; deleting it again, or an id never seen, answers False (410/404).
  get_event still returns a cancelled event; patching an id never seen is a 404 CalendarError. A patch
  merges private properties into the stored ones (patch semantics merge nested objects).
- Sync tokens: an incremental sync returns every event changed since the token, deleted ones reduced to
  id and status as Google lists them; a full sync returns the events that end after now, deleted ones too
  (showDeleted, as the adapter asks). A token that was expired, or belongs to another user, is 410.
- Free/busy: opaque, not cancelled, not declined by the owner; blocks merged and clipped to the range. An
  empty range is a 400, a range over 90 days too. Out-of-office and focus-time events are busy like
  meetings; working-location events never are.
- Out of office: `out_of_office` lists the user's confirmed `outOfOffice` events overlapping the range,
  whole (not clipped), as events.list with eventTypes=outOfOffice does.
- Channels: a live channel id cannot be reused (400 channelIdNotUnique); stopping an unknown one is a
  no-op (the adapter treats Google's 404 as done); the resource id is stable per calendar.

Users need no seeding: every address has a calendar, in `default_zone` unless set_time_zone says otherwise.
A user whose calendar refuses us is set with refuse_user (an API error such as 404 notFound) or
refuse_delegation (no token can be minted for the user: suspended, not_delegated or unknown, the Google
adapter's CalendarAccessRefused). Batch calls report the error for that user alone (time_zones and
sync_tokens as the user's entry, busy and insert_events as its error reason), single calls raise it.
fail_next queues an error for the next call of a method (CalendarUnavailable for an outage). The user_*
methods act as the user in the UI.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.clock import utc_now
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DailyHours, Weekday
from maintenance_windows.ports.calendar import (
    ACCESS_REFUSED_REASONS,
    AwayResult,
    BusyResult,
    CalendarAccessRefused,
    CalendarError,
    CalendarEvent,
    ChangeSet,
    Channel,
    EventSpec,
    InsertResult,
    SyncTokenExpired,
    WatchRequest,
)

MAX_FREE_BUSY_RANGE = timedelta(days=90)


@dataclass(frozen=True)
class StoredEvent:
    """Everything we know of an event, including what CalendarEvent leaves out (description, style)."""

    user_email: str
    event_id: str
    status: str
    start: datetime | None
    end: datetime | None
    time_zone: str | None
    summary: str
    description_html: str
    etag: str
    updated: datetime
    all_day: bool = False
    transparent: bool = False
    declined_by_owner: bool = False
    private_properties: Mapping[str, str] = field(default_factory=dict)
    color_id: str | None = None
    popup_reminders_minutes: tuple[int, ...] = ()
    event_type: str = "default"  # default | outOfOffice | focusTime | workingLocation

    def as_event(self) -> CalendarEvent:
        return CalendarEvent(
            event_id=self.event_id,
            status=self.status,
            start=None if self.all_day else self.start,
            end=None if self.all_day else self.end,
            all_day=self.all_day,
            etag=self.etag,
            updated=self.updated,
            private_properties=dict(self.private_properties),
            transparent=self.transparent,
            declined_by_owner=self.declined_by_owner,
            summary=self.summary,
        )

    def as_listed(self) -> CalendarEvent:
        """A deleted event in a listing carries only its identity and status, as on Google."""
        if self.status != "cancelled":
            return self.as_event()
        return CalendarEvent(
            self.event_id, "cancelled", None, None, all_day=False, etag=self.etag, updated=self.updated
        )


@dataclass(frozen=True)
class WatchedChannel:
    user_email: str
    channel_id: str
    token: str
    address: str
    resource_id: str
    expiration: datetime


class MemoryCalendar:
    def __init__(self, clock: Callable[[], datetime] = utc_now, *, default_zone: str = "Etc/GMT") -> None:
        self._clock = clock
        self._default_zone = default_zone
        self._lock = threading.RLock()
        self._events: dict[tuple[str, str], StoredEvent] = {}
        self._changes: list[tuple[str, str]] = []  # (user, event id) per write; a token is a position in it
        self._tokens: dict[str, tuple[str, int]] = {}
        self._zones: dict[str, str] = {}
        self._working_hours: dict[str, tuple[dict[Weekday, DailyHours], str]] = {}
        self.refused_users: dict[str, CalendarError] = {}
        self._faults: dict[str, list[Exception]] = {}
        self._hooks: dict[str, list[Callable[[], object]]] = {}
        self._etags = 0
        #: Live channels by id; `watched` keeps every channel ever opened, in order, and `stopped` their ids.
        self.channels: dict[str, WatchedChannel] = {}
        self.watched: list[WatchedChannel] = []
        self.stopped: list[str] = []
        self.calls: Counter[str] = Counter()

    # ---- test controls -----------------------------------------------------------------------------

    def set_time_zone(self, email: str, zone: str) -> None:
        self._zones[email] = zone

    def set_working_hours(self, email: str, hours: Mapping[Weekday, DailyHours], zone: str) -> None:
        """Working hours the person's calendar states (as Microsoft 365's getSchedule does), in `zone`."""
        self._working_hours[email] = (dict(hours), zone)

    def refuse_user(self, email: str, status: int = 404, reason: str = "notFound") -> None:
        self.refused_users[email] = CalendarError(
            f"calendar of this user refused: {reason}", status=status, reason=reason
        )

    def refuse_delegation(self, email: str, reason: str = "suspended") -> None:
        """The user's delegated token cannot be minted, as the Google adapter reports it (HTTP 401 from
        Google's token endpoint, read as one of ACCESS_REFUSED_REASONS)."""
        if reason not in ACCESS_REFUSED_REASONS:
            raise ValueError(f"reason must be one of {', '.join(ACCESS_REFUSED_REASONS)}")
        self.refused_users[email] = CalendarAccessRefused(f"credentials refused: {reason}", status=401, reason=reason)

    def fail_next(self, method: str, error: Exception) -> None:
        """The next call of `method` (a CalendarPort method name) raises `error` and does nothing else."""
        with self._lock:
            self._faults.setdefault(method, []).append(error)

    def when_called(self, method: str, action: Callable[[], object]) -> None:
        """Run `action` once, at the start of the next call of `method` (to interleave a user's change)."""
        with self._lock:
            self._hooks.setdefault(method, []).append(action)

    def expire_sync_tokens(self, email: str) -> None:
        with self._lock:
            for token, (owner, _) in list(self._tokens.items()):
                if owner == email:
                    del self._tokens[token]

    def stored(self, email: str, event_id: str) -> StoredEvent | None:
        with self._lock:
            return self._events.get((email, event_id))

    def events_of(self, email: str, *, include_cancelled: bool = False) -> list[StoredEvent]:
        with self._lock:
            return sorted(
                (
                    e
                    for (user, _), e in self._events.items()
                    if user == email and (include_cancelled or e.status != "cancelled")
                ),
                key=lambda e: (e.start or e.updated, e.event_id),
            )

    def add_event(
        self,
        email: str,
        event_id: str,
        start: datetime,
        end: datetime,
        *,
        summary: str = "",
        transparent: bool = False,
        declined: bool = False,
        event_type: str = "default",
    ) -> StoredEvent:
        """An event the user has anyway (a meeting, focus time, an out-of-office period)."""
        if event_type in ("outOfOffice", "focusTime") and end - start <= timedelta(0):
            raise CalendarError(f"a {event_type} event needs a time range", status=400, reason="invalid")
        with self._lock:
            return self._write(
                StoredEvent(
                    email,
                    event_id,
                    "confirmed",
                    start,
                    end,
                    None,
                    summary,
                    "",
                    "",
                    self._now(),
                    transparent=transparent or event_type == "workingLocation",
                    declined_by_owner=declined,
                    event_type=event_type,
                )
            )

    def user_moves(self, email: str, event_id: str, start: datetime, end: datetime | None = None) -> StoredEvent:
        with self._lock:
            event = self._existing(email, event_id)
            length = (event.end - event.start) if event.start and event.end else timedelta(minutes=30)
            return self._write(replace(event, start=start, end=end or start + length, all_day=False))

    def user_deletes(self, email: str, event_id: str) -> StoredEvent:
        with self._lock:
            return self._write(replace(self._existing(email, event_id), status="cancelled"))

    def user_declines(self, email: str, event_id: str) -> StoredEvent:
        with self._lock:
            return self._write(replace(self._existing(email, event_id), declined_by_owner=True))

    def user_makes_all_day(self, email: str, event_id: str) -> StoredEvent:
        """The event now covers its whole local day (all-day events are busy unless marked free)."""
        with self._lock:
            event = self._existing(email, event_id)
            zone = ZoneInfo(self._zones.get(email, self._default_zone))
            day = (event.start or self._now()).astimezone(zone).date()
            start = datetime.combine(day, time(), zone)
            return self._write(replace(event, all_day=True, start=start, end=start + timedelta(days=1)))

    # ---- CalendarPort ------------------------------------------------------------------------------

    def time_zones(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        with self._lock:
            self._enter("time_zones")
            return {
                email: self.refused_users.get(email) or self._zones.get(email, self._default_zone)
                for email in dict.fromkeys(emails)
            }

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        with self._lock:
            self._enter("busy")
            if time_max <= time_min:
                raise CalendarError("freebusy.query: the time range is empty", status=400, reason="timeRangeEmpty")
            if time_max - time_min > MAX_FREE_BUSY_RANGE:
                raise CalendarError(
                    "freebusy.query: the requested time range is too long", status=400, reason="invalid"
                )
            results: dict[str, BusyResult] = {}
            for email in emails:
                refused = self.refused_users.get(email)
                stated, zone = self._working_hours.get(email, (None, None))
                results[email] = (
                    BusyResult(error=refused.reason)
                    if refused
                    else BusyResult(
                        self._busy(email, time_min, time_max), working_hours=stated, working_hours_zone=zone
                    )
                )
            return results

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        with self._lock:
            self._enter("out_of_office")
            results: dict[str, AwayResult] = {}
            for email in dict.fromkeys(emails):
                refused = self.refused_users.get(email)
                if refused is not None:
                    results[email] = AwayResult(error=refused.reason)
                    continue
                periods = sorted(
                    Interval(e.start, e.end)
                    for e in self._of(email)
                    if e.event_type == "outOfOffice"
                    and e.status != "cancelled"
                    and e.start
                    and e.end
                    and e.end > time_min
                    and e.start < time_max
                )
                results[email] = AwayResult(tuple(periods))
            return results

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        with self._lock:
            self._enter("insert_events")
            results: list[InsertResult] = []
            for spec in specs:
                refused = self.refused_users.get(spec.user_email)
                if refused is not None:
                    results.append(
                        InsertResult(
                            spec.event_id,
                            created=False,
                            error=refused.reason,
                            access_refused=isinstance(refused, CalendarAccessRefused),
                        )
                    )
                elif (spec.user_email, spec.event_id) in self._events:
                    results.append(InsertResult(spec.event_id, created=False))
                else:
                    event = self._write(_from_spec(spec, self._now()))
                    results.append(InsertResult(spec.event_id, created=True, etag=event.etag))
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
        with self._lock:
            self._enter("patch_event", user_email)
            event = self._existing(user_email, event_id)
            # Patch semantics merge nested objects: the given private properties add to or replace the stored.
            properties = {**event.private_properties, **(private_properties or {})}
            patched = replace(
                event,
                start=start if start is not None else event.start,
                end=end if end is not None else event.end,
                all_day=event.all_day and start is None,
                time_zone=time_zone if time_zone is not None else event.time_zone,
                summary=summary if summary is not None else event.summary,
                description_html=description_html if description_html is not None else event.description_html,
                private_properties=properties,
            )
            return self._write(patched).as_event()

    def delete_event(self, user_email: str, event_id: str) -> bool:
        with self._lock:
            self._enter("delete_event", user_email)
            event = self._events.get((user_email, event_id))
            if event is None or event.status == "cancelled":
                return False
            self._write(replace(event, status="cancelled"))
            return True

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None:
        with self._lock:
            self._enter("get_event", user_email)
            event = self._events.get((user_email, event_id))
            return event.as_event() if event is not None else None

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        with self._lock:
            self._enter("list_changes", user_email)
            if sync_token is None:
                now = self._now()
                listed = [e for e in self._of(user_email) if e.end is not None and e.end > now]
                listed.sort(key=lambda e: e.event_id)
            else:
                owner, position = self._tokens.get(sync_token, ("", -1))
                if owner != user_email:
                    raise SyncTokenExpired(
                        "Sync token is no longer valid, a full sync is required.", status=410, reason="fullSyncRequired"
                    )
                changed = dict.fromkeys(e for u, e in self._changes[position:] if u == user_email)
                listed = [self._events[(user_email, event_id)] for event_id in changed]
            return ChangeSet(tuple(e.as_listed() for e in listed), self._new_token(user_email))

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        with self._lock:
            self._enter("recent_events", user_email)
            found = [
                e.as_event()
                for e in self._of(user_email)
                if e.status != "cancelled"
                and not e.all_day
                and e.start
                and e.end
                and e.end > time_min
                and e.start < time_max
            ]
            return sorted(found, key=lambda e: (e.start or time_min, e.event_id))

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        with self._lock:
            self._enter("watch", user_email)
            return self._watch(WatchRequest(user_email, channel_id, token, address, ttl_seconds))

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        with self._lock:
            self._enter("watch_many")
            results: list[Channel | CalendarError] = []
            for request in requests:
                refused = self.refused_users.get(request.user_email)
                if refused is not None:
                    results.append(refused)
                    continue
                try:
                    results.append(self._watch(request))
                except CalendarError as problem:
                    results.append(problem)
            return results

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        with self._lock:
            self._enter("sync_tokens")
            return {email: self.refused_users.get(email) or self._new_token(email) for email in dict.fromkeys(emails)}

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None:
        with self._lock:
            self._enter("stop_channel", user_email)
            channel = self.channels.get(channel_id)
            if channel is not None and channel.resource_id == resource_id:
                del self.channels[channel_id]
                self.stopped.append(channel_id)

    # ---- internals ---------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    def _enter(self, method: str, user_email: str | None = None) -> None:
        self.calls[method] += 1
        for hook in self._hooks.pop(method, []):
            hook()
        queued = self._faults.get(method)
        if queued:
            raise queued.pop(0)
        if user_email is not None and user_email in self.refused_users:
            raise self.refused_users[user_email]

    def _existing(self, email: str, event_id: str) -> StoredEvent:
        event = self._events.get((email, event_id))
        if event is None:
            raise CalendarError(f"event {event_id} not found", status=404, reason="notFound")
        return event

    def _of(self, email: str) -> list[StoredEvent]:
        return [event for (user, _), event in self._events.items() if user == email]

    def _write(self, event: StoredEvent) -> StoredEvent:
        self._etags += 1
        stored = replace(event, etag=f'"{self._etags}"', updated=self._now())
        self._events[(stored.user_email, stored.event_id)] = stored
        self._changes.append((stored.user_email, stored.event_id))
        return stored

    def _new_token(self, email: str) -> str:
        token = f"sync-{len(self._tokens) + 1}-{len(self._changes)}"
        self._tokens[token] = (email, len(self._changes))
        return token

    def _busy(self, email: str, time_min: datetime, time_max: datetime) -> tuple[Interval, ...]:
        blocks = sorted(
            (max(e.start, time_min), min(e.end, time_max))
            for e in self._of(email)
            if e.status != "cancelled"
            and not e.transparent
            and not e.declined_by_owner
            and e.start
            and e.end
            and e.end > time_min
            and e.start < time_max
        )
        merged: list[tuple[datetime, datetime]] = []
        for start, end in blocks:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return tuple(Interval(start, end) for start, end in merged)

    def _watch(self, request: WatchRequest) -> Channel:
        if request.channel_id in self.channels:
            raise CalendarError("channel id not unique", status=400, reason="channelIdNotUnique")
        resource_id = "res-" + hashlib.sha256(request.user_email.encode()).hexdigest()[:16]
        expiration = self._now() + timedelta(seconds=request.ttl_seconds)
        channel = WatchedChannel(
            request.user_email, request.channel_id, request.token, request.address, resource_id, expiration
        )
        self.channels[request.channel_id] = channel
        self.watched.append(channel)
        return Channel(request.channel_id, resource_id, expiration)


def _from_spec(spec: EventSpec, now: datetime) -> StoredEvent:
    return StoredEvent(
        user_email=spec.user_email,
        event_id=spec.event_id,
        status="confirmed",
        start=spec.start,
        end=spec.end,
        time_zone=spec.time_zone,
        summary=spec.summary,
        description_html=spec.description_html,
        etag="",
        updated=now,
        private_properties=dict(spec.private_properties),
        color_id=spec.color_id,
        popup_reminders_minutes=tuple(spec.popup_reminders_minutes),
    )
