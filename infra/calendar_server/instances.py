"""One user's stored events seen as Calendar shows them: single events, series masters, their instances.

What is stored: single events, series masters (with `recurrence`), and exceptions (a modified or cancelled
instance, stored under its instance id with `recurringEventId` and `originalStartTime`). What is shown:

- `singleEvents=false`: the stored resources; a series master once, matching a time range if any instance
  does; cancelled exceptions even without showDeleted (the discovery document's showDeleted text);
- `singleEvents=true`: single events and every instance, an exception replacing the instance it modifies,
  cancelled exceptions only with showDeleted; never the master itself;
- free/busy: every busy instance, at its exception's time if moved, nothing if cancelled or declined.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infra.calendar_server import events as ev
from infra.calendar_server.recurrence import Occurrence, Series, instance_resource, parse_instance_id


@dataclass
class StoredEvent:
    resource: dict[str, Any]
    times: ev.EventTimes
    change_seq: int
    series: Series | None = None
    #: An instance made up from its series (not stored yet): changing it stores it as an exception.
    virtual: bool = False

    @property
    def is_exception(self) -> bool:
        return bool(self.resource.get("recurringEventId"))


@dataclass(frozen=True)
class Row:
    """One item of a listing, with what ordering and filtering need."""

    resource: dict[str, Any]
    start: datetime
    end: datetime
    change_seq: int
    cancelled_exception: bool = False


def resolve(events: Mapping[str, StoredEvent], event_id: str) -> StoredEvent | None:
    """The stored event, or the instance its id names when the series has one at that time."""
    stored = events.get(event_id)
    if stored is not None:
        return stored
    parsed = parse_instance_id(event_id)
    if parsed is None:
        return None
    master = events.get(parsed[0])
    if master is None or master.series is None or master.resource.get("status") == "cancelled":
        return None
    occurrence = master.series.occurrence_at(parsed[1])
    if occurrence is None:
        return None
    return _virtual(master, occurrence)


def _virtual(master: StoredEvent, occurrence: Occurrence) -> StoredEvent:
    assert master.series is not None
    resource = instance_resource(master.resource, occurrence, master.series)
    times = ev.EventTimes(occurrence.start, occurrence.end, occurrence.all_day)
    return StoredEvent(resource, times, master.change_seq, virtual=True)


@dataclass(frozen=True)
class Horizon:
    """How far an unbounded listing expands a series: this long past now or past the series' start."""

    length: timedelta
    now: datetime

    def end_for(self, master: StoredEvent) -> datetime:
        return max(self.now, master.times.start) + self.length


def listing_rows(events: Mapping[str, StoredEvent], params: Mapping[str, Any], horizon: Horizon) -> Iterator[Row]:
    """The rows a full (not incremental) events.list shows, before the non-time filters."""
    time_min, time_max = params.get("timeMin"), params.get("timeMax")
    single = bool(params.get("singleEvents"))
    for stored in events.values():
        if stored.series is not None:
            if single:
                yield from _instances(events, stored, time_min, time_max or horizon.end_for(stored))
            elif _series_overlaps(stored, time_min, time_max or horizon.end_for(stored)):
                yield Row(stored.resource, stored.times.start, stored.times.end, stored.change_seq)
            continue
        if stored.is_exception:
            master = events.get(str(stored.resource["recurringEventId"]))
            if single and (master is None or master.resource.get("status") == "cancelled"):
                continue
        if _overlaps(stored.times.start, stored.times.end, time_min, time_max):
            cancelled = stored.is_exception and stored.resource.get("status") == "cancelled"
            yield Row(
                stored.resource, stored.times.start, stored.times.end, stored.change_seq, cancelled and not single
            )


def changed_rows(events: Mapping[str, StoredEvent], since: int, single: bool, horizon: Horizon) -> Iterator[Row]:
    """An incremental sync: everything changed after `since`; with singleEvents a changed series as instances."""
    for stored in events.values():
        if stored.change_seq <= since:
            continue
        if single and stored.series is not None and stored.resource.get("status") != "cancelled":
            yield from (
                Row(row.resource, row.start, row.end, stored.change_seq)
                for row in _instances(events, stored, None, horizon.end_for(stored))
            )
        else:
            yield Row(stored.resource, stored.times.start, stored.times.end, stored.change_seq)


def _instances(
    events: Mapping[str, StoredEvent], master: StoredEvent, after: datetime | None, before: datetime
) -> Iterator[Row]:
    if master.series is None or master.resource.get("status") == "cancelled":
        return
    for occurrence in master.series.occurrences(after, before):
        if f"{master.resource['id']}_{occurrence.suffix}" in events:
            continue  # its exception is stored (and listed) on its own
        resource = instance_resource(master.resource, occurrence, master.series)
        yield Row(resource, occurrence.start, occurrence.end, master.change_seq)


def _series_overlaps(master: StoredEvent, after: datetime | None, before: datetime) -> bool:
    assert master.series is not None
    return next(master.series.occurrences(after, before), None) is not None


def _overlaps(start: datetime, end: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or end > after) and (before is None or start < before)


def busy_spans(
    events: Mapping[str, StoredEvent], time_min: datetime, time_max: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Every busy span overlapping the range, recurring instances included, unclipped and unmerged."""
    for stored in events.values():
        if stored.series is not None:
            if ev.is_busy(stored.resource):
                for row in _instances(events, stored, time_min, time_max):
                    yield row.start, row.end
            continue
        if stored.is_exception:
            master = events.get(str(stored.resource["recurringEventId"]))
            if master is None or master.resource.get("status") == "cancelled":
                continue
        if ev.is_busy(stored.resource) and _overlaps(stored.times.start, stored.times.end, time_min, time_max):
            yield stored.times.start, stored.times.end


def exception_from(virtual: StoredEvent, resource: dict[str, Any]) -> dict[str, Any]:
    """A changed instance keeps its identity: id, recurringEventId and originalStartTime are immutable."""
    changed = copy.deepcopy(resource)
    for key in ("id", "recurringEventId", "originalStartTime", "iCalUID"):
        changed[key] = copy.deepcopy(virtual.resource[key])
    changed.pop("recurrence", None)
    return changed
