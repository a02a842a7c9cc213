"""TaskQueue in process memory, deduplicating names like Cloud Tasks does (for unit tests and benchmarks).

A name stays taken after its task ran or was deleted, as on the real service (which keeps it about an
hour), so a test sees the same ALREADY_EXISTS answers production would give.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class QueuedTask:
    name: str
    at: datetime
    payload: dict[str, Any]


class MemoryTaskQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, QueuedTask] = {}
        self._used_names: set[str] = set()
        self.created: list[QueuedTask] = []
        self.rejected: list[str] = []

    def schedule(self, name: str, at: datetime, payload: Mapping[str, Any]) -> bool:
        if at.tzinfo is None:
            raise ValueError("the schedule time must be timezone-aware")
        with self._lock:
            if name in self._used_names:
                self.rejected.append(name)
                return False
            task = QueuedTask(name, at, copy.deepcopy(dict(payload)))
            self._used_names.add(name)
            self._pending[name] = task
            self.created.append(task)
            return True

    def delete(self, name: str) -> bool:
        with self._lock:
            return self._pending.pop(name, None) is not None

    def pending(self) -> list[QueuedTask]:
        with self._lock:
            return sorted(self._pending.values(), key=lambda task: (task.at, task.name))

    def due(self, now: datetime) -> list[QueuedTask]:
        """Tasks whose time has come, earliest first (left queued: see take_due)."""
        return [task for task in self.pending() if task.at <= now]

    def take_due(self, now: datetime) -> list[QueuedTask]:
        """Remove and return the due tasks, as a delivery does; their names stay taken."""
        with self._lock:
            due = sorted((t for t in self._pending.values() if t.at <= now), key=lambda t: (t.at, t.name))
            for task in due:
                del self._pending[task.name]
            return due
