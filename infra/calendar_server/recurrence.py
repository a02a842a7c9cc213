"""Recurring events: expanding a series into instances, as Calendar does, with python-dateutil's rrule.

The discovery document's rules: `recurrence` holds RRULE, EXRULE, RDATE and EXDATE lines (RFC 5545), never
DTSTART/DTEND; a recurring event's start/end need a `timeZone`, "the time zone in which the recurrence is
expanded"; an instance carries `recurringEventId` and `originalStartTime`, which "uniquely identifies the instance
within the recurring event series even if the instance was moved". Instance ids follow Google's form:
`{seriesId}_{YYYYMMDD}T{HHMMSS}Z` (UTC) for timed series, `{seriesId}_{YYYYMMDD}` for all-day ones.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from infra.calendar_server.errors import invalid, required

_LINE = re.compile(r"^(RRULE|EXRULE|RDATE|EXDATE)[:;]", re.IGNORECASE)
_INSTANCE_ID = re.compile(r"^(?P<series>[a-v0-9]{5,1024})_(?P<day>\d{8})(?:T(?P<clock>\d{6})Z)?$")


@dataclass(frozen=True)
class Occurrence:
    """One instance of a series: where the rule puts it (original) and the span it covers, in UTC."""

    original_start: datetime
    start: datetime
    end: datetime
    all_day: bool

    @property
    def suffix(self) -> str:
        return (
            self.original_start.strftime("%Y%m%d") if self.all_day else self.original_start.strftime("%Y%m%dT%H%M%SZ")
        )


class Series:
    """A recurring event's rule set, anchored at its first instance."""

    def __init__(self, resource: dict[str, Any], start: datetime, end: datetime, all_day: bool, zone: str) -> None:
        lines = resource.get("recurrence") or []
        if not all(isinstance(line, str) and _LINE.match(line) for line in lines):
            raise invalid("Invalid recurrence rule.", location="recurrence")
        self.all_day = all_day
        self.duration = end - start
        if all_day:
            # All-day series recur on dates; each date's span is midnight to midnight in the calendar's zone.
            self.zone = ZoneInfo(zone)
            anchor = datetime.combine(date.fromisoformat(resource["start"]["date"]), time())
        else:
            zone_name = (resource.get("start") or {}).get("timeZone")
            if not zone_name:
                raise required("Missing time zone definition for start time.", location="start.timeZone")
            self.zone = ZoneInfo(zone_name)
            anchor = start.astimezone(self.zone)
        self._anchor = anchor
        try:
            rules = rrulestr("\n".join(lines), dtstart=anchor, forceset=True, tzids=ZoneInfo, cache=True)
        except (ValueError, TypeError, KeyError) as error:
            raise invalid(f"Invalid recurrence rule: {error}", location="recurrence") from None
        assert isinstance(rules, rruleset)
        self._rules = rules

    def occurrences(self, after: datetime | None, before: datetime) -> Iterator[Occurrence]:
        """Instances overlapping (after, before), in order; `before` bounds endless series."""
        lower = (after - self.duration) if after is not None else None
        for local_start in self._rules.xafter(self._local(lower) if lower else self._anchor, inc=True):
            occurrence = self._occurrence(local_start)
            if occurrence.start >= before:
                return
            if after is None or occurrence.end > after:
                yield occurrence

    def occurrence_at(self, original_start: datetime) -> Occurrence | None:
        """The instance the rule puts at `original_start` (UTC; for all-day series, UTC midnight of the date)."""
        local = datetime.combine(original_start.date(), time()) if self.all_day else self._local(original_start)
        return self._occurrence(local) if local in self._rules.between(local, local, inc=True) else None

    def _local(self, moment: datetime) -> datetime:
        if self.all_day:
            return datetime.combine(moment.astimezone(self.zone).date(), time())
        return moment.astimezone(self.zone)

    def _occurrence(self, local_start: datetime) -> Occurrence:
        if self.all_day:
            day = local_start.date()
            start = datetime.combine(day, time(), self.zone).astimezone(UTC)
            end = datetime.combine(day + self.duration_days, time(), self.zone).astimezone(UTC)
            return Occurrence(datetime.combine(day, time(), UTC), start, end, True)
        start = local_start.astimezone(UTC)
        return Occurrence(start, start, start + self.duration, False)

    @property
    def duration_days(self) -> timedelta:
        return timedelta(days=max(1, round(self.duration / timedelta(days=1))))


def parse_instance_id(event_id: str) -> tuple[str, datetime] | None:
    """(series id, original start in UTC) for an instance id, None for any other id."""
    found = _INSTANCE_ID.fullmatch(event_id)
    if found is None:
        return None
    clock = found["clock"] or "000000"
    try:
        moment = datetime.strptime(found["day"] + clock, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return found["series"], moment


def original_start_field(occurrence: Occurrence, series: Series) -> dict[str, str]:
    if occurrence.all_day:
        return {"date": occurrence.original_start.date().isoformat()}
    return {"dateTime": occurrence.original_start.astimezone(series.zone).isoformat(), "timeZone": str(series.zone)}


def instance_resource(master: dict[str, Any], occurrence: Occurrence, series: Series) -> dict[str, Any]:
    """An instance as events.list(singleEvents=true) shows it: the series' fields at this occurrence."""
    instance = copy.deepcopy(master)
    instance.pop("recurrence", None)
    instance["id"] = f"{master['id']}_{occurrence.suffix}"
    instance["recurringEventId"] = master["id"]
    instance["originalStartTime"] = original_start_field(occurrence, series)
    if occurrence.all_day:
        instance["start"] = {"date": occurrence.start.astimezone(series.zone).date().isoformat()}
        instance["end"] = {"date": occurrence.end.astimezone(series.zone).date().isoformat()}
    else:
        zone_name = str(series.zone)
        instance["start"] = {"dateTime": occurrence.start.astimezone(series.zone).isoformat(), "timeZone": zone_name}
        instance["end"] = {"dateTime": occurrence.end.astimezone(series.zone).isoformat(), "timeZone": zone_name}
    return instance
