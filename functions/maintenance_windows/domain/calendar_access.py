"""When to try a user's calendar again after the provider refused to let us act as them.

A refusal (suspended account, delegation not granted, unknown user) heals only when an administrator changes
something, so asking every planning run would spend calls and log lines for nothing. The user is tried again
after 1 hour, then 2, 4, 8 and 16 hours, then once a day for as long as it lasts; the count is the user's own
(stored with the user), and the first success forgets it. Nobody is booked meanwhile, in any zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FIRST_RETRY = timedelta(hours=1)
MAX_RETRY = timedelta(days=1)


@dataclass(frozen=True)
class AccessRefusal:
    reason: str  # suspended | not_delegated | unknown (ports.calendar.ACCESS_REFUSED_REASONS)
    since: datetime  # the first refusal in this streak
    attempts: int  # refusals in a row
    retry_at: datetime

    def due(self, now: datetime) -> bool:
        return now >= self.retry_at

    def describe(self) -> str:
        """What an admin reads in `mw hosts` and `mw windows`."""
        since, retry_at = self.since.astimezone(UTC), self.retry_at.astimezone(UTC)
        return (
            f"calendar access refused ({self.reason}) since {since:%Y-%m-%d %H:%M} UTC, "
            f"{self.attempts} time(s); next try {retry_at:%Y-%m-%d %H:%M} UTC"
        )


def retry_delay(attempts: int) -> timedelta:
    """The wait after the attempts-th refusal in a row: 1 h doubling, at most a day."""
    if attempts < 1:
        raise ValueError("attempts counts refusals, from 1")
    doubled: timedelta = FIRST_RETRY * (1 << min(attempts - 1, 16))
    return min(doubled, MAX_RETRY)


def refused_again(previous: AccessRefusal | None, reason: str, now: datetime) -> AccessRefusal:
    """The user's refusal after one more refused attempt at `now`."""
    attempts = 1 if previous is None else previous.attempts + 1
    since = now if previous is None else previous.since
    return AccessRefusal(reason, since, attempts, now + retry_delay(attempts))
