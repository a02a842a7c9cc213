"""Capacity: how many windows already start at each instant, per team (SlotRules.capacity_per_slot caps it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from maintenance_windows.domain.windows import BOOKED_STATES, Window


@dataclass
class Capacity:
    """Windows already starting at each instant, per team (the slot rules cap it)."""

    counts: dict[int | None, dict[datetime, int]] = field(default_factory=lambda: defaultdict(dict))

    @classmethod
    def of(cls, windows: Iterable[Window]) -> Capacity:
        capacity = cls()
        for window in windows:
            if window.start is not None and window.state in BOOKED_STATES:
                capacity.add(window)
        return capacity

    def taken(self, team_id: int | None) -> dict[datetime, int]:
        return self.counts[team_id]

    def add(self, window: Window) -> None:
        if window.start is not None:
            team = self.counts[window.team_id]
            team[window.start] = team.get(window.start, 0) + 1
