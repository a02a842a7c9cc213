"""Graph JSON to and from the port's types: events, schedules, time zones, and our tags on events.

Our events carry two single-value extended properties (https://learn.microsoft.com/en-us/graph/api/resources/
extended-properties-overview): MW_EVENT_ID, the port's event id (filterable: the lookup from our id to
Graph's), and MW_TAGS, the private properties as JSON (how the follower recognises our events and their
revision). Graph chooses event ids itself; the port keeps ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import DailyHours, Weekday
from maintenance_windows.ports.calendar import CalendarEvent, EventSpec

_NAMESPACE = "{6d3c5b8e-2f4a-4e57-9b1d-8a0f3c7e6b21}"
MW_EVENT_ID = f"String {_NAMESPACE} Name mw_event_id"
MW_TAGS = f"String {_NAMESPACE} Name mw_tags"
EXPAND_TAGS = f"singleValueExtendedProperties($filter=id eq '{MW_TAGS}' or id eq '{MW_EVENT_ID}')"
CATEGORY = "Maintenance window"
#: getSchedule statuses that make a person unavailable; workingElsewhere is a place, not a meeting.
BUSY_STATUSES = frozenset({"busy", "tentative", "oof"})


def graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def parse_time(value: Mapping[str, Any] | None) -> datetime | None:
    if not value or "dateTime" not in value:
        return None
    text = str(value["dateTime"]).rstrip("Z")
    whole = text.partition(".")[0]
    naive = datetime.fromisoformat(whole)
    zone_name = str(value.get("timeZone") or "UTC")
    return naive.replace(tzinfo=UTC if zone_name == "UTC" else ZoneInfo(iana_zone(zone_name) or "UTC")).astimezone(UTC)


def iana_zone(name: str) -> str | None:
    """An IANA zone for a Windows zone name (CLDR windowsZones through Babel), or an IANA name kept as is."""
    from babel.core import get_global

    mapped = get_global("windows_zone_mapping").get(name)
    if mapped:
        return str(mapped)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def event_body(spec: EventSpec) -> dict[str, Any]:
    """POST /users/{id}/events: transactionId is the port's event id (derived from window and booking)."""
    return {
        "subject": spec.summary,
        "body": {"contentType": "html", "content": spec.description_html},
        "start": graph_time(spec.start),
        "end": graph_time(spec.end),
        "showAs": "busy",
        "isReminderOn": bool(spec.popup_reminders_minutes),
        "reminderMinutesBeforeStart": min(spec.popup_reminders_minutes, default=15),
        "categories": [CATEGORY],
        "transactionId": spec.event_id,
        "singleValueExtendedProperties": tag_properties(spec.event_id, spec.private_properties),
    }


def tag_properties(event_id: str, tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"id": MW_EVENT_ID, "value": event_id}, {"id": MW_TAGS, "value": json.dumps(dict(tags), sort_keys=True)}]


def tags_of(event: Mapping[str, Any]) -> tuple[str | None, dict[str, str] | None]:
    """(our event id, our private properties) from an expanded event; (None, None) for someone else's."""
    our_id, tags = None, None
    for prop in event.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == MW_EVENT_ID.lower():
            our_id = str(prop.get("value"))
        elif str(prop.get("id", "")).lower() == MW_TAGS.lower():
            try:
                loaded = json.loads(prop.get("value") or "{}")
            except ValueError:
                loaded = {}
            tags = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    return our_id or event.get("transactionId"), tags


def to_event(event: Mapping[str, Any], our_id: str | None, tags: Mapping[str, str] | None) -> CalendarEvent:
    all_day = bool(event.get("isAllDay"))
    declined = (event.get("responseStatus") or {}).get("response") == "declined"
    return CalendarEvent(
        event_id=our_id or str(event["id"]),
        status="cancelled"
        if event.get("isCancelled")
        else ("tentative" if event.get("showAs") == "tentative" else "confirmed"),
        start=None if all_day else parse_time(event.get("start")),
        end=None if all_day else parse_time(event.get("end")),
        all_day=all_day,
        etag=event.get("changeKey"),
        updated=_instant(event.get("lastModifiedDateTime")),
        private_properties=dict(tags or {}),
        transparent=event.get("showAs") in ("free", "workingElsewhere"),
        declined_by_owner=declined,
        summary=str(event.get("subject") or ""),
    )


def gone(our_id: str) -> CalendarEvent:
    return CalendarEvent(our_id, "cancelled", None, None, all_day=False, etag=None, updated=None)


def schedule_items(info: Mapping[str, Any], statuses: Iterable[str]) -> list[Interval]:
    wanted = frozenset(statuses)
    found = []
    for item in info.get("scheduleItems") or []:
        start, end = parse_time(item.get("start")), parse_time(item.get("end"))
        if item.get("status") in wanted and start and end and end > start:
            found.append(Interval(start, end))
    return sorted(found)


def merged_within(intervals: Iterable[Interval], low: datetime, high: datetime) -> tuple[Interval, ...]:
    merged: list[tuple[datetime, datetime]] = []
    for block in sorted(intervals):
        start, end = max(block.start, low), min(block.end, high)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(Interval(start, end) for start, end in merged)


def _instant(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


_WEEKDAY_NAMES: dict[str, Weekday] = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


def working_week(info: Mapping[str, Any]) -> tuple[dict[Weekday, DailyHours] | None, str | None]:
    """scheduleInformation.workingHours as weekday → hours and its IANA zone; (None, None) when absent or
    unreadable (a custom zone without a Windows name, an overnight shift)."""
    stated = info.get("workingHours")
    if not isinstance(stated, Mapping):
        return None, None
    zone_name = (stated.get("timeZone") or {}).get("name") if isinstance(stated.get("timeZone"), Mapping) else None
    zone = iana_zone(str(zone_name)) if zone_name else None
    try:
        start, end = _clock(stated.get("startTime")), _clock(stated.get("endTime"))
    except ValueError:
        return None, None
    if zone is None or start is None or end is None or end <= start:
        return None, None
    days = [_WEEKDAY_NAMES.get(str(day).lower()) for day in stated.get("daysOfWeek") or []]
    return {day: DailyHours(start=start, end=end) for day in days if day is not None}, zone


def _clock(text: Any) -> time | None:
    """ "08:00:00.0000000" → 08:00."""
    if not isinstance(text, str) or not text:
        return None
    return time.fromisoformat(text.partition(".")[0])
