"""Calendar v3 resources read into the port's types: events, free/busy entries, watch channels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from maintenance_windows.domain.intervals import Interval, parse_rfc3339
from maintenance_windows.ports.calendar import BusyResult, CalendarEvent, Channel


def to_event(resource: Mapping[str, Any]) -> CalendarEvent:
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


def busy_result(entry: Mapping[str, Any] | None) -> BusyResult:
    if entry is None:
        return BusyResult(error="missing")
    errors = entry.get("errors") or []
    if errors:
        return BusyResult(error=str(errors[0].get("reason", "unknown")))
    busy = tuple(
        Interval(parse_rfc3339(block["start"]), parse_rfc3339(block["end"])) for block in entry.get("busy", [])
    )
    return BusyResult(busy=busy)


def channel(answer: Mapping[str, Any]) -> Channel:
    expiration = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
    return Channel(channel_id=answer["id"], resource_id=answer["resourceId"], expiration=expiration)
