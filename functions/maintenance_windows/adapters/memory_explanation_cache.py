"""An in-process ExplanationCache, for unit tests, benchmarks and single-process local runs."""

from __future__ import annotations

import threading

from maintenance_windows.domain.explanation import Explanation


class MemoryExplanationCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Explanation] = {}

    def get(self, key: str) -> Explanation | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, explanation: Explanation) -> None:
        with self._lock:
            self._entries[key] = explanation

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
