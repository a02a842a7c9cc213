"""The seam every calendar provider plugs into to run the shared behavioural suite (test_provider_behaviour.py).

A harness is one provider's CalendarPort (the adapter under test, on its stand-in or in memory) plus the
person's side of it: seeding people and their own events, acting as them in the calendar's own UI, and
making the provider fail for one person or for the next few writes. A new provider adds one harness class
and one entry in conftest.PROVIDERS; it passes when the suite passes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from maintenance_windows.ports.calendar import CalendarPort


class ProviderHarness(Protocol):
    name: str
    calendar: CalendarPort

    def add_person(self, email: str, time_zone: str) -> None:
        """A person whose calendar is in `time_zone` (IANA; a harness translates to its provider's names)."""
        ...

    def add_meeting(self, email: str, start: datetime, end: datetime, *, free: bool = False) -> str:
        """An event of the person's own (busy unless `free`); returns the provider's id for it."""
        ...

    def add_out_of_office(self, email: str, start: datetime, end: datetime) -> None:
        """An out-of-office period, as the person sets it in their calendar."""
        ...

    def person_moves(self, email: str, event_id: str, start: datetime, end: datetime) -> None:
        """The person drags our event (by the port's event id) to a new time."""
        ...

    def person_deletes(self, email: str, event_id: str) -> None: ...

    def refuse(self, email: str) -> None:
        """The provider refuses us this person's calendar (delegation or application scope withdrawn)."""
        ...

    def fail_next_creates(self, count: int) -> None:
        """The next `count` event creations fail transiently (503) before anything is stored."""
        ...

    def expire_sync(self, email: str) -> None:
        """The person's incremental-sync position is no longer valid (Google's 410, Graph's lost delta)."""
        ...

    def live_events(self, email: str) -> list[tuple[datetime, datetime, str]]:
        """(start, end, summary) of the person's events that are not deleted, as the person sees them."""
        ...
