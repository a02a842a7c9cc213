"""What planning, following and dispatching need from the outside world, built once per instance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from maintenance_windows.clock import utc_now
from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.ports.calendar import CalendarPort
from maintenance_windows.ports.explainer import Explainer
from maintenance_windows.ports.fleet import FleetPort, PolicyCatalog
from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.ports.tasks import TaskQueue
from maintenance_windows.service.os_updates import OsUpdates


@dataclass
class PlanningContext:
    store: DocumentStore
    calendar: CalendarPort
    fleet: FleetPort
    tasks: TaskQueue
    explainer: Explainer
    teams: TeamsConfig
    clock: Callable[[], datetime] = field(default=utc_now)
    #: The public URL of calendar_notifications, where Google sends push notifications.
    notifications_url: str | None = None
    #: Where policy texts come from (Fleet's API). None: use the texts stored from Fleet only.
    catalog: PolicyCatalog | None = None
    #: Team OS-update settings and release versions (none known by default).
    os_updates: OsUpdates = field(default_factory=OsUpdates)
