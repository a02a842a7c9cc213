"""Out-of-office periods from Google Calendar: `events.list` with `eventTypes=outOfOffice`.

Free/busy reports an out-of-office event as busy like any meeting, so the product asks for those events
by type (the `eventTypes` parameter of events.list, Calendar API v3 reference; out-of-office events are
timed, never all-day: developers.google.com/workspace/calendar/api/guides/calendar-status). The adapter
sends one events.list per user, 50 to an HTTP batch like its other per-user calls; this module builds the
query and reads the answers, so the adapter itself only gains a short method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from maintenance_windows.domain.intervals import Interval, parse_rfc3339, to_rfc3339
from maintenance_windows.ports.calendar import AwayResult, CalendarError

OUT_OF_OFFICE = "outOfOffice"


def out_of_office_query(time_min: datetime, time_max: datetime, page_size: int) -> dict[str, Any]:
    """events.list parameters: the user's out-of-office events overlapping the range, one row per instance."""
    return {
        "calendarId": "primary",
        "eventTypes": [OUT_OF_OFFICE],
        "singleEvents": True,
        "timeMin": to_rfc3339(time_min),
        "timeMax": to_rfc3339(time_max),
        "maxResults": page_size,
    }


def away_periods(pages: Iterable[Mapping[str, Any]]) -> tuple[Interval, ...]:
    """The periods of the listed events that are confirmed and timed (cancelled instances are skipped)."""
    periods: list[Interval] = []
    for page in pages:
        for item in page.get("items") or []:
            if item.get("status") == "cancelled" or item.get("eventType", "default") != OUT_OF_OFFICE:
                continue
            start, end = (item.get("start") or {}).get("dateTime"), (item.get("end") or {}).get("dateTime")
            if start and end:
                periods.append(Interval(parse_rfc3339(start), parse_rfc3339(end)))
    return tuple(sorted(periods))


def collect(
    emails: Sequence[str],
    first_pages: Mapping[str, Mapping[str, Any] | CalendarError],
    more_pages: Callable[[str, str], Iterable[Mapping[str, Any]]],
) -> dict[str, AwayResult]:
    """Each user's result from their first page (or its error); `more_pages(email, page_token)` reads the
    rest for the rare user whose absences span pages."""
    results: dict[str, AwayResult] = {}
    for email in emails:
        page = first_pages[email]
        if isinstance(page, CalendarError):
            results[email] = AwayResult(error=page.reason or str(page))
            continue
        pages: list[Mapping[str, Any]] = [page]
        token = page.get("nextPageToken")
        if token:
            try:
                pages.extend(more_pages(email, str(token)))
            except CalendarError as problem:
                results[email] = AwayResult(error=problem.reason or str(problem))
                continue
        results[email] = AwayResult(away_periods(pages))
    return results
