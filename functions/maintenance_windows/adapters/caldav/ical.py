"""Our events as iCalendar, and any event read back as the port's CalendarEvent: the icalendar library.

What we write (RFC 5545): one VEVENT, UID `<event id>@maintenance-windows` (stable, so a retried create
names the same event), DTSTART/DTEND in the person's zone with its VTIMEZONE, TRANSP:OPAQUE,
STATUS:CONFIRMED, a DISPLAY alarm per reminder, the description as text with the HTML beside it
(X-ALT-DESC;FMTTYPE=text/html, read by Outlook and Thunderbird), and our tags in X-MW-TAGS, form-encoded
(`mw_window_id=w-1&mw_revision=0`): an X- property survives every client's edit (RFC 5545 3.8.8.2 asks
clients to keep what they do not know), but not every server keeps a comma in one (Radicale's vobject
reads an unknown property's commas as a list separator, and writes back the first item only).

What counts as free: TRANSP:TRANSPARENT, STATUS:CANCELLED, and an invitation the person declined
(their ATTENDEE's PARTSTAT=DECLINED). Out of office has no standard marking in CalDAV; we recognise
X-MICROSOFT-CDO-BUSYSTATUS:OOF, which Outlook and Exchange-compatible clients write (docs/caldav.md).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from maintenance_windows.ports.calendar import CalendarEvent, EventSpec

PRODID = "-//Maintenance windows for Fleet//EN"
UID_DOMAIN = "maintenance-windows"
TAGS = "X-MW-TAGS"
OUT_OF_OFFICE = ("X-MICROSOFT-CDO-BUSYSTATUS", "OOF")


class NotICalendar(ValueError):
    """Calendar data we cannot read."""


def event_text(spec: EventSpec) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{spec.event_id}@{UID_DOMAIN}")
    event.add("dtstamp", datetime.now(UTC))
    zone = _zone(spec.time_zone)
    event.add("dtstart", spec.start.astimezone(zone))
    event.add("dtend", spec.end.astimezone(zone))
    event.add("summary", spec.summary)
    event.add("description", plain_text(spec.description_html))
    event.add("x-alt-desc", spec.description_html, parameters={"FMTTYPE": "text/html"})
    event.add("transp", "OPAQUE")
    event.add("status", "CONFIRMED")
    event.add("sequence", 0)
    event.add(TAGS, _encoded(spec.private_properties))
    for minutes in spec.popup_reminders_minutes:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", spec.summary)
        alarm.add("trigger", timedelta(minutes=-minutes))
        event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def patched_text(
    original: str,
    *,
    start: datetime | None,
    end: datetime | None,
    time_zone: str | None,
    summary: str | None,
    description_html: str | None,
    tags: Mapping[str, str] | None,
) -> bytes:
    """The stored event with our changes laid over it: whatever else a client keeps there stays."""
    calendar = _calendar(original)
    event = _first_event(calendar)
    zone = _zone(time_zone) if time_zone else _zone_of(event.get("dtstart"))
    for name, value in (("dtstart", start), ("dtend", end)):
        if value is not None:
            event.pop(name, None)
            event.add(name, value.astimezone(zone))
    if summary is not None:
        event.pop("summary", None)
        event.add("summary", summary)
    if description_html is not None:
        for name in ("description", "x-alt-desc"):
            event.pop(name, None)
        event.add("description", plain_text(description_html))
        event.add("x-alt-desc", description_html, parameters={"FMTTYPE": "text/html"})
    if tags is not None:
        event.pop(TAGS, None)
        event.add(TAGS, _encoded(tags))
    sequence = int(event.get("sequence", 0)) + 1
    event.pop("sequence", None)
    event.add("sequence", sequence)
    event.pop("dtstamp", None)
    event.add("dtstamp", datetime.now(UTC))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


# ---- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """One event instance as busy time sees it."""

    start: datetime | None
    end: datetime | None
    all_day_start: date | None
    busy: bool
    away: bool


def to_event(text: str, event_id: str, etag: str | None, owner: str) -> CalendarEvent:
    event = _first_event(_calendar(text))
    return _port_event(event, event_id, etag, owner)


def tags_of(text: str) -> dict[str, str]:
    return _tags(_first_event(_calendar(text)))


def occurrences(text: str, owner: str) -> Iterator[Occurrence]:
    """Every VEVENT of an (expanded) calendar object; a recurring master without expansion counts once."""
    for event in _calendar(text).walk("VEVENT"):
        start, end, all_day = _span(event)
        busy = not (
            _upper(event.get("transp")) == "TRANSPARENT"
            or _upper(event.get("status")) == "CANCELLED"
            or _declined_by(event, owner)
        )
        away = busy and _upper(event.get(OUT_OF_OFFICE[0])) == OUT_OF_OFFICE[1]
        day = _date(event.get("dtstart")) if all_day else None
        yield Occurrence(start, end, day, busy, away)


def events_of(text: str, event_id: str, etag: str | None, owner: str) -> Iterator[CalendarEvent]:
    """Each VEVENT instance of an (expanded) calendar object as a port event of the resource's id."""
    for event in _calendar(text).walk("VEVENT"):
        yield _port_event(event, event_id, etag, owner)


def free_busy_periods(text: str) -> Iterator[tuple[datetime, datetime, str]]:
    """(start, end, FBTYPE) of a VFREEBUSY answer (RFC 5545 3.8.2.6; FBTYPE defaults to BUSY)."""
    for component in _calendar(text).walk("VFREEBUSY"):
        lines = component.get("freebusy", [])
        for line in lines if isinstance(lines, list) else [lines]:
            kind = str(line.params.get("FBTYPE", "BUSY")).upper()
            for period in _periods(line):
                yield period[0], period[1], kind


def zone_name(text: str) -> str | None:
    """The TZID of a calendar-timezone property (a VCALENDAR holding one VTIMEZONE), as an IANA name."""
    try:
        calendar = _calendar(text)
    except NotICalendar:
        return None
    for timezone in calendar.walk("VTIMEZONE"):
        for candidate in (str(timezone.get("tzid", "")), str(timezone.get("x-lic-location", ""))):
            name = _iana(candidate)
            if name:
                return name
    return None


def plain_text(fragment: str) -> str:
    collector = _Text()
    collector.feed(fragment)
    collector.close()
    lines = [" ".join(line.split()) for line in "".join(collector.parts).splitlines()]
    return "\n".join(line for line in lines if line).strip()


# ---- internals ------------------------------------------------------------------------------------------


class _Text(HTMLParser):
    """Text of an HTML fragment, one line per block; the stdlib parser, as for any untrusted markup."""

    BREAKS = frozenset({"p", "br", "li", "div", "tr", "h1", "h2", "h3", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(html.unescape(data))


def _calendar(text: str) -> icalendar.Calendar:
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as bad:
        raise NotICalendar(f"unreadable calendar data: {type(bad).__name__}") from None
    if not isinstance(parsed, icalendar.Calendar):
        raise NotICalendar("calendar data is not one VCALENDAR")
    return parsed


def _first_event(calendar: icalendar.Calendar) -> icalendar.Component:
    events = calendar.walk("VEVENT")
    if not events:
        raise NotICalendar("calendar object has no VEVENT")
    # A recurring series keeps its master first; overrides (RECURRENCE-ID) follow it.
    masters = [event for event in events if "recurrence-id" not in event]
    return masters[0] if masters else events[0]


def _port_event(event: icalendar.Component, event_id: str, etag: str | None, owner: str) -> CalendarEvent:
    start, end, all_day = _span(event)
    status = _upper(event.get("status")) or "CONFIRMED"
    modified = event.get("last-modified") or event.get("dtstamp")
    updated = modified.dt if modified is not None and isinstance(modified.dt, datetime) else None
    return CalendarEvent(
        event_id=event_id,
        status={"CANCELLED": "cancelled", "TENTATIVE": "tentative"}.get(status, "confirmed"),
        start=start,
        end=end,
        all_day=all_day,
        etag=etag,
        updated=updated.astimezone(UTC) if updated and updated.tzinfo else updated,
        private_properties=_tags(event),
        transparent=_upper(event.get("transp")) == "TRANSPARENT",
        declined_by_owner=_declined_by(event, owner),
        summary=str(event.get("summary", "")),
    )


def _span(event: icalendar.Component) -> tuple[datetime | None, datetime | None, bool]:
    """(start, end) in UTC for a timed event; (None, None, True) for a DATE-valued (all-day) one."""
    begin = event.get("dtstart")
    if begin is None:
        return None, None, False
    if not isinstance(begin.dt, datetime):
        return None, None, True
    start = _aware(begin.dt)
    finish = event.get("dtend")
    if finish is not None and isinstance(finish.dt, datetime):
        end = _aware(finish.dt)
    elif event.get("duration") is not None:
        end = start + event.get("duration").dt
    else:
        end = start  # RFC 5545 3.6.1: no DTEND nor DURATION on a timed event ends at its start
    return start, end, False


def _aware(moment: datetime) -> datetime:
    # A floating time (no zone) is read as UTC: the server expands and compares it that way too.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _date(prop: Any) -> date | None:
    value = getattr(prop, "dt", None)
    return value if isinstance(value, date) and not isinstance(value, datetime) else None


def _declined_by(event: icalendar.Component, owner: str) -> bool:
    """The person is an attendee who declined; an organiser's own event is never declined by them."""
    attendees = event.get("attendee", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).lower().removeprefix("mailto:")
        if address == owner.lower() and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return True
    return False


def _tags(event: icalendar.Component) -> dict[str, str]:
    raw = event.get(TAGS)
    return dict(parse_qsl(str(raw), keep_blank_values=True)) if raw is not None else {}


def _encoded(tags: Mapping[str, str]) -> str:
    return urlencode(sorted(tags.items()))


def _periods(line: Any) -> Iterator[tuple[datetime, datetime]]:
    for period in getattr(line, "dts", None) or [line]:
        value = getattr(period, "dt", period)
        if isinstance(value, tuple) and len(value) == 2:
            start, other = value
            end = start + other if isinstance(other, timedelta) else other
            yield _aware(start), _aware(end)


def _upper(prop: Any) -> str:
    return str(prop).strip().upper() if prop is not None else ""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _zone_of(prop: Any) -> ZoneInfo:
    value = getattr(prop, "dt", None)
    key = getattr(getattr(value, "tzinfo", None), "key", None)
    return _zone(key) if isinstance(key, str) else ZoneInfo("UTC")


def _iana(candidate: str) -> str | None:
    """An IANA name from a TZID, also from the `/vendor/.../Europe/Paris` form some servers write."""
    name = candidate.strip()
    if not name:
        return None
    pieces = name.strip("/").split("/")
    for start in range(len(pieces)):
        guess = "/".join(pieces[start:])
        try:
            ZoneInfo(guess)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return guess
    return None
