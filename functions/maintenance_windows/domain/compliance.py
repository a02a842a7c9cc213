"""Compliance figures over a period (the last 30 days by default), from stored windows and host cases.

The same figures appear on the status page, in `mw status` and in the daily chat digest, so they are computed
here once, from the records alone, with the time given as an argument:

- **fixed within deadline**: of the hosts whose window came due in the period (its deadline fell in the period,
  or it ended in the period), the share whose window was verified, or cancelled because Fleet reported the
  hosts passing, no later than its deadline. Windows still open with their deadline ahead are not due yet and
  are left out; open windows past their deadline count as not fixed.
- **time to fix** (median, p90): per host of a window verified in the period, from the first failing report
  of the failure the window fixed (its policy cases' `first_seen`) to the verification. The start is never
  earlier than the end of the host's previous window; when the host has failed again since (a newer
  failure replaced the case's times), the window's creation stands in for it.
- **declined share**: of the windows that ended in the period, the share that ended declined.
- **time to follow a move** (p95): from the moment the person moved the event (the calendar's `updated`) to
  the moment the window took the new time; moves recorded before that time was kept are not counted.

Percentiles are nearest-rank (the smallest value with at least p% of the values at or below it): with the
small samples of a team's month, an interpolated value would be a time nobody experienced.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from maintenance_windows.domain.host_cases import PolicyCase
from maintenance_windows.domain.windows import OPEN_STATES, Window, WindowState

DEFAULT_PERIOD = timedelta(days=30)
#: History kinds that end a window; the entry's time is when it ended.
_ENDINGS = {
    WindowState.VERIFIED: "verified",
    WindowState.FAILED: "failed",
    WindowState.CANCELLED: "cancelled",
    WindowState.DECLINED: "declined",
}


@dataclass(frozen=True)
class Figures:
    period_start: datetime
    period_end: datetime
    hosts_due: int
    hosts_fixed_in_time: int
    fix_hours: tuple[float, ...]  # one per verified host, sorted
    windows_ended: int
    windows_declined: int
    follow_seconds: tuple[float, ...]  # one per followed move, sorted

    @property
    def fixed_in_time_share(self) -> float | None:
        return self.hosts_fixed_in_time / self.hosts_due if self.hosts_due else None

    @property
    def median_fix_hours(self) -> float | None:
        return percentile(self.fix_hours, 50)

    @property
    def p90_fix_hours(self) -> float | None:
        return percentile(self.fix_hours, 90)

    @property
    def declined_share(self) -> float | None:
        return self.windows_declined / self.windows_ended if self.windows_ended else None

    @property
    def p95_follow_seconds(self) -> float | None:
        return percentile(self.follow_seconds, 95)

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON (`mw status --json`, the digest): shares in [0, 1], None when no sample."""
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "hosts_due": self.hosts_due,
            "hosts_fixed_in_time": self.hosts_fixed_in_time,
            "fixed_in_time_share": self.fixed_in_time_share,
            "hosts_verified": len(self.fix_hours),
            "median_fix_hours": self.median_fix_hours,
            "p90_fix_hours": self.p90_fix_hours,
            "windows_ended": self.windows_ended,
            "windows_declined": self.windows_declined,
            "declined_share": self.declined_share,
            "moves_followed": len(self.follow_seconds),
            "p95_follow_seconds": self.p95_follow_seconds,
        }

    def summary_lines(self) -> list[str]:
        """The figures in words, as the demo, `mw status` and the digest print them."""
        return [
            f"fixed within deadline: {share_text(self.fixed_in_time_share)} "
            f"({self.hosts_fixed_in_time} of {self.hosts_due} hosts due)",
            f"time to fix: median {hours_text(self.median_fix_hours)}, p90 {hours_text(self.p90_fix_hours)} "
            f"({len(self.fix_hours)} hosts verified)",
            f"declined: {share_text(self.declined_share)} ({self.windows_declined} of {self.windows_ended} "
            "windows ended)",
            f"time to follow a move: p95 {seconds_text(self.p95_follow_seconds)} ({len(self.follow_seconds)} moves)",
        ]


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def ended_at(window: Window) -> datetime | None:
    """When the window reached its final state (None while open)."""
    kind = _ENDINGS.get(window.state)
    times = [entry.at for entry in window.history if entry.kind == kind]
    return times[-1] if times else None


def fixed_in_time(window: Window) -> bool:
    """Verified, or cancelled because the hosts pass, at or before the deadline."""
    end = ended_at(window)
    if end is None or window.state not in (WindowState.VERIFIED, WindowState.CANCELLED):
        return False
    return end <= window.deadline


def compute(
    windows: Iterable[Window],
    cases: Mapping[tuple[int, int], PolicyCase],
    now: datetime,
    period: timedelta = DEFAULT_PERIOD,
) -> Figures:
    """The figures over `period` up to `now`; `cases` are the policy cases by (host id, policy id)."""
    start = now - period
    every = sorted(windows, key=lambda w: w.created_at)
    due = fixed = ended = declined = 0
    fix_hours: list[float] = []
    for window in every:
        end = ended_at(window)
        if _is_due(window, end, start, now):
            due += len(window.host_ids)
            fixed += len(window.host_ids) if fixed_in_time(window) else 0
        if end is not None and start <= end <= now:
            ended += 1
            declined += window.state is WindowState.DECLINED
            if window.state is WindowState.VERIFIED:
                fix_hours += _fix_hours(window, end, every, cases)
    return Figures(
        period_start=start,
        period_end=now,
        hosts_due=due,
        hosts_fixed_in_time=fixed,
        fix_hours=tuple(sorted(fix_hours)),
        windows_ended=ended,
        windows_declined=declined,
        follow_seconds=tuple(sorted(_follow_seconds(every, start, now))),
    )


def _is_due(window: Window, end: datetime | None, start: datetime, now: datetime) -> bool:
    if end is not None:
        return start <= end <= now or start <= window.deadline <= now
    return window.state in OPEN_STATES and start <= window.deadline <= now


def _fix_hours(
    window: Window, verified_at: datetime, every: Sequence[Window], cases: Mapping[tuple[int, int], PolicyCase]
) -> list[float]:
    found = []
    for host_id in window.host_ids:
        began = failing_since(window, host_id, every, cases)
        if began > verified_at:  # failing again since: the case's times are the new failure's
            began = window.created_at
        found.append(max(0.0, (verified_at - began).total_seconds() / 3600))
    return found


def failing_since(
    window: Window, host_id: int, every: Sequence[Window], cases: Mapping[tuple[int, int], PolicyCase]
) -> datetime:
    """When the host's failure that this window fixed began: the first report of its policy cases for the
    window's policies, not before its previous window ended; the window's creation when no case is stored."""
    seen = [cases[(host_id, p)].first_seen for p in window.policy_ids if (host_id, p) in cases]
    began = min(seen) if seen else window.created_at
    earlier_ends = [
        end
        for other in every
        if other.window_id != window.window_id and host_id in other.host_ids and other.created_at < window.created_at
        for end in [ended_at(other)]
        if end is not None
    ]
    return max([began, *earlier_ends])


def _follow_seconds(windows: Iterable[Window], start: datetime, now: datetime) -> list[float]:
    return [
        max(0.0, (entry.at - entry.changed_at).total_seconds())
        for window in windows
        for entry in window.history
        if entry.kind == "moved" and entry.changed_at is not None and start <= entry.at <= now
    ]


def windows_per_day(windows: Iterable[Window], now: datetime, days: int = 30) -> list[tuple[str, Counter[str]]]:
    """For each of the last `days` days (UTC dates, oldest first): how many windows started that day by state
    (booked ones by their start, others by their creation)."""
    first = (now - timedelta(days=days - 1)).date()
    counts: dict[str, Counter[str]] = {(first + timedelta(days=n)).isoformat(): Counter() for n in range(days)}
    for window in windows:
        moment = window.start or window.created_at
        key = moment.astimezone(now.tzinfo).date().isoformat() if now.tzinfo else moment.date().isoformat()
        if key in counts:
            counts[key][window.state.value] += 1
    return list(counts.items())


def share_text(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.0f}%"


def hours_text(hours: float | None) -> str:
    if hours is None:
        return "n/a"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
