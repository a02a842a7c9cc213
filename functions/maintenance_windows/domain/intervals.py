"""Half-open time intervals in UTC, the shape free/busy answers come in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end) with timezone-aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start} > {self.end}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def padded(self, before: timedelta, after: timedelta | None = None) -> Interval:
        return Interval(self.start - before, self.end + (before if after is None else after))

    def to_utc(self) -> Interval:
        return Interval(self.start.astimezone(UTC), self.end.astimezone(UTC))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of the given intervals (touching intervals are joined)."""
    merged: list[Interval] = []
    for current in sorted(intervals):
        if merged and current.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (Google and Fleet style, 'Z' or offset, up to nanoseconds)."""
    text = value.strip().replace("\u2212", "-")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        # Python keeps microseconds only; Fleet sends nanoseconds.
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no offset: {value[:40]!r}")
    # 0001-01-01T00:00:00+01:00 and 9999-12-31T23:59:59-01:00 parse, but lie outside what datetime (and
    # Firestore) can hold once in UTC: every store write, comparison with a stored time or to_rfc3339 would
    # then raise OverflowError. Refused here, as a ValueError, so every caller treats it as bad input.
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp is out of range once converted to UTC: {value[:40]!r}") from None
    return parsed


def to_rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
