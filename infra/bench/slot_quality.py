"""Slot quality: how soon, how gently and how correctly windows are booked, against a Fleet-style baseline.

Every calendar of `slot_corpus` is planned twice: by the planner's own slot finder (`domain.slots.find_slot`
on the team defaults, called as the planner calls it, critical policies included) and by the rule of Fleet's
calendar integration: the next Tuesday, the first free 30 minutes from 09:00 in half-hour steps, 16:30
double-booked when the day is full, out-of-office time not seen (Fleet reads default events only).

Figures, per strategy:
- lead: business days from planning to the window (0 = the same local day, 1 = the next working day, …);
  the median and the 90th percentile.
- low-disruption share: windows that lie in a free lunch break, open or close a working day (within an hour,
  with no meeting between), or sit right beside a meeting (within the buffer and one grid step), i.e. that do
  not cut a free stretch in two; and break no hard rule.
- hard violations: outside working hours, over busy time, over out-of-office time (or, for our planner, in
  the return grace after it), sooner than the minimum notice, after the deadline (ours: paused by time
  away, as the planner pauses it; Fleet's: as Fleet sets it).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra.bench.slot_corpus import CorpusCalendar, corpus
from maintenance_windows.domain.absence import plan_absences
from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import WEEKDAYS, SlotRules
from maintenance_windows.domain.slots import GRID_MINUTES, SlotChoice, find_slot

TARGET_MEDIAN_LEAD_DAYS = 1
TARGET_LOW_DISRUPTION_SHARE = 0.90
NEAR_EDGE = timedelta(hours=1)


@dataclass(frozen=True)
class Booking:
    calendar: CorpusCalendar
    start: datetime | None  # None: nothing booked
    end: datetime | None
    deadline: datetime
    #: Out of office and the return grace after it, where the strategy knows of them.
    graced: tuple[Interval, ...] = ()


def ours(calendar: CorpusCalendar, rules: SlotRules, *, critical: bool | None = None) -> Booking:
    """As the planner books: out-of-office time read by type, the deadline paused, a return grace."""
    deadline = calendar.now + timedelta(days=rules.deadline_days)
    absences = plan_absences(
        calendar.out_of_office,
        calendar.now,
        deadline,
        calendar.zone,
        rules.working_hours,
        rules.holidays,
        return_grace_hours=rules.return_grace_hours,
    )
    urgent = calendar.critical if critical is None else critical
    choice = find_slot(
        calendar.busy,
        calendar.zone,
        calendar.now,
        rules,
        deadline=absences.deadline,
        critical=urgent,
        away=absences.blocked,
    )
    if not isinstance(choice, SlotChoice):
        return Booking(calendar, None, None, absences.deadline, absences.blocked)
    return Booking(calendar, choice.start, choice.end, absences.deadline, absences.blocked)


def fleet_style(calendar: CorpusCalendar, rules: SlotRules) -> Booking:
    """Fleet's rule: next Tuesday 09:00–17:00, first free half hour, else 16:30; out-of-office unseen."""
    zone = ZoneInfo(calendar.zone)
    today = calendar.now.astimezone(zone).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    seen = [busy for busy in calendar.busy if busy not in calendar.out_of_office]
    deadline = calendar.now + timedelta(days=rules.deadline_days)
    for minutes in range(9 * 60, 17 * 60, 30):
        start = datetime.combine(tuesday, time(minutes // 60, minutes % 60), zone)
        end = start + timedelta(minutes=30)
        if not any(busy.start < end and start < busy.end for busy in seen):
            return Booking(calendar, start, end, deadline)
    start = datetime.combine(tuesday, time(16, 30), zone)
    return Booking(calendar, start, start + timedelta(minutes=30), deadline)


def business_days(now: datetime, start: datetime, zone: ZoneInfo, rules: SlotRules) -> int:
    """Working days after now's local date up to the start's local date (0: the same day)."""
    first, last = now.astimezone(zone).date(), start.astimezone(zone).date()
    count, day = 0, first
    while day < last:
        day += timedelta(days=1)
        if WEEKDAYS[day.weekday()] in rules.working_hours and day not in rules.holidays:
            count += 1
    return count


def violations(booking: Booking, rules: SlotRules) -> list[str]:
    if booking.start is None or booking.end is None:
        return ["nothing booked"]
    calendar, start, end = booking.calendar, booking.start, booking.end
    zone = ZoneInfo(calendar.zone)
    found: list[str] = []
    local_start, local_end = start.astimezone(zone), (end - timedelta(seconds=1)).astimezone(zone)
    hours = rules.working_hours.get(WEEKDAYS[local_start.weekday()])
    if (
        hours is None
        or local_start.date() != local_end.date()
        or not hours.start <= local_start.time()
        or not local_end.time() < hours.end
    ):
        found.append("outside working hours")
    meetings = [busy for busy in calendar.busy if busy not in calendar.out_of_office]
    if _overlaps(meetings, start, end):
        found.append("over busy time")
    if _overlaps(calendar.out_of_office, start, end):
        found.append("over out-of-office time")
    elif _overlaps(booking.graced, start, end):
        found.append("in the first hours back from out of office")
    if start < calendar.now + timedelta(minutes=rules.min_lead_minutes):
        found.append("sooner than the minimum notice")
    if end > booking.deadline:
        found.append("after the deadline")
    return found


def low_disruption(booking: Booking, rules: SlotRules) -> bool:
    if booking.start is None or booking.end is None or violations(booking, rules):
        return False
    calendar, start, end = booking.calendar, booking.start, booking.end
    zone = ZoneInfo(calendar.zone)
    local = start.astimezone(zone)
    day = local.date()
    hours = rules.working_hours[WEEKDAYS[local.weekday()]]
    opens = datetime.combine(day, hours.start, zone)
    closes = datetime.combine(day, hours.end, zone)
    lunch = (datetime.combine(day, rules.lunch.start, zone), datetime.combine(day, rules.lunch.end, zone))
    if lunch[0] <= start and end <= lunch[1]:
        return True
    today = [busy for busy in calendar.busy if busy.start < closes and opens < busy.end]
    if start - opens <= NEAR_EDGE and not any(busy.start < start for busy in today):
        return True
    if closes - end <= NEAR_EDGE and not any(busy.end > end for busy in today):
        return True
    beside = timedelta(minutes=rules.buffer_minutes + GRID_MINUTES)
    return any(
        timedelta(0) <= start - busy.end <= beside or timedelta(0) <= busy.start - end <= beside for busy in today
    )


def judge(bookings: Sequence[Booking], rules: SlotRules) -> dict[str, Any]:
    leads = [business_days(b.calendar.now, b.start, ZoneInfo(b.calendar.zone), rules) for b in bookings if b.start]
    broken = {b.calendar.name: problems for b in bookings if (problems := violations(b, rules))}
    gentle = sum(low_disruption(b, rules) for b in bookings)
    critical = [
        business_days(b.calendar.now, b.start, ZoneInfo(b.calendar.zone), rules)
        for b in bookings
        if b.start and b.calendar.critical
    ]
    return {
        "calendars": len(bookings),
        "median_lead_business_days": statistics.median(leads) if leads else None,
        "mean_lead_business_days": round(statistics.fmean(leads), 2) if leads else None,
        "mean_lead_business_days_critical": round(statistics.fmean(critical), 2) if critical else None,
        "p90_lead_business_days": statistics.quantiles(leads, n=10)[-1] if len(leads) > 1 else None,
        "low_disruption_share": round(gentle / len(bookings), 3),
        "hard_violations": sum(len(problems) for problems in broken.values()),
        "violating_calendars": broken,
    }


def run(count: int | None = None) -> dict[str, Any]:
    rules = SlotRules()
    calendars = corpus() if count is None else corpus(count)
    zones = sorted({calendar.zone for calendar in calendars})
    planned = [ours(calendar, rules) for calendar in calendars]
    kolkata = planned[0]
    return {
        "corpus": {
            "calendars": len(calendars),
            "zones": zones,
            "out_of_office_people": sum(bool(c.out_of_office) for c in calendars),
            "critical": sum(c.critical for c in calendars),
        },
        "targets": {
            "median_lead_business_days": f"<= {TARGET_MEDIAN_LEAD_DAYS}",
            "low_disruption_share": f">= {TARGET_LOW_DISRUPTION_SHARE}",
            "hard_violations": 0,
        },
        "ours": judge(planned, rules),
        "fleet_style": judge([fleet_style(calendar, rules) for calendar in calendars], rules),
        "kolkata_case": _local(kolkata),
        "every_calendar_as_critical": {
            "mean_lead_business_days": _mean_lead([ours(c, rules, critical=True) for c in calendars], rules),
            "as_not_critical": _mean_lead([ours(c, rules, critical=False) for c in calendars], rules),
        },
    }


def _mean_lead(bookings: Sequence[Booking], rules: SlotRules) -> float:
    leads = [business_days(b.calendar.now, b.start, ZoneInfo(b.calendar.zone), rules) for b in bookings if b.start]
    return round(statistics.fmean(leads), 3)


def _local(booking: Booking) -> str | None:
    if booking.start is None:
        return None
    return f"{booking.start.astimezone(ZoneInfo(booking.calendar.zone)):%A %d %B %H:%M} {booking.calendar.zone}"


def _overlaps(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(interval.start < end and start < interval.end for interval in intervals)
