"""The compliance figures, from known windows and hosts (tests/support/status_fixtures.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from maintenance_windows.domain import compliance
from maintenance_windows.domain import windows as states
from maintenance_windows.domain.compliance import compute, percentile
from maintenance_windows.repository.windows import window_from_document, window_to_document
from tests.support.status_fixtures import EXPECTED, known_records, without_history_times

NOW = datetime(2031, 3, 31, 12, 0, tzinfo=UTC)


def figures(now: datetime = NOW) -> compliance.Figures:
    records = known_records(now)
    return compute(records.windows, records.case_map, now)


def test_the_known_records_give_the_expected_figures() -> None:
    result = figures().as_dict()
    assert {key: result[key] for key in EXPECTED} == EXPECTED


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0], 95) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == 4.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0


def test_windows_outside_the_period_are_left_out() -> None:
    later = NOW + timedelta(days=60)
    result = figures(NOW).as_dict()
    records = known_records(NOW)
    far = compute(records.windows, records.case_map, later).as_dict()
    assert result["windows_ended"] == 4
    # Sixty days on, every window ended more than 30 days ago; dave's is still open but past its deadline.
    assert far["windows_ended"] == 0
    assert far["median_fix_hours"] is None
    assert far["declined_share"] is None
    assert far["hosts_due"] == 0


def test_an_open_window_past_its_deadline_is_due_and_not_fixed() -> None:
    records = known_records(NOW)
    dave = next(w for w in records.windows if w.user_key == "dave")
    overdue = replace(dave, deadline=NOW - timedelta(hours=1))
    result = compute([overdue], records.case_map, NOW)
    assert (result.hosts_due, result.hosts_fixed_in_time) == (2, 0)


def test_a_window_cancelled_because_the_hosts_pass_before_the_deadline_counts_as_fixed() -> None:
    records = known_records(NOW)
    dave = next(w for w in records.windows if w.user_key == "dave")
    passed = states.cancel(replace(dave, deadline=NOW - timedelta(hours=1)), NOW - timedelta(hours=3), "hosts pass")
    result = compute([passed], records.case_map, NOW)
    assert (result.hosts_due, result.hosts_fixed_in_time) == (2, 2)
    assert result.fix_hours == ()  # nothing was verified: the time to fix counts verified hosts only


def test_a_host_that_failed_again_counts_from_the_end_of_its_previous_window() -> None:
    records = known_records(NOW)
    bob = next(w for w in records.windows if w.user_key == "bob")
    again = replace(
        bob,
        window_id="bob-1",
        created_at=NOW - timedelta(days=2),
        deadline=NOW + timedelta(days=3),
        history=(),
        state=states.WindowState.NEW,
    )
    slot = states.Slot(NOW - timedelta(hours=5), NOW - timedelta(hours=4), "r")
    again = states.booked(states.plan(again, slot, "UTC", NOW - timedelta(days=2)), "t", NOW - timedelta(days=2))
    again = states.verified(states.dispatched(again, NOW - timedelta(hours=5), "sent"), NOW - timedelta(hours=4), "ok")
    # The policy case still says "first failing 12 days ago": the second fix counts from bob-0's verification.
    result = compute([bob, again], records.case_map, NOW)
    assert result.fix_hours == (68.0, 216.0)
    # Failing again after bob-1 was verified: the case's times are the newer failure's, so bob-1 counts from
    # its own creation (two days before its verification four hours ago).
    newer = {**records.case_map, (2, 10): replace(records.case_map[(2, 10)], first_seen=NOW - timedelta(hours=1))}
    assert compute([again], newer, NOW).fix_hours == (44.0,)


def test_moves_recorded_without_the_change_time_are_not_counted() -> None:
    records = known_records(NOW)
    result = compute([without_history_times(w) for w in records.windows], records.case_map, NOW)
    assert result.follow_seconds == ()
    assert result.p95_follow_seconds is None


def test_the_change_time_survives_the_store_and_old_documents_still_load() -> None:
    alice = next(w for w in known_records(NOW).windows if w.user_key == "alice")
    assert window_from_document(window_to_document(alice)) == alice
    old = window_to_document(alice)
    for entry in old["history"]:
        del entry["changed_at"]
    assert window_from_document(old) == without_history_times(alice)


def test_windows_per_day_counts_each_window_on_its_day() -> None:
    days = compliance.windows_per_day(known_records(NOW).windows, NOW)
    assert len(days) == 30
    assert days[-1][0] == NOW.date().isoformat()
    total = sum(sum(counts.values()) for _, counts in days)
    assert total == 4  # dave's window starts tomorrow, outside the 30 days shown
    assert dict(days)[(NOW - timedelta(days=6)).date().isoformat()]["declined"] == 0
    assert dict(days)[(NOW - timedelta(days=5)).date().isoformat()]["declined"] == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (0.25, "25%"), (1.0, "100%")],
)
def test_shares_read_as_percentages(value: float | None, text: str) -> None:
    assert compliance.share_text(value) == text


@pytest.mark.parametrize(("hours", "text"), [(None, "n/a"), (0.25, "15 min"), (5.0, "5.0 h"), (72.0, "3.0 d")])
def test_durations_read_in_their_unit(hours: float | None, text: str) -> None:
    assert compliance.hours_text(hours) == text


@pytest.mark.parametrize(("seconds", "text"), [(None, "n/a"), (0.42, "0.4 s"), (20.0, "20 s"), (300.0, "5.0 min")])
def test_follow_times_read_in_their_unit(seconds: float | None, text: str) -> None:
    assert compliance.seconds_text(seconds) == text


def test_summary_lines_name_every_figure() -> None:
    text = "\n".join(figures().summary_lines())
    assert "25% (1 of 4 hosts due)" in text
    assert "median 3.0 d, p90 9.0 d" in text
    assert "p95 20 s (2 moves)" in text
