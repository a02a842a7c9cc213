"""What a change to a booked event means for its window: ignore it, follow the move, or treat it as removed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from maintenance_windows.domain.windows import Window


class ObservedEvent(Protocol):
    """What classify reads of an event as the calendar reports it (ports.calendar.CalendarEvent has it)."""

    @property
    def status(self) -> str: ...  # confirmed | tentative | cancelled

    @property
    def start(self) -> datetime | None: ...  # None for all-day events

    @property
    def end(self) -> datetime | None: ...

    @property
    def all_day(self) -> bool: ...

    @property
    def etag(self) -> str | None: ...

    @property
    def private_properties(self) -> Mapping[str, str]: ...

    @property
    def declined_by_owner(self) -> bool: ...


class ChangeKind(StrEnum):
    IGNORED = "ignored"
    MOVED = "moved"
    REMOVED = "removed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    why: str
    start: datetime | None = None
    end: datetime | None = None
    late: bool = False


def classify(window: Window, event: ObservedEvent, now: datetime) -> Change:
    """What the event's current state means for the window that booked it."""
    if event.status == "cancelled":
        return Change(ChangeKind.REMOVED, "the event was deleted")
    revision = event.private_properties.get("mw_revision", "")
    if revision.isdigit() and int(revision) < window.revision:
        return Change(ChangeKind.IGNORED, f"stale revision {revision} < {window.revision}")
    if event.declined_by_owner:
        return Change(ChangeKind.REMOVED, "the user declined the event")
    if event.all_day or event.start is None or event.end is None:
        return Change(ChangeKind.REMOVED, "the event was made an all-day event")
    if event.start == window.start and event.end == window.end:
        own = event.etag is not None and event.etag == window.event_etag
        return Change(ChangeKind.IGNORED, "our own write" if own else "the time did not change")
    if event.start < now:
        return Change(ChangeKind.REMOVED, "the event was moved into the past")
    return Change(ChangeKind.MOVED, "moved by the user", event.start, event.end, late=event.end > window.deadline)
