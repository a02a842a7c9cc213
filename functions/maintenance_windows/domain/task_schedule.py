"""Which task a window needs, and when: Cloud Tasks accepts schedule times at most 720 hours ahead.

Also when a dispatch task may act (`dispatch_is_due`): calendar_notifications is public and can enqueue
tasks, so a task is not trusted to arrive at its window's start merely because it carries the right token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maintenance_windows.domain.ids import task_name
from maintenance_windows.domain.windows import Window

#: Cloud Tasks refuses schedule_time more than 720 h ahead; keep a margin for clock skew.
TASK_HORIZON = timedelta(hours=719)
#: How early a dispatch task may still act. Cloud Tasks documents no early delivery: a task is attempted at
#: or after its schedule_time (https://cloud.google.com/tasks/docs, `Task.schedule_time`: "the time when the
#: task is scheduled to be attempted"). The tolerance covers clock skew between the queue and the function.
EARLY_DISPATCH_TOLERANCE = timedelta(minutes=2)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    at: datetime
    payload: dict[str, Any]


def dispatch_task(window: Window, now: datetime) -> TaskSpec:
    """The dispatch task at the window's start, or a re-check task when the start is beyond the horizon."""
    if window.start is None:
        raise ValueError(f"window {window.window_id} has no start")
    if window.start - now > TASK_HORIZON:
        at = now + TASK_HORIZON
        purpose = "recheck"
    else:
        at, purpose = window.start, "dispatch"
    payload = {"window_id": window.window_id, "revision": window.revision, "purpose": purpose}
    return TaskSpec(task_name(window.window_id, window.revision, purpose), at, payload)


def dispatch_is_due(window: Window, now: datetime, tolerance: timedelta = EARLY_DISPATCH_TOLERANCE) -> bool:
    """True once the window's start is at most `tolerance` away: only then may its fix be sent."""
    if window.start is None:
        return False
    return window.start - tolerance <= now


def recheck_task_name(window_id: str, revision: int, attempt: int) -> str:
    """The name of a window's n-th chained re-check task (the first one is the booking's own)."""
    return task_name(window_id, revision, "recheck" if attempt == 0 else f"recheck{attempt}")


def recheck_is_current(window: Window, attempt: int) -> bool:
    """A re-check acts only while it is the window's current task: once it has scheduled the next one (or
    the window was rebooked), a copy, or one enqueued by anyone else, would only write and enqueue again."""
    return window.task_name == recheck_task_name(window.window_id, window.revision, attempt)


def verify_task(window: Window, grace: timedelta, attempt: int = 0) -> TaskSpec:
    if window.end is None:
        raise ValueError(f"window {window.window_id} has no end")
    purpose = "verify" if attempt == 0 else f"verify{attempt}"
    payload = {"window_id": window.window_id, "revision": window.revision, "purpose": "verify", "attempt": attempt}
    return TaskSpec(task_name(window.window_id, window.revision, purpose), window.end + grace, payload)
