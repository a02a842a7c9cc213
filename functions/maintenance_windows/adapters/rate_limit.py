"""A client-side quota: at most `limit` calls in any sliding window, waiting (not refusing) when full.

Built on the `limits` package's moving-window limiter over its in-memory storage, which is what Google
(and Microsoft Graph) mean by a per-minute quota "calculated with a sliding window". `limits` only answers
hit/miss, so the waiting is ours: on a miss, sleep until the oldest call in the window leaves it.

The `limits` objects are made on first use: importing the package costs ~0.1 s, which a cold start that
books nothing should not pay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: Added to every wait: `limits` counts a call as inside its window up to and including the instant it
#: leaves, so waking exactly then would miss again.
_PAST_THE_EDGE_SECONDS = 0.001


class QuotaLimiter:
    """Thread-safe; one instance holds one quota (e.g. a project's calls per minute)."""

    def __init__(
        self,
        limit: int,
        window_seconds: int = 60,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self._limit = limit
        self._window_seconds = window_seconds
        self._sleep = sleep
        self._on_wait = on_wait or (lambda _seconds: None)
        self._moving_window: Any = None
        self._item: Any = None
        self._setup = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    def acquire(self, calls: int = 1) -> None:
        """Block until `calls` more calls fit in the window, then count them."""
        remaining = calls
        while remaining > 0:
            take = min(remaining, self._limit)  # limits refuses a cost above the limit outright
            self._acquire(take)
            remaining -= take

    def _acquire(self, cost: int) -> None:
        limiter, item = self._limits()
        while not limiter.hit(item, cost=cost):
            reset_at = limiter.get_window_stats(item).reset_time
            wait = max(reset_at - time.time(), 0.0) + _PAST_THE_EDGE_SECONDS
            self._on_wait(wait)
            self._sleep(wait)

    def _limits(self) -> tuple[Any, Any]:
        with self._setup:
            if self._moving_window is None:
                from limits import RateLimitItemPerSecond
                from limits.storage import MemoryStorage
                from limits.strategies import MovingWindowRateLimiter

                self._item = RateLimitItemPerSecond(self._limit, self._window_seconds)
                self._moving_window = MovingWindowRateLimiter(MemoryStorage())
            return self._moving_window, self._item
