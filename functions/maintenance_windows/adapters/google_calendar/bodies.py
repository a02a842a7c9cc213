"""What the adapter sends: event bodies, watch and free/busy requests, and the events.list queries.

Our events are single events. Listing with singleEvents=true would expand every recurring series on the
calendar into its instances (a weekly meeting with no end date is one item per week for years); we list
with singleEvents=false, so a series is one item, and the same value on the full and the incremental
syncs, as Google asks of a sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.domain.intervals import to_rfc3339
from maintenance_windows.ports.calendar import EventSpec, WatchRequest

PRIMARY = "primary"


def full_sync_query(now: datetime | None = None) -> dict[str, Any]:
    return {
        "calendarId": PRIMARY,
        "singleEvents": False,
        "showDeleted": True,
        "timeMin": to_rfc3339(now or datetime.now(UTC)),
    }


def incremental_sync_query(sync_token: str) -> dict[str, Any]:
    return {"calendarId": PRIMARY, "singleEvents": False, "showDeleted": True, "syncToken": sync_token}


def recent_events_query(time_min: datetime, time_max: datetime) -> dict[str, Any]:
    # Bounded on both sides, so expanding series into instances is what we want here: a working day is
    # made of the meetings that happened, recurring or not.
    return {
        "calendarId": PRIMARY,
        "singleEvents": True,
        "orderBy": "startTime",
        "timeMin": to_rfc3339(time_min),
        "timeMax": to_rfc3339(time_max),
    }


def event_body(spec: EventSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": spec.event_id,
        "start": event_time(spec.start, spec.time_zone),
        "end": event_time(spec.end, spec.time_zone),
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
    return body


def patch_body(
    *,
    start: datetime | None,
    end: datetime | None,
    time_zone: str | None,
    summary: str | None,
    description_html: str | None,
    private_properties: Mapping[str, str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if start is not None:
        body["start"] = event_time(start, time_zone)
    if end is not None:
        body["end"] = event_time(end, time_zone)
    if summary is not None:
        body["summary"] = summary
    if description_html is not None:
        body["description"] = description_html
    if private_properties is not None:
        body["extendedProperties"] = {"private": dict(private_properties)}
    return body


def watch_body(request: WatchRequest) -> dict[str, Any]:
    return {
        "id": request.channel_id,
        "type": "web_hook",
        "address": request.address,
        "token": request.token,
        "params": {"ttl": str(request.ttl_seconds)},
    }


def free_busy_body(group: Sequence[str], time_min: datetime, time_max: datetime) -> dict[str, Any]:
    return {
        "timeMin": to_rfc3339(time_min),
        "timeMax": to_rfc3339(time_max),
        "items": [{"id": email} for email in group],
    }


def event_time(moment: datetime, time_zone: str | None) -> dict[str, str]:
    if time_zone is None:
        return {"dateTime": to_rfc3339(moment)}
    local = moment.astimezone(ZoneInfo(time_zone))
    return {"dateTime": local.isoformat(), "timeZone": time_zone}
