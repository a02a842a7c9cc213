"""Event resources: the rules Google applies on write, beyond what the discovery schema says."""

from __future__ import annotations

import copy
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.calendar_server.errors import ApiError, invalid, required, time_range_empty
from infra.calendar_server.validation import parse_date_time

_HAS_OFFSET = re.compile(r"([Zz]|[+-]\d{2}:\d{2})$")
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_STATUSES = {"confirmed", "tentative", "cancelled"}
_TRANSPARENCY = {"opaque", "transparent"}
_VISIBILITY = {"default", "public", "private", "confidential"}
_EVENT_TYPES = {"default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"}
_TIMED_ONLY_TYPES = {"outOfOffice", "focusTime"}
#: The properties object each status event type must carry (Calendar's status-events guides).
_TYPE_PROPERTIES = {
    "outOfOffice": "outOfOfficeProperties",
    "focusTime": "focusTimeProperties",
    "workingLocation": "workingLocationProperties",
}
#: What the Calendar UI fills in when a user makes such an event (admin seeding acts as the user).
_UI_DEFAULTS: dict[str, dict[str, Any]] = {
    "outOfOffice": {"outOfOfficeProperties": {"autoDeclineMode": "declineOnlyNewConflictingInvitations"}},
    "focusTime": {"focusTimeProperties": {"chatStatus": "doNotDisturb"}},
    "workingLocation": {
        "workingLocationProperties": {"type": "homeOffice", "homeOffice": {}},
        "visibility": "public",
        "transparency": "transparent",
    },
}
_RESPONSE_STATUSES = {"needsAction", "declined", "tentative", "accepted"}
_MAX_REMINDER_MINUTES = 40320
_MAX_REMINDER_OVERRIDES = 5
_COLOR_IDS = {str(number) for number in range(1, 12)}


@dataclass(frozen=True)
class EventTimes:
    """An event's span in UTC; all-day events span midnight to midnight in the calendar's zone."""

    start: datetime
    end: datetime
    all_day: bool


def new_event_id() -> str:
    return "".join(secrets.choice(_BASE32HEX) for _ in range(26))


def check_event_id(event_id: str) -> None:
    if not _EVENT_ID.fullmatch(event_id):
        raise invalid("Invalid resource id value.", location="id")


def zone(name: str, location: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"Invalid time zone definition for {location}.", location=location) from None


def event_times(resource: dict[str, Any], calendar_zone: str) -> EventTimes:
    """Check start/end the way Google does and return the span they cover."""
    start, start_all_day = _moment(resource.get("start"), "start", calendar_zone)
    end, end_all_day = _moment(resource.get("end"), "end", calendar_zone)
    if start_all_day != end_all_day:
        raise invalid("Start and end times must either both be date or both be dateTime.", location="end")
    if end < start or (start_all_day and end == start):
        raise time_range_empty(location="end")
    return EventTimes(start, end, start_all_day)


def _moment(value: object, location: str, calendar_zone: str) -> tuple[datetime, bool]:
    if not isinstance(value, dict) or not (value.get("date") or value.get("dateTime")):
        raise required(f"Missing {location} time.", location=location)
    if value.get("date") and value.get("dateTime"):
        raise invalid(f"Only one of date and dateTime may be set for {location}.", location=location)
    zone_name = value.get("timeZone")
    tz = zone(zone_name, f"{location} time") if zone_name else None
    if value.get("date"):
        day = date.fromisoformat(value["date"])
        return datetime.combine(day, time(), tz or zone(calendar_zone, location)).astimezone(UTC), True
    moment = parse_date_time(value["dateTime"], location=f"{location}.dateTime", offset_required=False)
    if moment.tzinfo is None:
        if tz is None:
            raise required(f"Missing time zone definition for {location} time.", location=location)
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC), False


def normalize_times(resource: dict[str, Any], times: EventTimes) -> None:
    """Google always answers dateTime with an offset, even when the client sent a bare local time."""
    for key, moment in (("start", times.start), ("end", times.end)):
        value = resource[key]
        if "dateTime" in value and not _HAS_OFFSET.search(value["dateTime"]):
            tz = ZoneInfo(value["timeZone"])
            value["dateTime"] = moment.astimezone(tz).isoformat()


def minimal_cancelled(resource: dict[str, Any]) -> dict[str, Any]:
    """How a deleted event appears in list results: its identity and status; a cancelled instance of a
    series also keeps recurringEventId and originalStartTime (the discovery document's `status` text)."""
    keys = ("kind", "etag", "id", "status", "updated", "recurringEventId", "originalStartTime")
    return {key: resource[key] for key in keys if key in resource}


def check_event_fields(resource: dict[str, Any], times: EventTimes) -> None:
    """Value rules the schema leaves to prose: enums, reminder bounds, type restrictions."""
    _check_choice(resource, "status", _STATUSES)
    _check_choice(resource, "transparency", _TRANSPARENCY)
    _check_choice(resource, "visibility", _VISIBILITY)
    _check_choice(resource, "eventType", _EVENT_TYPES)
    _check_choice(resource, "colorId", _COLOR_IDS)
    if resource.get("eventType") in _TIMED_ONLY_TYPES and times.all_day:
        raise invalid(f"A {resource['eventType']} event cannot be an all-day event.", location="eventType")
    _check_status_event(resource, times)
    _check_reminders(resource.get("reminders"))
    for index, attendee in enumerate(resource.get("attendees") or []):
        if not attendee.get("email") and not attendee.get("id"):
            raise required("Missing attendee email.", location=f"attendees[{index}].email")
        _check_choice(attendee, "responseStatus", _RESPONSE_STATUSES)


def _check_status_event(resource: dict[str, Any], times: EventTimes) -> None:
    """Focus time, out of office and working location: the required fields their guides list."""
    kind = resource.get("eventType", "default")
    properties = _TYPE_PROPERTIES.get(kind)
    if properties is None:
        return
    if resource.get(properties) is None:
        raise required(f"Missing {properties} for a {kind} event.", location=properties)
    if kind != "workingLocation":
        return
    if resource.get("visibility") != "public":
        raise invalid("A working location event must have visibility public.", location="visibility")
    if resource.get("transparency") != "transparent":
        raise invalid("A working location event must have transparency transparent.", location="transparency")
    if not resource[properties].get("type"):
        raise required("Missing workingLocationProperties.type.", location="workingLocationProperties.type")
    if times.all_day:
        days = date.fromisoformat(resource["end"]["date"]) - date.fromisoformat(resource["start"]["date"])
        if days != timedelta(days=1):
            raise invalid("An all-day working location event must span exactly one day.", location="end")


def with_ui_defaults(resource: dict[str, Any]) -> dict[str, Any]:
    """The event as the Calendar UI would save it: status events get their type's required fields."""
    for key, value in _UI_DEFAULTS.get(resource.get("eventType", "default"), {}).items():
        resource.setdefault(key, copy.deepcopy(value))
    return resource


def _check_choice(resource: dict[str, Any], key: str, allowed: set[str]) -> None:
    value = resource.get(key)
    if value is not None and value not in allowed:
        raise invalid(f"Invalid value for: {key}", location=key)


def _check_reminders(reminders: dict[str, Any] | None) -> None:
    if not reminders:
        return
    overrides = reminders.get("overrides") or []
    if reminders.get("useDefault") and overrides:
        raise ApiError(
            400,
            "cannotUseDefaultRemindersAndSpecifyOverride",
            "Cannot specify both default reminders and overrides at the same time.",
        )
    if len(overrides) > _MAX_REMINDER_OVERRIDES:
        raise invalid("The maximum number of override reminders is 5.", location="reminders.overrides")
    for index, override in enumerate(overrides):
        location = f"reminders.overrides[{index}]"
        if override.get("method") not in ("email", "popup"):
            raise required("Missing reminder method.", location=f"{location}.method")
        minutes = override.get("minutes")
        if minutes is None:
            raise required("Missing reminder minutes.", location=f"{location}.minutes")
        if not 0 <= minutes <= _MAX_REMINDER_MINUTES:
            raise invalid("Invalid reminder minutes value.", location=f"{location}.minutes")


def decorate(resource: dict[str, Any], owner: str, *, etag: str, updated: str) -> None:
    """Fill the read-only fields Google sets on every write."""
    resource.setdefault("kind", "calendar#event")
    resource.setdefault("status", "confirmed")
    resource.setdefault("eventType", "default")
    resource.setdefault("sequence", 0)
    resource.setdefault("reminders", {"useDefault": True})
    resource.setdefault("created", updated)
    resource["iCalUID"] = f"{resource['id']}@google.com"
    resource["htmlLink"] = f"https://www.google.com/calendar/event?eid={resource['id']}"
    resource["creator"] = {"email": owner, "self": True}
    resource.setdefault("organizer", {"email": owner, "self": True})
    resource["organizer"]["self"] = resource["organizer"].get("email") == owner
    for attendee in resource.get("attendees") or []:
        attendee.setdefault("responseStatus", "needsAction")
        if attendee.get("email") == owner:
            attendee["self"] = True
        else:
            attendee.pop("self", None)
    resource["etag"] = etag
    resource["updated"] = updated


def declined_by_owner(resource: dict[str, Any]) -> bool:
    return any(
        attendee.get("self") and attendee.get("responseStatus") == "declined"
        for attendee in resource.get("attendees") or []
    )


def is_busy(resource: dict[str, Any]) -> bool:
    """Google's free/busy rule: opaque, not cancelled, not declined; OOO and focus time count.

    All-day events count too unless marked free (the Calendar UI marks new all-day events free, the API
    does not), and working-location entries never block time.
    """
    return (
        resource.get("status") != "cancelled"
        and resource.get("transparency", "opaque") == "opaque"
        and resource.get("eventType") != "workingLocation"
        and not declined_by_owner(resource)
    )


def timestamp(moment: datetime) -> str:
    """Google's style: UTC with milliseconds, e.g. 2026-01-05T09:00:00.000Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def all_day_span(start: datetime, end: datetime, calendar_zone: str) -> tuple[dict[str, str], dict[str, str]]:
    """The all-day start/end covering a timed span, as the Calendar UI makes it."""
    tz = ZoneInfo(calendar_zone)
    first = start.astimezone(tz).date()
    last_moment = end.astimezone(tz)
    last = last_moment.date() if last_moment.time() != time() else last_moment.date() - timedelta(days=1)
    last = max(first, last)
    return {"date": first.isoformat()}, {"date": (last + timedelta(days=1)).isoformat()}
