"""How little a free slot disrupts its owner, and how to say why in one sentence.

For a free slot on a working day, with weights ``w_*`` from ``SlotRules.preferences`` (0 switches a term off):

    score = w_lunch · L + w_day_start · S + w_day_end · E + w_lighter_days · (1 − B) + w_sooner · 0.5^d

L  lunch: the share of the day's lunch range that is free in the calendar, when the slot lies wholly inside
   the lunch range; else 0. A free lunch break is when people are away from their desk anyway.
S  start of day: 1 − m/60 for a slot starting m minutes after the working day opens (0 from an hour on),
   and only when no meeting comes before the slot that day: the fix lands before the day gets going.
E  end of day: the mirror image of S, measured back from the working day's close, only after the last meeting.
B  busy share: busy minutes inside that day's working hours / its working minutes; lighter days score higher.
d  business days from the earliest allowed start to the slot's day: 0 on the first working day the search
   may book, 1 on the next working day, and so on (days off, holidays and days away do not count). The
   sooner term halves with every business day. Its weight (6 by default, 12 for a window with a critical
   policy) outweighs a day's worth of comfort: a slot one business day later must be clearly better
   (a free lunch on a light day against a bare slot on a busy one) to win, and one two days later almost
   never does. A leak left open is a security matter, so of two good slots the earlier wins.

Ties are broken by the caller (earlier start first). Every term lies in [0, 1] before weighting, so a weight
reads as "how many slots-worth of this preference beats one of that".

Instants here are integer epoch seconds (UTC): the slot finder scores thousands of candidates per planning
run and integer arithmetic keeps each one cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from maintenance_windows.domain.rules import Preferences

#: [start, end) in epoch seconds, UTC.
Span = tuple[int, int]

HOUR = 3600
DAY = 24 * HOUR
SOONER_HALF_LIFE_BUSINESS_DAYS = 1.0

# Spelled out rather than strftime("%A"), which follows the process locale.
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ScoreParts(NamedTuple):
    """The weighted terms of the score (a NamedTuple: cheap to build once per candidate)."""

    lunch: float
    day_start: float
    day_end: float
    lighter_day: float
    sooner: float

    @property
    def total(self) -> float:
        return self.lunch + self.day_start + self.day_end + self.lighter_day + self.sooner


@dataclass(frozen=True, slots=True)
class DayContext:
    """One working day as the scorer sees it."""

    local_date: date
    opens: int
    closes: int
    #: Busy spans overlapping the working hours, sorted, unclipped (a meeting may start before the day opens).
    meetings: tuple[Span, ...]
    #: The lunch range that day, or None when there is none.
    lunch: Span | None
    #: Busy spans overlapping the lunch range.
    lunch_meetings: tuple[Span, ...]
    busy_share: float
    lunch_free_share: float


def build_day(local_date: date, opens: int, closes: int, lunch: Span | None, busy: Sequence[Span]) -> DayContext:
    """Summarise one day; ``busy`` is the user's merged, sorted busy spans (any range)."""
    meetings = _overlapping(busy, opens, closes)
    lunch_meetings = _overlapping(busy, *lunch) if lunch else ()
    return DayContext(
        local_date=local_date,
        opens=opens,
        closes=closes,
        meetings=meetings,
        lunch=lunch,
        lunch_meetings=lunch_meetings,
        busy_share=_busy_share(meetings, opens, closes),
        lunch_free_share=1.0 - _busy_share(lunch_meetings, *lunch) if lunch else 0.0,
    )


def score_parts(
    start: int, end: int, day: DayContext, business_day: int, preferences: Preferences, *, sooner_weight: float
) -> ScoreParts:
    """Score a free slot [start, end) on ``day``, the ``business_day``-th working day of the search (from 0);
    ``sooner_weight`` is ``preferences.sooner`` or, for a critical window, ``preferences.sooner_critical``."""
    lunch = 0.0
    if preferences.lunch and day.lunch and day.lunch[0] <= start and end <= day.lunch[1]:
        lunch = preferences.lunch * day.lunch_free_share
    day_start = 0.0
    if preferences.day_start and _before_first_meeting(day, end):
        day_start = preferences.day_start * _nearness(start - day.opens)
    day_end = 0.0
    if preferences.day_end and _after_last_meeting(day, start):
        day_end = preferences.day_end * _nearness(day.closes - end)
    lighter_day = preferences.lighter_days * (1.0 - day.busy_share)
    sooner = sooner_weight * 0.5 ** (business_day / SOONER_HALF_LIFE_BUSINESS_DAYS)
    return ScoreParts(lunch, day_start, day_end, lighter_day, sooner)


def describe(start: int, end: int, day: DayContext, parts: ScoreParts, zone: ZoneInfo, *, lightest: bool) -> str:
    """A short sentence, in the user's local times, naming what made this slot the choice."""
    day_name = DAY_NAMES[day.local_date.weekday()]
    headline, value = max(
        (("lunch", parts.lunch), ("day_start", parts.day_start), ("day_end", parts.day_end)),
        key=lambda item: item[1],
    )
    if value <= 0:
        low, high = _free_stretch(day.meetings, start, end, day.opens, day.closes)
        text = f"calendar free {clock(low, zone)}–{clock(high, zone)}"
    elif headline == "lunch" and day.lunch:
        low, high = _free_stretch(day.lunch_meetings, start, end, *day.lunch)
        text = f"lunch break; calendar free {clock(low, zone)}–{clock(high, zone)}"
    elif headline == "day_start":
        text = "start of day"
        if day.meetings:
            text += f", before your first meeting at {clock(day.meetings[0][0], zone)}"
    else:
        text = "end of day"
        if day.meetings:
            text += f", after your last meeting at {clock(day.meetings[-1][1], zone)}"
    if not day.meetings:
        return f"{text}; no meetings on {day_name}"
    if lightest and parts.lighter_day > 0:
        return f"{text}; {day_name} is your lightest day"
    return text


def clock(instant: int, zone: ZoneInfo) -> str:
    """Local wall-clock time, e.g. '16:30'."""
    return f"{datetime.fromtimestamp(instant, zone):%H:%M}"


def short_date(day: date) -> str:
    """E.g. 'Mon 8 Dec', independent of the process locale."""
    return f"{DAY_NAMES[day.weekday()][:3]} {day.day} {MONTH_ABBREVIATIONS[day.month - 1]}"


def _nearness(gap_seconds: int) -> float:
    """1 right at the edge of the day, falling to 0 an hour away from it."""
    return max(0.0, min(1.0, 1.0 - gap_seconds / HOUR))


def _before_first_meeting(day: DayContext, slot_end: int) -> bool:
    return not day.meetings or day.meetings[0][0] >= slot_end


def _after_last_meeting(day: DayContext, slot_start: int) -> bool:
    return not day.meetings or day.meetings[-1][1] <= slot_start


def _overlapping(busy: Sequence[Span], low: int, high: int) -> tuple[Span, ...]:
    return tuple(span for span in busy if span[0] < high and low < span[1])


def _busy_share(spans: Sequence[Span], low: int, high: int) -> float:
    if high <= low:
        return 1.0
    busy = sum(min(end, high) - max(start, low) for start, end in spans)
    return busy / (high - low)


def _free_stretch(spans: Sequence[Span], start: int, end: int, low: int, high: int) -> Span:
    """The free stretch around a free slot, bounded by the neighbouring meetings and by [low, high]."""
    before = [span_end for _, span_end in spans if span_end <= start]
    after = [span_start for span_start, _ in spans if span_start >= end]
    return max([low, *before]), min([high, *after])
