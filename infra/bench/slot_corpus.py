"""A corpus of realistic calendars for judging slot choices: who is booked when, and how well.

Deterministic (one seeded random generator), so every run and every test judges the same calendars. Each
calendar has a person in one of ten zones, planned from a moment somewhere in a working week (weeks with a
clock change among them: US and EU spring and autumn, Sydney's), with three weeks of meetings: a daily
stand-up for most, one to six meetings a day depending on how busy the person is, lunch booked on some days,
and for some people one to five days out of office (an `outOfOffice` event over each whole local day, which
free/busy reports as busy like any meeting). The first calendar is the case that started this: a Kolkata
engineer whose Wednesday had 11:00–12:15 and 13:15–15:00 free but who got Friday 12:00.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.domain.intervals import Interval

SEED = 17
CALENDARS = 60
WEEKS = 3

ZONES = (
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Singapore",
)

#: Mondays of the weeks planned from: each clock change of 2026 in the corpus' zones, and ordinary weeks.
WEEKS_PLANNED = (
    date(2026, 3, 2),  # ordinary
    date(2026, 3, 9),  # the US moved its clocks on Sunday 8 March
    date(2026, 3, 23),  # the EU moves its clocks on Sunday 29 March, at the end of this week
    date(2026, 3, 30),  # Sydney moves its clocks on Sunday 5 April
    date(2026, 6, 15),  # ordinary
    date(2026, 9, 28),  # Sydney moves its clocks on Sunday 4 October
    date(2026, 10, 19),  # the EU moves its clocks on Sunday 25 October
    date(2026, 10, 26),  # the US moves its clocks on Sunday 1 November
)


@dataclass(frozen=True)
class CorpusCalendar:
    name: str
    zone: str
    now: datetime
    busy: tuple[Interval, ...]  # what free/busy reports: meetings, booked lunches and out-of-office time
    out_of_office: tuple[Interval, ...] = ()
    critical: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def corpus(count: int = CALENDARS, seed: int = SEED) -> list[CorpusCalendar]:
    rng = random.Random(seed)
    calendars = [kolkata_case()]
    while len(calendars) < count:
        calendars.append(_random_calendar(rng, len(calendars)))
    return calendars


def kolkata_case() -> CorpusCalendar:
    """Planned Monday 7 December 2026 at 16:00: Monday and Tuesday full, Wednesday free 11:00–12:15 and
    13:15–15:00, Friday light."""
    zone = ZoneInfo("Asia/Kolkata")

    def block(day: int, start: str, end: str) -> Interval:
        return Interval(_at(date(2026, 12, day), start, zone), _at(date(2026, 12, day), end, zone))

    busy = [
        block(7, "09:00", "17:00"),
        block(8, "09:00", "17:00"),
        block(9, "09:00", "11:00"),
        block(9, "12:15", "13:15"),
        block(9, "15:00", "17:00"),
        block(10, "09:00", "16:00"),
        block(11, "10:00", "11:00"),
        block(14, "09:00", "17:00"),
    ]
    return CorpusCalendar("kolkata-engineer", "Asia/Kolkata", _at(date(2026, 12, 7), "16:00", zone), tuple(busy))


def _random_calendar(rng: random.Random, index: int) -> CorpusCalendar:
    zone_name = ZONES[index % len(ZONES)]
    zone = ZoneInfo(zone_name)
    monday = rng.choice(WEEKS_PLANNED)
    first_day = monday + timedelta(days=rng.randrange(5))
    now = datetime.combine(first_day, time(rng.randrange(7, 19), rng.choice((0, 10, 25, 40, 55))), zone)
    load = rng.choice(("light", "medium", "medium", "heavy"))
    meetings_per_day = {"light": (0, 2), "medium": (2, 4), "heavy": (4, 6)}[load]
    stand_up = rng.random() < 0.7
    lunch_booked = rng.choice((0.0, 0.2, 0.5, 0.9))
    away_days = _away_days(rng, first_day)
    busy: list[Interval] = []
    out_of_office: list[Interval] = []
    for offset in range(WEEKS * 7):
        day = first_day + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        if day in away_days:
            whole_day = Interval(_at(day, "00:00", zone), _at(day + timedelta(days=1), "00:00", zone))
            out_of_office.append(whole_day)
            continue
        if stand_up:
            busy.append(Interval(_at(day, "09:30", zone), _at(day, "09:45", zone)))
        if rng.random() < lunch_booked:
            lunch = _at(day, rng.choice(("12:00", "12:30", "13:00")), zone)
            busy.append(Interval(lunch, lunch + timedelta(minutes=60)))
        for _ in range(rng.randint(*meetings_per_day)):
            start_minute = rng.randrange(9 * 60, 17 * 60 - 30, 30)
            start = datetime.combine(day, time(start_minute // 60, start_minute % 60), zone)
            busy.append(Interval(start, start + timedelta(minutes=rng.choice((30, 30, 60, 60, 90, 120)))))
    notes = (f"{load} calendar", f"away {len(away_days)} working days") if away_days else (f"{load} calendar",)
    return CorpusCalendar(
        name=f"person-{index:02d}",
        zone=zone_name,
        now=now,
        busy=tuple(sorted([*busy, *out_of_office], key=lambda interval: interval.start)),
        out_of_office=tuple(out_of_office),
        critical=rng.random() < 0.25,
        notes=notes,
    )


def _away_days(rng: random.Random, first_day: date) -> set[date]:
    """One to five consecutive working days away, for about a fifth of the people; some are away now."""
    if rng.random() >= 0.2:
        return set()
    start = first_day + timedelta(days=rng.randrange(0, 6))
    length = rng.randint(1, 5)
    days: set[date] = set()
    day = start
    while len(days) < length:
        if day.weekday() < 5:
            days.add(day)
        day += timedelta(days=1)
    return days


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return datetime.combine(day, time(hour, minute), zone)
