"""In-memory calendars for many users, with Google's write, list, sync and free/busy semantics.

One lock guards everything: each call touches one user's events (or up to 50 users for freeBusy), so
the critical sections stay short, and a single lock keeps sync sequences and channels consistent.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.calendar_server import events as ev
from infra.calendar_server.errors import (
    ApiError,
    bad_request,
    condition_not_met,
    deleted,
    duplicate,
    full_sync_required,
    gone,
    invalid,
    not_found,
    required,
    time_range_empty,
)
from infra.calendar_server.instances import (
    Horizon,
    Row,
    StoredEvent,
    busy_spans,
    changed_rows,
    exception_from,
    listing_rows,
    resolve,
)
from infra.calendar_server.recurrence import Series
from infra.calendar_server.validation import parse_date_time

DEFAULT_TIME_ZONE = "Etc/GMT"  # what settings.get("timezone") answers for a user who never chose one
DEFAULT_PAGE_SIZE = 250
MAX_PAGE_SIZE = 2500
MAX_FREEBUSY_ITEMS = 50
MAX_FREEBUSY_RANGE = timedelta(days=90)
DEFAULT_CHANNEL_TTL_SECONDS = 604800
#: Google documents the default TTL, not a maximum; a longer TTL gets a capped expiration. The real cap is
#: unconfirmed (third-party code comments say 7 days), so the stand-in caps at 7 days unless configured.
DEFAULT_MAX_CHANNEL_TTL_SECONDS = 604800
MAX_CHANNEL_ID_LENGTH = 64
MAX_CHANNEL_TOKEN_LENGTH = 256
#: How far an endless series is expanded when a listing has no timeMax (Google's own limit is unpublished).
DEFAULT_RECURRENCE_HORIZON_DAYS = 730
_CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]+")
#: How a seeded user fares at the token endpoint (domain-wide delegation); see oauth.py.
DELEGATION_STATES = ("active", "suspended", "unknown", "deleted", "not_delegated")
_NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


@dataclass
class UserCalendar:
    email: str
    time_zone: str
    resource_id: str
    events: dict[str, StoredEvent] = field(default_factory=dict)
    change_seq: int = 0
    sync_epoch: int = 0
    delegation: str = "active"
    #: (reason, message, domain) of the 410 that expired sync tokens answer, when not fullSyncRequired.
    gone: tuple[str, str, str] | None = None


@dataclass
class ChannelState:
    channel_id: str
    resource_id: str
    resource_uri: str
    email: str
    address: str
    token: str | None
    expiration_ms: int
    message_number: int = 0
    stopped: bool = False

    def active(self, now_ms: int) -> bool:
        return not self.stopped and now_ms < self.expiration_ms


@dataclass(frozen=True)
class Notification:
    """One push message, as captured at the moment of the change."""

    address: str
    channel_id: str
    token: str | None
    resource_id: str
    resource_uri: str
    state: str
    message_number: int
    expiration_ms: int


class CalendarStore:
    def __init__(self, notify: Callable[[Notification], None] | None = None) -> None:
        self._lock = threading.RLock()
        self._notify = notify or (lambda _: None)
        self._users: dict[str, UserCalendar] = {}
        self._channels: dict[str, ChannelState] = {}
        self._generation = 0
        self._etags = itertools.count(1)
        self.max_channel_ttl_seconds = DEFAULT_MAX_CHANNEL_TTL_SECONDS
        self.recurrence_horizon_days = DEFAULT_RECURRENCE_HORIZON_DAYS

    # ---- users and admin -------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._users.clear()
            self._channels.clear()
            self._generation += 1  # every sync and page token handed out so far becomes invalid
            self.max_channel_ttl_seconds = DEFAULT_MAX_CHANNEL_TTL_SECONDS
            self.recurrence_horizon_days = DEFAULT_RECURRENCE_HORIZON_DAYS

    def add_user(self, email: str, time_zone: str | None, delegation: str | None = None) -> None:
        zone_name = time_zone or DEFAULT_TIME_ZONE
        ev.zone(zone_name, "timeZone")
        if delegation is not None and delegation not in DELEGATION_STATES:
            raise ValueError(f"delegation must be one of {', '.join(DELEGATION_STATES)}")
        with self._lock:
            existing = self._users.get(email)
            if existing is not None:
                existing.time_zone = zone_name
                existing.delegation = delegation or existing.delegation
                return
            resource_id = hashlib.sha256(f"calendar:{email}".encode()).hexdigest()[:27]
            self._users[email] = UserCalendar(email, zone_name, resource_id, delegation=delegation or "active")

    def delegation(self, email: str) -> str | None:
        """The user's delegation state, None for an address never seeded."""
        with self._lock:
            user = self._users.get(email)
            return None if user is None else user.delegation

    def user_count(self) -> int:
        with self._lock:
            return len(self._users)

    def time_zone(self, caller: str) -> str:
        with self._lock:
            return self._user(caller).time_zone

    def expire_sync_tokens(self, email: str | None, answer: tuple[str, str, str] | None = None) -> int:
        """Tokens handed out so far answer 410: fullSyncRequired, or `answer` (reason, message, domain)."""
        with self._lock:
            users = [self._user(email)] if email else list(self._users.values())
            for user in users:
                user.sync_epoch += 1
                user.gone = answer
            return len(users)

    def all_events(self, email: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(stored.resource) for stored in self._user(email).events.values()]

    def seed_event(self, email: str, body: dict[str, Any]) -> dict[str, Any]:
        """An event the user made in the Calendar UI (which fills a status event's required fields)."""
        with self._lock:
            return self._insert(self._user(email), ev.with_ui_defaults(copy.deepcopy(body)))

    def act_as_user(self, email: str, event_id: str, change: Callable[[dict[str, Any], str], None]) -> dict[str, Any]:
        """Apply a change the user makes in their own calendar UI (move, decline, delete, all-day)."""
        with self._lock:
            user = self._user(email)
            stored = self._existing(user, event_id)
            resource = copy.deepcopy(stored.resource)
            change(resource, user.time_zone)
            return self._store(user, _as_stored(stored, resource))

    def channels(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "id": channel.channel_id,
                    "resourceId": channel.resource_id,
                    "user": channel.email,
                    "address": channel.address,
                    "expiration": str(channel.expiration_ms),
                    "stopped": channel.stopped,
                    "messageNumber": channel.message_number,
                }
                for channel in self._channels.values()
            ]

    # ---- events ------------------------------------------------------------------------------------

    def insert(self, caller: str, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._insert(self._calendar(caller, calendar_id), body)

    def get(self, caller: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        with self._lock:
            stored = self._existing(self._calendar(caller, calendar_id), event_id)
            return copy.deepcopy(stored.resource)

    def patch(
        self, caller: str, calendar_id: str, event_id: str, body: dict[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        with self._lock:
            user = self._calendar(caller, calendar_id)
            stored = self._existing(user, event_id)
            _check_etag(stored, if_match)
            resource = _merge_patch(stored.resource, body)
            _check_immutable(resource, stored.resource)
            _bump_sequence_if_moved(resource, stored.resource)
            return self._store(user, _as_stored(stored, resource))

    def update(
        self, caller: str, calendar_id: str, event_id: str, body: dict[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        with self._lock:
            user = self._calendar(caller, calendar_id)
            stored = self._existing(user, event_id)
            _check_etag(stored, if_match)
            resource = copy.deepcopy(body)
            resource["id"] = event_id
            for kept in ("created", "sequence"):
                resource.setdefault(kept, stored.resource.get(kept))
            _check_immutable(resource, stored.resource)
            _bump_sequence_if_moved(resource, stored.resource)
            return self._store(user, _as_stored(stored, resource))

    def delete(self, caller: str, calendar_id: str, event_id: str, if_match: str | None) -> None:
        with self._lock:
            user = self._calendar(caller, calendar_id)
            stored = self._existing(user, event_id)
            if stored.resource.get("status") == "cancelled":
                raise deleted()
            _check_etag(stored, if_match)
            resource = copy.deepcopy(stored.resource)
            resource["status"] = "cancelled"
            self._store(user, _as_stored(stored, resource))

    def list_events(self, caller: str, calendar_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self._calendar(caller, calendar_id)
            page = _decode(params["pageToken"], "page") if "pageToken" in params else None
            if page is not None and page.get("u") != _user_key(user.email):
                raise invalid("Invalid page token.", location="pageToken")
            since = self._sync_point(user, params)
            if page is not None:
                since = page.get("since")
            snapshot = page["snap"] if page is not None else user.change_seq
            ordered = self._listing(user, params, since)
            cursor = page["after"] if page is not None else None
            if cursor is not None:
                ordered = [(key, stored) for key, stored in ordered if key > tuple(cursor)]
            size = min(params.get("maxResults", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
            shown = ordered[:size]
            answer = self._events_envelope(user, [row.resource for _, row in shown])
            if len(ordered) > size:
                last_key = list(shown[-1][0])
                state = {"u": _user_key(user.email), "since": since, "snap": snapshot, "after": last_key}
                answer["nextPageToken"] = _encode(state)
            else:
                answer["nextSyncToken"] = self._sync_token(user, snapshot)
            return answer

    # ---- free/busy, settings, channels ---------------------------------------------------------------

    def free_busy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        time_min, time_max = _free_busy_range(body)
        items = body.get("items") or []
        if len(items) > MAX_FREEBUSY_ITEMS:
            raise bad_request(
                f"The number of calendars requested exceeds the limit of {MAX_FREEBUSY_ITEMS}.",
                reason="tooManyCalendarsRequested",
            )
        for key, limit in (("calendarExpansionMax", 50), ("groupExpansionMax", 100)):
            if body.get(key) is not None and not 0 <= body[key] <= limit:
                raise invalid(f"Invalid value for {key}: must be at most {limit}.", location=key)
        calendars: dict[str, Any] = {}
        with self._lock:
            for item in items:
                calendar_id = item.get("id")
                if not calendar_id:
                    raise required("Missing calendar id.", location="items.id")
                user = self._users.get(calendar_id)
                if user is None:
                    calendars[calendar_id] = {
                        "errors": [{"domain": "global", "reason": "notFound"}],
                        "busy": [],
                    }
                else:
                    calendars[calendar_id] = {"busy": _busy_blocks(user, time_min, time_max)}
        return {
            "kind": "calendar#freeBusy",
            "timeMin": ev.utc_text(time_min),
            "timeMax": ev.utc_text(time_max),
            "calendars": calendars,
        }

    def watch(self, caller: str, calendar_id: str, body: Mapping[str, Any], resource_uri: str) -> dict[str, Any]:
        channel_id, address, ttl = _channel_request(body)
        ttl = min(ttl, self.max_channel_ttl_seconds)
        with self._lock:
            user = self._calendar(caller, calendar_id)
            existing = self._channels.get(channel_id)
            if existing is not None and not existing.stopped:
                raise bad_request(f"Channel id {channel_id} not unique", reason="channelIdNotUnique")
            channel = ChannelState(
                channel_id=channel_id,
                resource_id=user.resource_id,
                resource_uri=resource_uri,
                email=user.email,
                address=address,
                token=body.get("token"),
                expiration_ms=int((time.time() + ttl) * 1000),
            )
            self._channels[channel_id] = channel
            self._send(channel, "sync")
            return {
                "kind": "api#channel",
                "id": channel.channel_id,
                "resourceId": channel.resource_id,
                "resourceUri": channel.resource_uri,
                "token": channel.token,
                "expiration": str(channel.expiration_ms),
            }

    def stop_channel(self, body: Mapping[str, Any]) -> None:
        channel_id, resource_id = body.get("id"), body.get("resourceId")
        if not channel_id or not resource_id:
            raise required("Missing channel id or resourceId.", location="id")
        with self._lock:
            channel = self._channels.get(channel_id)
            if channel is None or channel.stopped or channel.resource_id != resource_id:
                raise not_found(f"Channel '{channel_id}' not found for project.")
            channel.stopped = True

    # ---- internals ---------------------------------------------------------------------------------

    def _user(self, email: str | None) -> UserCalendar:
        user = self._users.get(email or "")
        if user is None:
            raise not_found()
        return user

    def _calendar(self, caller: str, calendar_id: str) -> UserCalendar:
        # With delegation every caller acts as one user, and only that user's own calendar exists here.
        if calendar_id not in ("primary", caller):
            raise not_found()
        return self._user(caller)

    def _existing(self, user: UserCalendar, event_id: str) -> StoredEvent:
        """A stored event, or an instance of a stored series (changing it stores an exception)."""
        stored = resolve(user.events, event_id)
        if stored is None:
            raise not_found()
        return stored

    def _insert(self, user: UserCalendar, body: dict[str, Any]) -> dict[str, Any]:
        resource = copy.deepcopy(body)
        if resource.get("id") is None:
            resource["id"] = ev.new_event_id()
        ev.check_event_id(resource["id"])
        if resource["id"] in user.events:
            raise duplicate()  # also for a deleted event: Google never reuses ids
        for read_only in ("etag", "updated", "created", "htmlLink", "iCalUID", "creator", "kind"):
            resource.pop(read_only, None)
        if resource.get("eventType") == "fromGmail":
            raise invalid("Events of type fromGmail cannot be created.", location="eventType")
        return self._store(user, resource)

    def _store(self, user: UserCalendar, resource: dict[str, Any]) -> dict[str, Any]:
        times = ev.event_times(resource, user.time_zone)
        ev.check_event_fields(resource, times)
        series = None
        if resource.get("recurrence") and not resource.get("recurringEventId"):
            series = Series(resource, times.start, times.end, times.all_day, user.time_zone)
        ev.normalize_times(resource, times)
        now = ev.timestamp(datetime.now(UTC))
        ev.decorate(resource, user.email, etag=self._next_etag(), updated=now)
        user.change_seq += 1
        user.events[resource["id"]] = StoredEvent(resource, times, user.change_seq, series)
        self._notify_change(user)
        return copy.deepcopy(resource)

    def _next_etag(self) -> str:
        return f'"{time.time_ns() // 1000}{next(self._etags) % 1000:03d}"'

    def _notify_change(self, user: UserCalendar) -> None:
        now_ms = int(time.time() * 1000)
        for channel in self._channels.values():
            if channel.email == user.email and channel.active(now_ms):
                self._send(channel, "exists")

    def _send(self, channel: ChannelState, state: str) -> None:
        channel.message_number += 1
        self._notify(
            Notification(
                address=channel.address,
                channel_id=channel.channel_id,
                token=channel.token,
                resource_id=channel.resource_id,
                resource_uri=channel.resource_uri,
                state=state,
                message_number=channel.message_number,
                expiration_ms=channel.expiration_ms,
            )
        )

    def _sync_point(self, user: UserCalendar, params: Mapping[str, Any]) -> int | None:
        token = params.get("syncToken")
        if token is None:
            if params.get("orderBy") == "startTime" and not params.get("singleEvents"):
                raise bad_request("The requested ordering is not available for the particular query.")
            _check_list_range(params)
            return None
        clashing = [name for name in _NOT_WITH_SYNC_TOKEN if name in params]
        if clashing:
            raise bad_request(f"Sync token cannot be combined with: {', '.join(clashing)}.", location=clashing[0])
        state = _decode(token, "sync", gone=True)
        if state.get("g") != self._generation or state.get("u") != _user_key(user.email):
            raise full_sync_required()
        if state.get("e") != user.sync_epoch:
            raise gone(*user.gone) if user.gone is not None else full_sync_required()
        return int(state["seq"])

    def _sync_token(self, user: UserCalendar, snapshot: int) -> str:
        state = {"g": self._generation, "u": _user_key(user.email), "e": user.sync_epoch, "seq": snapshot}
        return _encode(state)

    def _listing(
        self, user: UserCalendar, params: Mapping[str, Any], since: int | None
    ) -> list[tuple[tuple[Any, ...], Row]]:
        horizon = Horizon(timedelta(days=self.recurrence_horizon_days), datetime.now(UTC))
        if since is not None:
            # Incremental: every change after the token, deletions included, in change order.
            changed = changed_rows(user.events, since, bool(params.get("singleEvents")), horizon)
            return sorted(((row.change_seq, row.resource["id"]), row) for row in changed)
        matching = [row for row in listing_rows(user.events, params, horizon) if _matches(row, params)]
        order = params.get("orderBy")
        keyed: list[tuple[tuple[Any, ...], Row]]
        if order == "startTime":
            keyed = [((row.start.timestamp(), row.resource["id"]), row) for row in matching]
        elif order == "updated":
            keyed = [((row.resource["updated"], row.resource["id"]), row) for row in matching]
        else:
            keyed = [((row.resource["id"],), row) for row in matching]
        return sorted(keyed, key=lambda pair: pair[0])

    def _events_envelope(self, user: UserCalendar, items: list[dict[str, Any]]) -> dict[str, Any]:
        latest = max((item["updated"] for item in items), default=ev.timestamp(datetime.now(UTC)))
        return {
            "kind": "calendar#events",
            "etag": f'"{user.change_seq}"',
            "summary": user.email,
            "description": "",
            "updated": latest,
            "timeZone": user.time_zone,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
            "items": [
                ev.minimal_cancelled(item) if item.get("status") == "cancelled" else copy.deepcopy(item)
                for item in items
            ],
        }


def _check_etag(stored: StoredEvent, if_match: str | None) -> None:
    if if_match is not None and if_match != "*" and if_match != stored.resource["etag"]:
        raise condition_not_met()


def _merge_patch(current: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Patch semantics: nested objects merge, lists and start/end are replaced, null clears."""
    merged = copy.deepcopy(dict(current))
    for key, value in body.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ("start", "end"):
            merged[key] = _merge_patch(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _bump_sequence_if_moved(resource: dict[str, Any], previous: Mapping[str, Any]) -> None:
    if resource.get("start") != previous.get("start") or resource.get("end") != previous.get("end"):
        resource["sequence"] = int(previous.get("sequence") or 0) + 1


def _as_stored(stored: StoredEvent, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource to store: a changed instance of a series becomes an exception under its instance id."""
    return exception_from(stored, resource) if stored.virtual else resource


def _check_immutable(resource: Mapping[str, Any], previous: Mapping[str, Any]) -> None:
    # The discovery document: eventType "cannot be modified after the event is created".
    if resource.get("eventType", "default") != previous.get("eventType", "default"):
        raise invalid("The event type cannot be changed.", location="eventType")


def _matches(row: Row, params: Mapping[str, Any]) -> bool:
    """The filters other than time (listing_rows applied timeMin/timeMax, instances included)."""
    resource = row.resource
    updated_min = params.get("updatedMin")
    if updated_min is not None:
        if parse_date_time(resource["updated"], location="updated") < updated_min:
            return False
    elif resource.get("status") == "cancelled" and not params.get("showDeleted") and not row.cancelled_exception:
        return False
    if "iCalUID" in params and resource.get("iCalUID") != params["iCalUID"]:
        return False
    if "eventTypes" in params and resource.get("eventType", "default") not in params["eventTypes"]:
        return False
    query = params.get("q")
    if query and not any(query.lower() in str(resource.get(key, "")).lower() for key in ("summary", "description")):
        return False
    properties = resource.get("extendedProperties") or {}
    return _properties_match(properties.get("private") or {}, params.get("privateExtendedProperty", [])) and (
        _properties_match(properties.get("shared") or {}, params.get("sharedExtendedProperty", []))
    )


def _properties_match(properties: Mapping[str, str], constraints: list[str]) -> bool:
    for constraint in constraints:
        name, separator, value = constraint.partition("=")
        if not separator or not name:
            raise bad_request(f"Invalid extended property constraint: {constraint}")
        if properties.get(name) != value:
            return False
    return True


def _check_list_range(params: Mapping[str, Any]) -> None:
    if "timeMin" in params and "timeMax" in params and params["timeMax"] <= params["timeMin"]:
        raise time_range_empty(location="timeMax")


def _free_busy_range(body: Mapping[str, Any]) -> tuple[datetime, datetime]:
    for key in ("timeMin", "timeMax"):
        if not body.get(key):
            raise required(f"Missing {key} parameter.", location=key)
    time_min = parse_date_time(body["timeMin"], location="timeMin")
    time_max = parse_date_time(body["timeMax"], location="timeMax")
    if time_max <= time_min:
        raise time_range_empty(location="timeMax")
    if time_max - time_min > MAX_FREEBUSY_RANGE:
        raise invalid("The requested time range is too long.", location="timeMax")
    return time_min, time_max


def _busy_blocks(user: UserCalendar, time_min: datetime, time_max: datetime) -> list[dict[str, str]]:
    spans = sorted(
        (max(start, time_min), min(end, time_max)) for start, end in busy_spans(user.events, time_min, time_max)
    )
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"start": ev.utc_text(start), "end": ev.utc_text(end)} for start, end in merged]


def _channel_request(body: Mapping[str, Any]) -> tuple[str, str, int]:
    """The push guide's rules: id ≤ 64 chars of [A-Za-z0-9-_+/=], token ≤ 256 chars, a positive TTL."""
    channel_id, address, token = body.get("id"), body.get("address"), body.get("token")
    if not channel_id:
        raise required("Missing channel id.", location="id")
    if len(channel_id) > MAX_CHANNEL_ID_LENGTH:
        raise invalid("Channel id must be at most 64 characters.", location="id")
    if not _CHANNEL_ID.fullmatch(channel_id):
        # Google's wording, as reported by clients that sent a dot.
        raise bad_request("Channel id must match [A-Za-z0-9\\-_\\+/=]+", location="id")
    if token is not None and len(token) > MAX_CHANNEL_TOKEN_LENGTH:
        raise invalid("Channel token must be at most 256 characters.", location="token")
    if body.get("type") not in ("web_hook", "webhook"):
        raise invalid("Invalid channel type; expected web_hook.", location="type")
    if not address or not str(address).startswith(("https://", "http://")):
        raise invalid("Invalid channel address.", location="address")
    return str(channel_id), str(address), _channel_ttl(body)


def _channel_ttl(body: Mapping[str, Any]) -> int:
    params = body.get("params") or {}
    if "ttl" in params:
        try:
            ttl = int(params["ttl"])
        except ValueError:
            raise _invalid_ttl(params["ttl"]) from None
    elif body.get("expiration"):
        ttl = (int(body["expiration"]) - int(time.time() * 1000)) // 1000
    else:
        ttl = DEFAULT_CHANNEL_TTL_SECONDS
    if ttl <= 0:
        raise _invalid_ttl(ttl)
    return ttl


def _invalid_ttl(ttl: object) -> ApiError:
    # Google's reason and wording for a TTL it cannot use (as reported by clients).
    return ApiError(400, "pushInvalidTtl", f"Invalid ttl value for channel {ttl}", location="params.ttl")


def _user_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def _encode(state: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str, kind: str, *, gone: bool = False) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(state, dict):
            raise ValueError(token)
        return state
    except (ValueError, UnicodeDecodeError):
        if gone:
            raise full_sync_required() from None
        raise invalid(f"Invalid {kind} token.", location=f"{kind}Token") from None


__all__ = ["ApiError", "CalendarStore", "Notification"]
