"""The task-queue port: a delayed HTTP call to one of our functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class TaskQueueUnavailable(Exception):
    """The queue could not be reached or refused for a transient reason, after the adapter's own retries."""


class TaskQueue(Protocol):
    def schedule(self, name: str, at: datetime, payload: Mapping[str, Any]) -> bool:
        """Create a named task that POSTs payload (JSON) to the dispatcher at `at`.

        Returns False when a task with that name already exists (a harmless retry); raises
        TaskQueueUnavailable when the queue cannot take it now.
        """
        ...

    def delete(self, name: str) -> bool:
        """Best effort; False when the queue cannot delete (or the task is gone)."""
        ...
