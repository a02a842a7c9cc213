"""Properties of the slot finder over generated calendars, rules and zones, around clock-change dates.

Each chosen slot is checked against the rules by an independent oracle that reads the local clock one
second before and at every minute boundary of the slot (zones change offset on whole minutes), rather than
reusing the finder's own arithmetic. When the finder falls back, the oracle also searches every 15-minute
UTC instant (all zones tested have offsets in whole quarter hours) and must find no free slot either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintenance_windows.domain.intervals import Interval
from maintenance_windows.domain.rules import WEEKDAYS, DailyHours, Fallback, SlotRules
from maintenance_windows.domain.slots import NoSlot, SlotChoice, find_slot, rank_slots

#: Each zone with the local dates its clocks change in 2026 (Kolkata has none: a control).
CLOCK_CHANGES = [
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Asia/Kolkata", date(2026, 3, 29)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("Pacific/Chatham", date(2026, 4, 5)),
    ("Pacific/Chatham", date(2026, 9, 27)),
]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUARTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Case:
    busy: list[Interval]
    zone: str
    now: datetime
    rules: SlotRules
    taken: dict[datetime, int]
    not_before: datetime | None
    deadline: datetime | None

    def find(self) -> SlotChoice | NoSlot:
        return find_slot(
            self.busy,
            self.zone,
            self.now,
            self.rules,
            taken=self.taken,
            not_before=self.not_before,
            deadline=self.deadline,
        )

    @property
    def earliest(self) -> datetime:
        lead = self.now + timedelta(minutes=self.rules.min_lead_minutes)
        return max(lead, self.not_before) if self.not_before else lead

    @property
    def effective_deadline(self) -> datetime:
        return self.deadline or self.now + timedelta(days=self.rules.deadline_days)


@st.composite
def daily_hours(draw: st.DrawFn) -> DailyHours | None:
    if draw(st.integers(0, 5)) == 0:
        return None
    # Often night hours, so that working hours straddle the clock changes between 01:00 and 04:00.
    start_hour = draw(st.one_of(st.integers(0, 3), st.integers(0, 21)))
    start = time(start_hour, draw(st.sampled_from([0, 7, 15, 30, 45])))
    minutes = draw(st.integers(30, 12 * 60))
    end_minute = min(start.hour * 60 + start.minute + minutes, 23 * 60 + 59)
    return DailyHours(start=start, end=time(end_minute // 60, end_minute % 60))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone, change = draw(st.sampled_from(CLOCK_CHANGES))
    now = datetime.combine(change, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC) + timedelta(
        minutes=draw(st.integers(-4 * 24 * 60, 24 * 60)), seconds=draw(st.integers(0, 59))
    )
    hours = SlotRules().working_hours
    if draw(st.booleans()):
        drawn = {weekday: draw(daily_hours()) for weekday in WEEKDAYS}
        hours = {weekday: day for weekday, day in drawn.items() if day is not None}
    rules = SlotRules(
        working_hours=hours,
        holidays=[(now + timedelta(days=offset)).date() for offset in draw(st.sets(st.integers(0, 10), max_size=3))],
        slot_minutes=draw(st.sampled_from([15, 30, 45, 60, 90])),
        buffer_minutes=draw(st.integers(0, 30)),
        min_lead_minutes=draw(st.integers(0, 240)),
        deadline_days=draw(st.integers(1, 8)),
        capacity_per_slot=draw(st.integers(1, 3)),
        fallback=draw(st.sampled_from(list(Fallback))),
    )
    busy = [
        Interval(start, start + timedelta(minutes=length))
        for start, length in draw(
            st.lists(
                st.tuples(
                    st.integers(-24 * 60, 10 * 24 * 60).map(lambda minute: now + timedelta(minutes=minute)),
                    st.integers(5, 10 * 60),
                ),
                max_size=40,
            )
        )
    ]
    if draw(st.integers(0, 3)) == 0:  # a solid block (leave, a conference) forces the fallbacks
        busy.append(Interval(now - timedelta(days=1), now + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))))
    grid_origin = now.replace(minute=0, second=0)
    taken = {
        grid_origin + QUARTER * quarter: count
        for quarter, count in draw(st.dictionaries(st.integers(0, 4 * 24 * 10), st.integers(0, 3), max_size=60)).items()
    }
    not_before = now + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60))) if draw(st.booleans()) else None
    deadline = now + timedelta(minutes=draw(st.integers(60, 9 * 24 * 60))) if draw(st.booleans()) else None
    return Case(busy, zone, now, rules, taken, not_before, deadline)


# -- the oracle -----------------------------------------------------------------------------------------


def in_working_hours(case: Case, start: datetime, end: datetime) -> bool:
    zone = ZoneInfo(case.zone)
    local_start = start.astimezone(zone)
    local_date = local_start.date()
    hours = case.rules.working_hours.get(WEEKDAYS[local_date.weekday()])
    if hours is None or local_date in case.rules.holidays:
        return False
    if local_start.minute % 15 or local_start.second or local_start.microsecond:
        return False
    opens, closes = datetime.combine(local_date, hours.start), datetime.combine(local_date, hours.end)
    if not opens <= local_start.replace(tzinfo=None) < closes:
        return False  # cheap early answer; the probes below decide the rest
    minutes = int((end - start) / timedelta(minutes=1))
    probes = [start + timedelta(minutes=step) for step in range(minutes)]
    probes += [probe + timedelta(seconds=59) for probe in probes]
    walls = [probe.astimezone(zone).replace(tzinfo=None) for probe in probes]
    return all(opens <= wall < closes for wall in walls)


def is_free(case: Case, start: datetime, end: datetime) -> bool:
    pad = timedelta(minutes=case.rules.buffer_minutes)
    return not any(busy.start - pad < end and start < busy.end + pad for busy in case.busy)


def has_room(case: Case, start: datetime) -> bool:
    return case.taken.get(start, 0) < case.rules.capacity_per_slot


def bookable_starts(case: Case, until: datetime, *, free: bool = True) -> list[datetime]:
    """Every start from the earliest up to ``until`` that keeps the rules (``free``: and the calendar)."""
    length = timedelta(minutes=case.rules.slot_minutes)
    probe = datetime.fromtimestamp(-(-case.earliest.timestamp() // 900) * 900, UTC)
    starts = []
    while probe + length <= until:
        end = probe + length
        if (not free or is_free(case, probe, end)) and has_room(case, probe) and in_working_hours(case, probe, end):
            starts.append(probe)
        probe += QUARTER
    return starts


def bookable_slot_exists(case: Case, until: datetime, *, free: bool = True) -> bool:
    return bool(bookable_starts(case, until, free=free))


# -- properties ----------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(cases())
def test_a_chosen_slot_keeps_every_rule(case: Case) -> None:
    result = case.find()
    if isinstance(result, NoSlot):
        assert not bookable_slot_exists(case, case.effective_deadline)
        if case.rules.fallback is Fallback.DOUBLE_BOOK:
            assert not bookable_slot_exists(case, case.effective_deadline, free=False)
        return
    assert result.end - result.start == timedelta(minutes=case.rules.slot_minutes)
    # astimezone, not ==: Python compares a repeated local hour (fold=1) unequal to every other zone.
    assert result.start.tzinfo is UTC
    assert result.local_start.astimezone(UTC) == result.start
    assert result.start >= case.earliest, "starts before the lead time or not_before"
    assert in_working_hours(case, result.start, result.end)
    assert has_room(case, result.start), "over capacity"
    if result.fallback is None:
        assert is_free(case, result.start, result.end), "overlaps a busy interval (with buffer)"
        assert result.end <= case.effective_deadline
    elif result.fallback is Fallback.AFTER_DEADLINE:
        assert result.late
        assert is_free(case, result.start, result.end)
        assert result.end > case.effective_deadline
    else:
        assert result.fallback is Fallback.DOUBLE_BOOK
        assert case.rules.fallback is Fallback.DOUBLE_BOOK
        assert result.end <= case.effective_deadline
    if result.fallback is not None:
        assert result.fallback is case.rules.fallback
        assert not bookable_slot_exists(case, case.effective_deadline), "fell back though a slot was free"


@PROPERTY_SETTINGS
@given(cases())
def test_double_book_takes_the_latest_slot_with_room(generated: Case) -> None:
    solid = [Interval(generated.now - timedelta(days=1), generated.now + timedelta(days=30))]
    case = replace(generated, busy=solid, rules=generated.rules.model_copy(update={"fallback": Fallback.DOUBLE_BOOK}))
    result = case.find()
    candidates = bookable_starts(case, case.effective_deadline, free=False)
    if not candidates:
        assert isinstance(result, NoSlot)
        return
    assert isinstance(result, SlotChoice)
    assert result.start == max(candidates)
    assert result.double_booked
    assert result.fallback is Fallback.DOUBLE_BOOK
    assert "booked over your calendar at" in result.reason


@PROPERTY_SETTINGS
@given(cases())
def test_a_full_winner_is_never_booked_again(case: Case) -> None:
    first = case.find()
    if not isinstance(first, SlotChoice):
        return
    full = replace(case, taken={**case.taken, first.start: case.rules.capacity_per_slot})
    second = full.find()
    assert not isinstance(second, SlotChoice) or second.start != first.start


@PROPERTY_SETTINGS
@given(cases())
def test_rank_slots_is_ordered_and_led_by_find_slot(case: Case) -> None:
    ranked = rank_slots(
        case.busy,
        case.zone,
        case.now,
        case.rules,
        taken=case.taken,
        not_before=case.not_before,
        deadline=case.deadline,
        limit=20,
    )
    result = case.find()
    assert ranked[:1] == ([result] if isinstance(result, SlotChoice) else [])
    merit = [choice for choice in ranked if choice.fallback is None]
    assert [(-c.score, c.start) for c in merit] == sorted((-c.score, c.start) for c in merit)
    assert len({choice.start for choice in ranked}) == len(ranked)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CLOCK_CHANGES), st.integers(-3 * 24 * 60, 24 * 60))
def test_default_rules_book_on_every_clock_change_week(change: tuple[str, date], minutes: int) -> None:
    zone = change[0]
    now = datetime.combine(change[1], time(), tzinfo=UTC) + timedelta(minutes=minutes)
    result = find_slot([], zone, now, SlotRules())
    assert isinstance(result, SlotChoice)
    local_start = result.local_start
    assert local_start.weekday() < 5
    assert time(9) <= local_start.time() <= time(16, 30)
    assert result.end - result.start == timedelta(minutes=30)


def test_the_oracle_rejects_a_slot_the_clock_skips() -> None:
    # 02:00–02:30 on 29 March 2026 never shows on a Berlin clock; 01:45 UTC+1 runs to 03:15 UTC+2.
    hours = {day: DailyHours(start=time(1), end=time(3)) for day in WEEKDAYS}
    case = Case([], "Europe/Berlin", datetime(2026, 3, 28, tzinfo=UTC), SlotRules(working_hours=hours), {}, None, None)
    skipped_start = datetime(2026, 3, 29, 0, 45, tzinfo=UTC)  # 01:45 local, ends 03:15 local
    assert not in_working_hours(case, skipped_start, skipped_start + timedelta(minutes=30))
    fitting = datetime(2026, 3, 29, 0, 15, tzinfo=UTC)  # 01:15–01:45 local
    assert in_working_hours(case, fitting, fitting + timedelta(minutes=30))
    assert date(2026, 3, 29).weekday() == 6
