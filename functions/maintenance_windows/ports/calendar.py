"""The calendar port: everything the product asks of a user's calendar.

Batch-shaped on purpose: one call covers many users, so an adapter can pack them into as few
round trips as its provider allows (Google: 50 calendars per freeBusy, up to 1,000 calls per HTTP batch).
A batch method answers for each user: one user's failure is that user's entry, never the whole answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DailyHours, Weekday


class CalendarError(Exception):
    """A calendar call failed in a way the caller cannot fix by retrying now."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class CalendarUnavailable(CalendarError):
    """Transient: quota, 429 or 5xx after the adapter's own retries. Try again on a later run."""


class SyncTokenExpired(CalendarError):
    """410 Gone on an incremental sync (whatever its reason): wipe the token and do a full sync."""


class CalendarAccessRefused(CalendarError):
    """The provider will not let us act as this user; only an administrator's change heals it.

    `reason` is one of ACCESS_REFUSED_REASONS: "suspended" (the account is disabled or restricted),
    "not_delegated" (our access was not granted for this user or for a scope we need) or "unknown" (no
    such user: deleted, an alias, outside the organization, or a refusal we cannot read).
    """


ACCESS_REFUSED_REASONS = ("suspended", "not_delegated", "unknown")


class CalendarDeploymentError(CalendarError):
    """Nobody's calendar can be used until the deployment is fixed; the message names what to fix.

    Never retried by the adapter: the same answer would come back for every user.
    """


@dataclass(frozen=True)
class BusyResult:
    """Free/busy for one user: busy intervals, or the per-calendar error the provider reported."""

    busy: tuple[Interval, ...] = ()
    error: str | None = None
    #: The person's own working week where the provider states it (Microsoft 365's workingHours; Google
    #: does not), in `working_hours_zone` (IANA). The team's rules still bound it.
    working_hours: Mapping[Weekday, DailyHours] | None = None
    working_hours_zone: str | None = None


@dataclass(frozen=True)
class AwayResult:
    """Out-of-office periods for one user (their calendar's `outOfOffice` events), or why they are unknown."""

    away: tuple[Interval, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class EventSpec:
    """An event we book in a user's primary calendar."""

    user_email: str
    event_id: str
    start: datetime
    end: datetime
    time_zone: str
    summary: str
    description_html: str
    private_properties: Mapping[str, str] = field(default_factory=dict)
    color_id: str | None = None
    popup_reminders_minutes: Sequence[int] = (10,)


@dataclass(frozen=True)
class InsertResult:
    event_id: str
    created: bool  # False: the id already existed (a retried insert), nothing new was booked
    etag: str | None = None
    error: str | None = None
    #: The error is a CalendarAccessRefused for the user (its reason in `error`).
    access_refused: bool = False


@dataclass(frozen=True)
class CalendarEvent:
    """An event as read back from the calendar, reduced to what the product needs."""

    event_id: str
    status: str  # confirmed | tentative | cancelled
    start: datetime | None  # None for all-day events
    end: datetime | None
    all_day: bool
    etag: str | None
    updated: datetime | None
    private_properties: Mapping[str, str] = field(default_factory=dict)
    transparent: bool = False
    declined_by_owner: bool = False
    summary: str = ""


@dataclass(frozen=True)
class ChangeSet:
    events: tuple[CalendarEvent, ...]
    next_sync_token: str


@dataclass(frozen=True)
class Channel:
    channel_id: str
    resource_id: str
    expiration: datetime


@dataclass(frozen=True)
class WatchRequest:
    """events.watch on a user's primary calendar."""

    user_email: str
    channel_id: str
    token: str
    address: str
    ttl_seconds: int


class CalendarPort(Protocol):
    def time_zones(self, emails: Sequence[str]) -> Mapping[str, str | CalendarError]:
        """IANA zone per user, or the error that kept it from us (CalendarAccessRefused, CalendarUnavailable
        after the adapter's retries, ...): every user asked about has an entry, so none is guessed."""
        ...

    def busy(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, BusyResult]:
        """Busy intervals per user between time_min and time_max; a user the provider could not answer for
        carries the reason in BusyResult.error (e.g. "notFound", or a CalendarAccessRefused reason)."""
        ...

    def out_of_office(self, emails: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, AwayResult]:
        """Out-of-office periods per user overlapping [time_min, time_max) (free/busy shows them as plain busy
        time). Transient failures that outlast the adapter's retries raise CalendarUnavailable."""
        ...

    def insert_events(self, specs: Sequence[EventSpec]) -> list[InsertResult]:
        """Insert events with client-chosen ids; an existing id is reported as created=False."""
        ...

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
    ) -> CalendarEvent: ...

    def delete_event(self, user_email: str, event_id: str) -> bool:
        """Delete; False if it was already gone (404/410)."""
        ...

    def get_event(self, user_email: str, event_id: str) -> CalendarEvent | None: ...

    def list_changes(self, user_email: str, sync_token: str | None) -> ChangeSet:
        """Incremental sync from sync_token; a full sync of upcoming events when None.

        Raises SyncTokenExpired on 410.
        """
        ...

    def recent_events(self, user_email: str, time_min: datetime, time_max: datetime) -> list[CalendarEvent]:
        """Timed events between the bounds (for inferring a user's usual working day)."""
        ...

    def watch(self, user_email: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel: ...

    def watch_many(self, requests: Sequence[WatchRequest]) -> list[Channel | CalendarError]:
        """watch for many users in as few round trips as the provider allows; results in request order.

        Transient failures that outlast the adapter's retries raise CalendarUnavailable."""
        ...

    def sync_tokens(self, emails: Sequence[str]) -> dict[str, str | CalendarError]:
        """A first sync token per user (a full sync of upcoming events), batched like watch_many."""
        ...

    def stop_channel(self, user_email: str, channel_id: str, resource_id: str) -> None: ...
