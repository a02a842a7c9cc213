"""The least-disruption slot finder: where in a user's calendar a maintenance window hurts least.

Candidates are ``slot_minutes`` long and start on a 15-minute grid of the user's *local* wall clock, inside
that local weekday's working hours, never on a holiday (local date). A candidate is free when it does not
overlap any busy interval padded by ``buffer_minutes`` on both sides. It may not start before
``now + min_lead_minutes`` (nor before ``not_before``), nor end after the deadline, and it is skipped when the
team already has ``capacity_per_slot`` windows starting at the same instant. Free candidates are ranked by
``scoring.score_parts`` (formula in that module), best first, earlier start breaking ties.

Clock changes: the search walks local wall time and converts with zoneinfo. A slot always lasts exactly
``slot_minutes`` of real time, and every instant of it must read as working hours on the local clock: a
start time the clock skips (spring forward) is not a candidate, and a start time the clock shows twice
(fall back) is a candidate once per occurrence.

Out of office: ``away`` spans (absences and the return grace after each, from ``absence.plan_absences``) are
never booked, not even by a fallback, and a day wholly away is no business day for the sooner term.

When nothing free fits before the deadline, ``rules.fallback`` decides (capacity still applies):
DOUBLE_BOOK takes the last slot of the last working day before the deadline even if the calendar is busy,
AFTER_DEADLINE takes the first free slot in the ``AFTER_DEADLINE_DAYS`` after it, SKIP books nothing.

Pure: no I/O, no clock reads; ``now`` is an argument.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import WEEKDAYS, DailyHours, Fallback, SlotRules, Weekday
from maintenance_windows.domain.scoring import (
    DayContext,
    ScoreParts,
    Span,
    build_day,
    clock,
    describe,
    score_parts,
    short_date,
)

GRID_MINUTES = 15
#: How far past the deadline the AFTER_DEADLINE fallback looks for a free slot.
AFTER_DEADLINE_DAYS = 14

_GRID = GRID_MINUTES * 60
_SECOND = timedelta(seconds=1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NAIVE_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class SlotChoice:
    """A booked-to-be window. ``score`` is 0.0 for fallback choices: they were not picked on merit.

    Compare and key by ``start``, not ``local_start``: Python's ``==`` across zones is False for a local
    time in a repeated hour (fold=1), so ``local_start == start`` can fail although both name one instant.
    """

    start: datetime  # UTC, aware
    end: datetime  # UTC, aware
    score: float  # higher is better
    reason: str  # for a person, in local times
    local_start: datetime  # in the user's zone
    fallback: Fallback | None = None  # set when the deadline could not be met and a fallback applied
    late: bool = False  # ends after the deadline (AFTER_DEADLINE fallback)
    double_booked: bool = False  # overlaps a busy interval of the user's calendar (DOUBLE_BOOK fallback)


@dataclass(frozen=True)
class NoSlot:
    reason: str  # said plainly, e.g. "no free 30-minute slot before Mon 8 Dec; fallback 'skip'"


def find_slot(
    busy: Sequence[Interval],
    time_zone: str,
    now: datetime,
    rules: SlotRules,
    *,
    taken: Mapping[datetime, int] | None = None,
    working_hours: Mapping[Weekday, DailyHours] | None = None,
    not_before: datetime | None = None,
    deadline: datetime | None = None,
    critical: bool = False,
    away: Sequence[Interval] = (),
) -> SlotChoice | NoSlot:
    """The least disruptive slot, a fallback slot, or NoSlot saying why there is none.

    ``taken`` counts the team's windows already starting at each instant (keys: aware UTC datetimes, like
    ``SlotChoice.start``); ``working_hours`` overrides ``rules.working_hours`` (e.g. inferred ones);
    ``deadline`` defaults to ``now + rules.deadline_days``; ``critical`` weighs sooner slots with
    ``preferences.sooner_critical``; no slot, not even a fallback, overlaps ``away`` (out of office and the
    return grace after it, ``absence.plan_absences``), and days wholly away are no business days.
    Raises ValueError for naive datetimes and ZoneInfoNotFoundError for an unknown zone.
    """
    search = _Search.create(busy, time_zone, now, rules, taken, working_hours, not_before, deadline, critical, away)
    ranked = search.ranked(limit=1)
    return ranked[0] if ranked else search.fallback()


def rank_slots(
    busy: Sequence[Interval],
    time_zone: str,
    now: datetime,
    rules: SlotRules,
    *,
    taken: Mapping[datetime, int] | None = None,
    working_hours: Mapping[Weekday, DailyHours] | None = None,
    not_before: datetime | None = None,
    deadline: datetime | None = None,
    critical: bool = False,
    away: Sequence[Interval] = (),
    limit: int = 5,
) -> list[SlotChoice]:
    """Up to ``limit`` free slots before the deadline, best first; when there is none, the fallback slot
    alone (or nothing). A non-empty result starts with what ``find_slot`` returns."""
    if limit < 1:
        return []
    search = _Search.create(busy, time_zone, now, rules, taken, working_hours, not_before, deadline, critical, away)
    ranked = search.ranked(limit)
    if ranked:
        return ranked
    fallback = search.fallback()
    return [fallback] if isinstance(fallback, SlotChoice) else []


@dataclass(frozen=True, slots=True)
class _Day:
    context: DayContext
    #: Candidate starts on this day, ascending, already inside working hours and the search bounds.
    starts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Candidate:
    sort_key: tuple[float, int]
    start: int
    day: DayContext
    parts: ScoreParts


@dataclass(frozen=True, slots=True)
class _Search:
    """One search's inputs, converted once to epoch seconds so the candidate loop stays cheap."""

    zone: ZoneInfo
    rules: SlotRules
    hours: Mapping[Weekday, DailyHours]
    holidays: frozenset[date]
    taken: Mapping[datetime, int]
    slot: int
    earliest: int
    deadline: int
    busy: tuple[Span, ...]  # merged
    blocked_starts: tuple[int, ...]  # busy padded by the buffer, merged
    blocked_ends: tuple[int, ...]
    sooner_weight: float
    away: tuple[Span, ...]  # merged; never booked

    @classmethod
    def create(
        cls,
        busy: Sequence[Interval],
        time_zone: str,
        now: datetime,
        rules: SlotRules,
        taken: Mapping[datetime, int] | None,
        working_hours: Mapping[Weekday, DailyHours] | None,
        not_before: datetime | None,
        deadline: datetime | None,
        critical: bool = False,
        away: Sequence[Interval] = (),
    ) -> _Search:
        _require_aware(now=now, not_before=not_before, deadline=deadline)
        earliest = _ceil_seconds(now) + rules.min_lead_minutes * 60
        if not_before is not None:
            earliest = max(earliest, _ceil_seconds(not_before))
        end_by = deadline if deadline is not None else now + timedelta(days=rules.deadline_days)
        spans = _merge_spans((_floor_seconds(i.start), _ceil_seconds(i.end)) for i in busy)
        buffer = rules.buffer_minutes * 60
        away_spans = _merge_spans((_floor_seconds(i.start), _ceil_seconds(i.end)) for i in away)
        blocked = _merge_spans([*((start - buffer, end + buffer) for start, end in spans), *away_spans])
        return cls(
            zone=ZoneInfo(time_zone),
            rules=rules,
            hours=rules.working_hours if working_hours is None else working_hours,
            holidays=frozenset(rules.holidays),
            taken=taken or {},
            slot=rules.slot_minutes * 60,
            earliest=earliest,
            deadline=_floor_seconds(end_by),
            busy=tuple(spans),
            blocked_starts=tuple(start for start, _ in blocked),
            blocked_ends=tuple(end for _, end in blocked),
            sooner_weight=rules.preferences.sooner_critical if critical else rules.preferences.sooner,
            away=tuple(away_spans),
        )

    # -- ranking --------------------------------------------------------------------------------------

    def ranked(self, limit: int) -> list[SlotChoice]:
        days = list(self._days(self.earliest, self.deadline))
        preferences = self.rules.preferences
        candidates: list[_Candidate] = []
        business_day: int | None = None  # counted from the first day with a free slot
        for day in days:
            free = [start for start in day.starts if self._is_free(start)]
            if (business_day is None and not free) or self._wholly_away(day.starts):
                continue
            business_day = 0 if business_day is None else business_day + 1
            for start in free:
                parts = score_parts(
                    start, start + self.slot, day.context, business_day, preferences, sooner_weight=self.sooner_weight
                )
                candidates.append(_Candidate((-parts.total, start), start, day.context, parts))
        candidates.sort(key=lambda candidate: candidate.sort_key)
        lightest = _lightest_day([day.context for day in days if day.starts])
        choices: list[SlotChoice] = []
        for candidate in candidates:
            if len(choices) == limit:
                break
            if self._has_room(candidate.start):
                choices.append(self._merit_choice(candidate, lightest))
        return choices

    def _merit_choice(self, candidate: _Candidate, lightest: date | None) -> SlotChoice:
        day, start = candidate.day, candidate.start
        reason = describe(
            start, start + self.slot, day, candidate.parts, self.zone, lightest=day.local_date == lightest
        )
        return self._choice(start, candidate.parts.total, reason)

    # -- fallbacks ------------------------------------------------------------------------------------

    def fallback(self) -> SlotChoice | NoSlot:
        missed = f"no free {self.rules.slot_minutes}-minute slot"
        if any(self._is_free(start) for day in self._days(self.earliest, self.deadline) for start in day.starts):
            missed += " with team capacity left"
        missed += f" before {self._deadline_text()}"
        if self.rules.fallback is Fallback.DOUBLE_BOOK:
            return self._double_book(missed)
        if self.rules.fallback is Fallback.AFTER_DEADLINE:
            return self._after_deadline(missed)
        return NoSlot(f"{missed}; fallback '{Fallback.SKIP}'")

    def _double_book(self, missed: str) -> SlotChoice | NoSlot:
        days = list(self._days(self.earliest, self.deadline))
        for day in reversed(days):
            for start in reversed(day.starts):
                if not self._has_room(start) or self._overlaps_away(start):
                    continue
                over_calendar = self._overlaps_busy(start)
                at = f"{clock(start, self.zone)} on {short_date(day.context.local_date)}"
                if over_calendar:
                    how = f"booked over your calendar at {at}"
                elif self._is_free(start):
                    how = f"booked at {at}, the last slot before the deadline"
                else:
                    gap = self.rules.buffer_minutes
                    how = f"booked at {at} without the usual {gap}-minute gap to a meeting"
                return self._choice(
                    start, 0.0, f"{missed}; {how}", fallback=Fallback.DOUBLE_BOOK, double_booked=over_calendar
                )
        why = "every slot is at team capacity" if any(day.starts for day in days) else "no working hours"
        return NoSlot(f"{missed}; nothing to double-book ({why}); fallback '{Fallback.DOUBLE_BOOK}'")

    def _after_deadline(self, missed: str) -> SlotChoice | NoSlot:
        # Only slots ending after the deadline are new here: the others were searched already.
        first_start = max(self.earliest, self.deadline - self.slot + 1)
        horizon = self.deadline + AFTER_DEADLINE_DAYS * 24 * 3600
        for day in self._days(first_start, horizon):
            for start in day.starts:
                if self._is_free(start) and self._has_room(start):
                    at = f"{clock(start, self.zone)} on {short_date(day.context.local_date)}"
                    reason = f"late: {missed}; the first free slot after it is {at}"
                    return self._choice(start, 0.0, reason, fallback=Fallback.AFTER_DEADLINE, late=True)
        return NoSlot(f"{missed} nor in the {AFTER_DEADLINE_DAYS} days after it; fallback '{Fallback.AFTER_DEADLINE}'")

    def _deadline_text(self) -> str:
        local = datetime.fromtimestamp(self.deadline, self.zone)
        if local.hour == local.minute == 0:
            return short_date(local.date())
        return f"{local:%H:%M} on {short_date(local.date())}"

    # -- candidates -----------------------------------------------------------------------------------

    def _days(self, first_start: int, last_end: int) -> Iterator[_Day]:
        """Working days from the local date of ``first_start`` to that of ``last_end``, with the candidate
        starts in [first_start, last_end - slot]."""
        local_date = datetime.fromtimestamp(first_start, self.zone).date()
        last_date = datetime.fromtimestamp(last_end, self.zone).date()
        while local_date <= last_date:
            hours = self.hours.get(WEEKDAYS[local_date.weekday()])
            if hours is not None and local_date not in self.holidays:
                yield self._day(local_date, hours, first_start, last_end)
            local_date += timedelta(days=1)

    def _day(self, local_date: date, hours: DailyHours, first_start: int, last_end: int) -> _Day:
        opens_wall, closes_wall = _wall(local_date, hours.start, ceil=True), _wall(local_date, hours.end)
        lunch_walls = (
            _wall(local_date, self.rules.lunch.start, ceil=True),
            _wall(local_date, self.rules.lunch.end),
        )
        offset = _steady_offset(local_date, hours, self.zone)
        starts: Sequence[int]
        if offset is not None:
            starts = _steady_starts(opens_wall, closes_wall, offset, self.slot)
            opens, closes = opens_wall - offset, closes_wall - offset
            lunch = (lunch_walls[0] - offset, lunch_walls[1] - offset)
        else:
            starts = _switch_day_starts(opens_wall, closes_wall, self.slot, self.zone)
            opens, closes = _to_instant(opens_wall, 0, self.zone), _to_instant(closes_wall, 1, self.zone)
            lunch = (_to_instant(lunch_walls[0], 0, self.zone), _to_instant(lunch_walls[1], 1, self.zone))
        in_bounds = tuple(start for start in starts if first_start <= start and start + self.slot <= last_end)
        context = build_day(local_date, opens, closes, lunch if lunch[0] < lunch[1] else None, self.busy)
        return _Day(context, in_bounds)

    def _is_free(self, start: int) -> bool:
        index = bisect.bisect_right(self.blocked_ends, start)
        return index == len(self.blocked_starts) or self.blocked_starts[index] >= start + self.slot

    def _overlaps_away(self, start: int) -> bool:
        end = start + self.slot
        return any(away_start < end and start < away_end for away_start, away_end in self.away)

    def _wholly_away(self, starts: Sequence[int]) -> bool:
        return bool(self.away) and bool(starts) and all(self._overlaps_away(start) for start in starts)

    def _overlaps_busy(self, start: int) -> bool:
        end = start + self.slot
        return any(busy_start < end and start < busy_end for busy_start, busy_end in self.busy)

    def _has_room(self, start: int) -> bool:
        if not self.taken:
            return True
        return self.taken.get(_utc(start), 0) < self.rules.capacity_per_slot

    def _choice(
        self,
        start: int,
        score: float,
        reason: str,
        *,
        fallback: Fallback | None = None,
        late: bool = False,
        double_booked: bool = False,
    ) -> SlotChoice:
        return SlotChoice(
            start=_utc(start),
            end=_utc(start + self.slot),
            score=score,
            reason=reason,
            local_start=datetime.fromtimestamp(start, self.zone),
            fallback=fallback,
            late=late,
            double_booked=double_booked,
        )


# -- local wall time -----------------------------------------------------------------------------------
# "Wall" values are seconds since 1970-01-01 00:00 on the local clock (instant + UTC offset): plain ints
# that order like the clock reads, which is what working hours are written in.


def _wall(local_date: date, moment: time, *, ceil: bool = False) -> int:
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    if ceil and moment.microsecond:
        seconds += 1
    return (local_date.toordinal() - _EPOCH_ORDINAL) * 86400 + seconds


def _steady_offset(local_date: date, hours: DailyHours, zone: ZoneInfo) -> int | None:
    """The UTC offset (seconds) in force all through the day's working hours, or None when the clocks
    change inside them (or at their edges) and each slot needs the exact treatment."""
    offsets = {
        zone.utcoffset(datetime.combine(local_date, moment).replace(fold=fold))
        for moment in (hours.start, hours.end)
        for fold in (0, 1)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return None if offset is None else int(offset.total_seconds())


def _steady_starts(opens_wall: int, closes_wall: int, offset: int, slot: int) -> range:
    first = -(-opens_wall // _GRID) * _GRID
    return range(first - offset, closes_wall - slot - offset + 1, _GRID)


def _switch_day_starts(opens_wall: int, closes_wall: int, slot: int, zone: ZoneInfo) -> list[int]:
    """Candidate starts on a day the clocks change during working hours, one wall time at a time."""
    starts: set[int] = set()
    first = -(-opens_wall // _GRID) * _GRID
    for wall in range(first, closes_wall + 1, _GRID):
        for fold in (0, 1):
            start = _to_instant(wall, fold, zone)
            exists = _offset_at(start, zone) + start == wall
            if exists and _within_walls(start, start + slot, opens_wall, closes_wall, zone):
                starts.add(start)
    return sorted(starts)


def _within_walls(start: int, end: int, opens_wall: int, closes_wall: int, zone: ZoneInfo) -> bool:
    """Whether the local clock reads inside [opens_wall, closes_wall] throughout [start, end)."""
    before, after = _offset_at(start, zone), _offset_at(end - 1, zone)
    if before == after:
        lowest, highest = start + before, end + before
    else:
        switch = _first_instant_with_offset(start, end - 1, after, zone)
        lowest = min(start + before, switch + after)
        highest = max(switch + before, end + after)
    return opens_wall <= lowest and highest <= closes_wall


def _first_instant_with_offset(low: int, high: int, offset: int, zone: ZoneInfo) -> int:
    """Binary search for the clock change in (low, high]; ``high`` already has the new ``offset``."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, zone) == offset:
            high = middle
        else:
            low = middle
    return high


def _to_instant(wall: int, fold: int, zone: ZoneInfo) -> int:
    local = (_NAIVE_EPOCH + timedelta(seconds=wall)).replace(tzinfo=zone, fold=fold)
    return (local - _UTC_EPOCH) // _SECOND


def _offset_at(instant: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


# -- small helpers -------------------------------------------------------------------------------------


def _merge_spans(spans: Iterator[Span] | Sequence[Span]) -> list[Span]:
    """Sorted union of [start, end) spans; intervals.merge on ints, as the search works in epoch seconds."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _lightest_day(days: Sequence[DayContext]) -> date | None:
    """The one day with the smallest busy share, or None when several tie for it."""
    if len(days) < 2:
        return None
    ordered = sorted(days, key=lambda day: day.busy_share)
    return ordered[0].local_date if ordered[0].busy_share < ordered[1].busy_share else None


def _floor_seconds(moment: datetime) -> int:
    return (moment - _UTC_EPOCH) // _SECOND


def _ceil_seconds(moment: datetime) -> int:
    return -((_UTC_EPOCH - moment) // _SECOND)


def _utc(instant: int) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def _require_aware(**moments: datetime | None) -> None:
    for name, moment in moments.items():
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
