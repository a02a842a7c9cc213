"""Working-hours inference: each user's usual day, read from the meetings they accepted.

Google's API does not expose a user's working hours, so the planner may estimate them from the last four
weeks of accepted timed events (the caller chooses that window; nothing here reads a clock):

* Events are placed on the local date they start on (the user's zone, so DST is respected). Events that run
  past local midnight or last 12 hours or more are ignored: they are trips and blockers, not a working day.
* For each local date with events, the day's first start and last end (local wall time) are recorded.
* Per weekday, with at least ``MIN_SAMPLES_PER_WEEKDAY`` such dates, the usual start is the lower quartile of
  first starts, rounded down to ``ROUND_MINUTES``, and the usual end the upper quartile of last ends, rounded
  up. Quartiles rather than min/max so that one early call or late release does not stretch every week.
* The estimate is clamped inside the team's bounds for that weekday. A weekday keeps the team's hours when
  it has too few dates, when the whole history has fewer than ``min_days`` dates, or when the estimate spans
  less than ``MIN_SPAN`` — a lone stand-up tells nothing about when the day begins and ends.

Weekdays absent from the bounds stay absent: the team does not book on them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import WEEKDAYS, DailyHours, Weekday

MIN_SAMPLES_PER_WEEKDAY = 3
ROUND_MINUTES = 30
MIN_SPAN = timedelta(hours=4)
MAX_EVENT_LENGTH = timedelta(hours=12)

_MINUTES_PER_DAY = 24 * 60


def infer_working_hours(
    events: Sequence[Interval],
    time_zone: str,
    bounds: Mapping[Weekday, DailyHours],
    *,
    min_days: int = 5,
) -> dict[Weekday, DailyHours]:
    """Each bounded weekday's usual hours for this user (see the module docstring for the method)."""
    days = _day_edges(events, ZoneInfo(time_zone))
    inferred = dict(bounds)
    if len(days) < min_days:
        return inferred
    by_weekday: dict[Weekday, list[tuple[int, int]]] = defaultdict(list)
    for local_date, edges in days.items():
        by_weekday[WEEKDAYS[local_date.weekday()]].append(edges)
    for weekday, team_hours in bounds.items():
        estimate = _estimate(by_weekday.get(weekday, []), team_hours)
        if estimate is not None:
            inferred[weekday] = estimate
    return inferred


def _day_edges(events: Sequence[Interval], zone: ZoneInfo) -> dict[date, tuple[int, int]]:
    """Per local date: (first start, last end) in minutes after local midnight."""
    edges: dict[date, tuple[int, int]] = {}
    for event in events:
        if not timedelta(0) < event.duration < MAX_EVENT_LENGTH:
            continue
        start, end = event.start.astimezone(zone), event.end.astimezone(zone)
        if end.date() != start.date():
            continue
        start_minute, end_minute = _minute_of_day(start.time()), -(-_seconds_of_day(end.time()) // 60)
        first, last = edges.get(start.date(), (start_minute, end_minute))
        edges[start.date()] = (min(first, start_minute), max(last, end_minute))
    return edges


def _estimate(samples: Sequence[tuple[int, int]], team_hours: DailyHours) -> DailyHours | None:
    """The clamped estimate for one weekday, or None when the data cannot support one."""
    if len(samples) < MIN_SAMPLES_PER_WEEKDAY:
        return None
    usual_start = statistics.quantiles([first for first, _ in samples], n=4, method="inclusive")[0]
    usual_end = statistics.quantiles([last for _, last in samples], n=4, method="inclusive")[2]
    start_minute = int(usual_start // ROUND_MINUTES * ROUND_MINUTES)
    end_minute = int(-(-usual_end // ROUND_MINUTES) * ROUND_MINUTES)
    start = max(team_hours.start, _time_of(start_minute))
    end = team_hours.end if end_minute >= _MINUTES_PER_DAY else min(team_hours.end, _time_of(end_minute))
    if _seconds_of_day(end) - _seconds_of_day(start) < MIN_SPAN.total_seconds():
        return None
    return DailyHours(start=start, end=end)


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _minute_of_day(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _time_of(minute_of_day: int) -> time:
    return time(minute_of_day // 60, minute_of_day % 60)


def stated_within_rules(
    stated: Mapping[Weekday, DailyHours], bounds: Mapping[Weekday, DailyHours]
) -> dict[Weekday, DailyHours]:
    """The working hours a person set in their calendar (Microsoft 365 exposes them), kept inside the team's.

    A weekday is bookable only when both say so, from the later start to the earlier end; a weekday where
    the two do not overlap is dropped. The team's rules always bound what a calendar states."""
    kept: dict[Weekday, DailyHours] = {}
    for day in WEEKDAYS:
        mine, team = stated.get(day), bounds.get(day)
        if mine is None or team is None:
            continue
        start, end = max(mine.start, team.start), min(mine.end, team.end)
        if end > start:
            kept[day] = DailyHours(start=start, end=end)
    return kept
