"""What a benchmark reports about an API adapter: calls by method, HTTP round trips, retries, quota waits."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallStats:
    calls: Counter[str] = field(default_factory=Counter)
    round_trips: int = 0
    retried_calls: int = 0
    throttled_seconds: float = 0.0  # client-side quota sleeps, summed over threads
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, methods: Sequence[str]) -> None:
        """One round trip carrying these calls (one for a plain request, many for a batch)."""
        with self._lock:
            self.round_trips += 1
            self.calls.update(methods)

    def record_retries(self, count: int) -> None:
        with self._lock:
            self.retried_calls += count

    def record_wait(self, seconds: float) -> None:
        with self._lock:
            self.throttled_seconds += seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "round_trips": self.round_trips,
                "retried_calls": self.retried_calls,
                "throttled_seconds": round(self.throttled_seconds, 3),
            }
