"""Out of office: a person who is away is not booked, their deadline waits for them, and they get a grace.

Free/busy cannot tell a holiday from a meeting, so out-of-office periods come from the calendar's own
`outOfOffice` events (the calendar port's `out_of_office`). With them:

* **The deadline pauses.** Time spent away does not count against the deadline: it ends when the person has
  been present, between now and then, for as long as the deadline allowed. A deadline that would fall
  inside an absence, or inside the return grace after it, moves to a day after that grace's end.
* **A return grace.** Nothing is booked in a person's first ``return_grace_hours`` of *working* time after
  they come back (as Windows Autopatch gives a device back from being offline a grace period): a first
  morning back is for catching up, not for a restart. Counted in the team's working hours, so a return at
  midnight does not spend the grace asleep.
* **Never over it.** The absences and graces are handed to the slot finder as time that no slot, fallback
  or not, may overlap.

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.domain.intervals import Interval, merge
from maintenance_windows.domain.rules import WEEKDAYS, DailyHours, Weekday

#: A deadline pushed past a return grace keeps at least this long after it.
DEADLINE_AFTER_GRACE = timedelta(days=1)
#: How far the grace walk looks for working time (a team with no working day would loop forever).
_MAX_GRACE_SEARCH_DAYS = 60


@dataclass(frozen=True)
class AbsencePlan:
    """What the absences change for one window."""

    #: Time no slot may overlap: each absence and the return grace after it, merged and sorted.
    blocked: tuple[Interval, ...]
    #: The deadline after pausing (equal to the given one when nobody is away before it).
    deadline: datetime
    #: How far the deadline moved.
    paused: timedelta
    #: The absences that begin before the (paused) deadline and end after now.
    absences: tuple[Interval, ...]

    def returned_before(self, moment: datetime) -> datetime | None:
        """When the person last came back before ``moment``, if an absence lies between now and then."""
        ends = [absence.end for absence in self.absences if absence.end <= moment]
        return max(ends) if ends else None


def plan_absences(
    away: Iterable[Interval],
    now: datetime,
    deadline: datetime,
    time_zone: str,
    working_hours: Mapping[Weekday, DailyHours],
    holidays: Iterable[date] = (),
    *,
    return_grace_hours: float,
) -> AbsencePlan:
    """The blocked time and the paused deadline for a person away during ``away`` (any order, overlaps ok)."""
    periods = [period.to_utc() for period in merge(away) if period.end > now and period.end > period.start]
    zone = ZoneInfo(time_zone)
    days_off = frozenset(holidays)
    grace = timedelta(hours=return_grace_hours)
    graced = [Interval(p.start, _after_working_time(p.end, grace, zone, working_hours, days_off)) for p in periods]
    paused = _paused_deadline(periods, now, deadline)
    for span in graced:
        if span.start < paused < span.end + DEADLINE_AFTER_GRACE and paused != deadline:
            paused = max(paused, span.end + DEADLINE_AFTER_GRACE)
    relevant = tuple(period for period in periods if period.start < paused)
    return AbsencePlan(tuple(merge(graced)), paused, paused - deadline, relevant)


def _paused_deadline(periods: Sequence[Interval], now: datetime, deadline: datetime) -> datetime:
    """The moment the person has been present for ``deadline - now`` since now."""
    left = deadline - now
    cursor = now
    for period in periods:
        start = max(period.start, cursor)
        if start - cursor >= left:
            break
        left -= start - cursor
        cursor = max(cursor, period.end)
    return cursor + left


def _after_working_time(
    start: datetime,
    amount: timedelta,
    zone: ZoneInfo,
    working_hours: Mapping[Weekday, DailyHours],
    days_off: frozenset[date],
) -> datetime:
    """The instant by which ``amount`` of working time has passed since ``start``."""
    if amount <= timedelta(0):
        return start
    left = amount
    local_start = start.astimezone(zone)
    day = local_start.date()
    for _ in range(_MAX_GRACE_SEARCH_DAYS):
        hours = working_hours.get(WEEKDAYS[day.weekday()])
        if hours is not None and day not in days_off:
            # In UTC: arithmetic between two datetimes of one zone ignores a clock change between them.
            opens = datetime.combine(day, hours.start, zone).astimezone(UTC)
            closes = datetime.combine(day, hours.end, zone).astimezone(UTC)
            begin = max(opens, start)
            if begin < closes:
                if closes - begin >= left:
                    return begin + left
                left -= closes - begin
        day += timedelta(days=1)
    return start + amount  # no working day in reach: wall time is the only measure left
