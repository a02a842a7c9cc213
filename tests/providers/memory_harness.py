"""The memory double as a provider: what unit tests and benchmarks stand on must pass the suite too."""

from __future__ import annotations

import itertools
from datetime import datetime

from maintenance_windows.adapters.memory_calendar import MemoryCalendar
from maintenance_windows.ports.calendar import CalendarPort, CalendarUnavailable


class MemoryHarness:
    name = "memory"

    def __init__(self) -> None:
        self.memory = MemoryCalendar()
        self.calendar: CalendarPort = self.memory
        self._ids = itertools.count(1)

    def add_person(self, email: str, time_zone: str) -> None:
        self.memory.set_time_zone(email, time_zone)

    def add_meeting(self, email: str, start: datetime, end: datetime, *, free: bool = False) -> str:
        event_id = f"own{next(self._ids):05d}"
        self.memory.add_event(email, event_id, start, end, summary="Meeting", transparent=free)
        return event_id

    def add_out_of_office(self, email: str, start: datetime, end: datetime) -> None:
        self.memory.add_event(email, f"oof{next(self._ids):05d}", start, end, summary="Away", event_type="outOfOffice")

    def person_moves(self, email: str, event_id: str, start: datetime, end: datetime) -> None:
        self.memory.user_moves(email, event_id, start, end)

    def person_deletes(self, email: str, event_id: str) -> None:
        self.memory.user_deletes(email, event_id)

    def refuse(self, email: str) -> None:
        self.memory.refuse_delegation(email, "not_delegated")

    def fail_next_creates(self, count: int) -> None:
        # The double has no retries of its own: a transient failure reaches the caller, as after an
        # adapter's retries ran out.
        for _ in range(count):
            self.memory.fail_next("insert_events", CalendarUnavailable("503 backendError", status=503))

    def expire_sync(self, email: str) -> None:
        self.memory.expire_sync_tokens(email)

    def live_events(self, email: str) -> list[tuple[datetime, datetime, str]]:
        return [(e.start, e.end, e.summary) for e in self.memory.events_of(email) if e.start and e.end]
