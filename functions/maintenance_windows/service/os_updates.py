"""OS updates in the service: the team's Fleet settings, "latest", each host's route, the event's "Your
update" notices, the booking deadline (observe) and what `manage` writes to Fleet.

The rules are in domain/os_updates.py; this module reads what they need. Team settings come from Fleet
(GET /api/v1/fleet/teams/:id), read once per planning run or dispatch, and are kept in `fleet_teams`, so
that calendar_notifications, which has no Fleet token, writes its texts from the stored copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from maintenance_windows.clock import utc_now
from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.os_update_text import OsUpdateNotice
from maintenance_windows.domain.os_updates import (
    Enforcement,
    HostUpdate,
    Route,
    WindowsEnforcement,
    device_name,
    managed_enforcement,
    plan_host_update,
    product_name,
    version_tuple,
)
from maintenance_windows.domain.remediation import LATEST, OsUpdateAction, PolicyActions, entry_for, platform_family
from maintenance_windows.domain.rules import Fallback, OsUpdateRole
from maintenance_windows.domain.slots import AFTER_DEADLINE_DAYS
from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.fleet import (
    AppleOSUpdates,
    FleetCatalogPort,
    FleetError,
    FleetUnavailable,
    TeamOSUpdates,
)
from maintenance_windows.ports.os_releases import OsReleasesPort, ReleasesUnavailable
from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.repository import fleet_teams

logger = get_logger(__name__)
_APPLE_SETTING = {"darwin": "macos", "ios": "ios", "ipados": "ipados"}


@dataclass(frozen=True)
class HostFacts:
    """What the route of a host's update depends on, from Fleet's host or from the stored host case."""

    host_id: int
    platform: str
    os_version: str
    team_id: int | None
    failing: tuple[int, ...]

    @classmethod
    def of_host(cls, host: FleetHost) -> HostFacts:
        return cls(host.host_id, host.platform, host.os_version, host.team_id, tuple(sorted(host.failing_policy_ids())))

    @classmethod
    def of_case(cls, host_id: int, document: Mapping[str, Any]) -> HostFacts:
        team = document.get("team_id", document.get("reported_team_id"))
        return cls(
            host_id,
            str(document.get("platform") or ""),
            str(document.get("os_version") or ""),
            None if team is None else int(team),
            tuple(int(p) for p in document.get("failing_policy_ids") or ()),
        )


@dataclass(frozen=True)
class PlannedUpdate:
    host_id: int
    policy_id: int
    team_id: int | None
    action: OsUpdateAction
    update: HostUpdate


class OsUpdates:
    """Team settings (cached, stored) and release versions, for one function instance."""

    def __init__(
        self,
        store: DocumentStore | None = None,
        catalog: FleetCatalogPort | None = None,
        releases: OsReleasesPort | None = None,
        clock: Callable[[], datetime] = utc_now,
        max_age: timedelta = timedelta(minutes=1),
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._releases = releases
        self._clock = clock
        self._max_age = max_age
        self._teams: dict[int, tuple[datetime, TeamOSUpdates | None]] = {}

    @property
    def reads_fleet(self) -> bool:
        return self._catalog is not None

    def begin(self) -> None:
        """A new planning run or dispatch: read each team from Fleet again (once)."""
        self._teams.clear()

    def team_settings(self, team_id: int | None) -> TeamOSUpdates | None:
        """The team's OS-update settings in Fleet; None for no team, Fleet Free, or nothing known.

        With a Fleet client: read once per run (begin()) and kept in `fleet_teams`; without one
        (calendar_notifications): the stored copy."""
        if not team_id:
            return None
        now = self._clock()
        cached = self._teams.get(team_id)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1]
        stored = fleet_teams.load(self._store, team_id) if self._store is not None else None
        if self._catalog is None:
            return stored[0] if stored else None
        return self._read(team_id, now, stored[0] if stored else None)

    def _read(self, team_id: int, now: datetime, stale: TeamOSUpdates | None) -> TeamOSUpdates | None:
        try:
            settings: TeamOSUpdates | None = self._catalog.team_os_updates(team_id) if self._catalog else None
        except FleetUnavailable as outage:
            logger.warning(
                "Fleet team settings unreadable; using the last copy",
                event="team_settings_unavailable",
                team_id=team_id,
                error=str(outage),
            )
            return stale
        except FleetError as refused:  # 402 on Fleet Free (no teams), 404 for a deleted team
            logger.info("Fleet has no OS-update settings for the team", team_id=team_id, status=refused.status)
            settings = None
        self._remember(team_id, settings, now)
        return settings

    def _remember(self, team_id: int, settings: TeamOSUpdates | None, now: datetime) -> None:
        self._teams[team_id] = (now, settings)
        if settings is not None and self._store is not None:
            fleet_teams.save(self._store, settings, now)

    def latest(self, platform: str) -> str | None:
        if self._releases is None:
            return None
        try:
            return self._releases.latest_version(platform_family(platform))
        except ReleasesUnavailable as problem:
            logger.warning(
                "latest OS version unknown; going on without it",
                event="os_latest_unknown",
                platform=platform,
                error=str(problem),
            )
            return None

    def target_version(self, action: OsUpdateAction, platform: str) -> str | None:
        if action.product_version == LATEST:
            return self.latest(platform)
        return action.product_version

    def host_update(self, action: OsUpdateAction, facts: HostFacts) -> HostUpdate:
        platform = platform_family(facts.platform)
        settings = self.team_settings(facts.team_id)
        return plan_host_update(
            platform,
            facts.os_version,
            self.target_version(action, platform),
            apple_enforcement(settings, platform),
            windows_enforcement(settings),
        )

    def set_apple_enforcement(self, team_id: int, platform: str, enforcement: Enforcement) -> None:
        """manage: PATCH the team's setting for the platform (Fleet keeps the others)."""
        if self._catalog is None:
            raise FleetError("no Fleet client to change team settings with")
        value = AppleOSUpdates(enforcement.minimum_version, enforcement.deadline.isoformat())
        if platform == "ios":
            updated = self._catalog.set_team_os_updates(team_id, ios=value)
        elif platform == "ipados":
            updated = self._catalog.set_team_os_updates(team_id, ipados=value)
        else:
            updated = self._catalog.set_team_os_updates(team_id, macos=value)
        self._remember(team_id, updated, self._clock())


def apple_enforcement(settings: TeamOSUpdates | None, platform: str) -> Enforcement | None:
    if settings is None or platform not in _APPLE_SETTING:
        return None
    value: AppleOSUpdates = getattr(settings, _APPLE_SETTING[platform])
    return Enforcement.of(value.minimum_version, value.deadline)


def windows_enforcement(settings: TeamOSUpdates | None) -> WindowsEnforcement | None:
    if settings is None or settings.windows.deadline_days is None or settings.windows.grace_period_days is None:
        return None
    return WindowsEnforcement(settings.windows.deadline_days, settings.windows.grace_period_days)


# -- a window's updates --------------------------------------------------------------------------------------


def window_updates(
    os_updates: OsUpdates,
    entries: Sequence[PolicyActions],
    window: Window,
    hosts: Iterable[HostFacts],
    names: Mapping[int, str],
) -> list[PlannedUpdate]:
    """Every os_update the window's rules ask of its hosts, with each host's route."""
    planned: list[PlannedUpdate] = []
    for facts in hosts:
        failing = set(facts.failing) & set(window.policy_ids) if facts.failing else set(window.policy_ids)
        for policy_id in sorted(failing):
            entry = entry_for(entries, policy_id, names.get(policy_id, ""), facts.platform or None)
            for action in entry.actions if entry else ():
                if isinstance(action, OsUpdateAction) and action.runs_on(facts.platform):
                    update = os_updates.host_update(action, facts)
                    planned.append(PlannedUpdate(facts.host_id, policy_id, facts.team_id, action, update))
    return planned


def person_platforms(planned: Iterable[PlannedUpdate]) -> set[str]:
    return {item.update.platform for item in planned if item.update.route is Route.PERSON}


def notices(planned: Iterable[PlannedUpdate], zone: str, window_start: datetime | None) -> list[OsUpdateNotice]:
    """The "Your update" lines: one per kind of device whose update the person starts."""
    found: list[OsUpdateNotice] = []
    for item in planned:
        update = item.update
        if update.route is not Route.PERSON:
            continue
        enforced = update.enforcement.instant(zone) if update.enforcement else None
        notice = OsUpdateNotice(
            device=device_name(update.platform),
            product=product_name(update.platform),
            steps=update.steps,
            target_version=update.target_version,
            enforced_local=local_moment(enforced, zone) if enforced else None,
            enforced_before_window=bool(enforced and window_start and enforced <= window_start),
            windows_deadline_days=update.windows.deadline_days if update.windows else None,
            windows_grace_period_days=update.windows.grace_period_days if update.windows else None,
        )
        if notice not in found:
            found.append(notice)
    return found


def local_moment(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%A %-d %B %Y, %H:%M} ({zone})"


def observed_deadline(teams: TeamsConfig, planned: Iterable[PlannedUpdate], zone: str) -> datetime | None:
    """observe: the window must come before Fleet installs the update itself (the earliest such moment
    among the hosts whose team only observes)."""
    moments = [
        item.update.enforcement.instant(zone)
        for item in planned
        if item.update.route is Route.PERSON
        and item.update.enforcement is not None
        and teams.rules_for(item.team_id).os_updates.role is OsUpdateRole.OBSERVE
    ]
    return min(moments) if moments else None


# -- manage --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingChange:
    team_id: int
    platform: str
    before: Enforcement | None
    after: Enforcement


def sync_managed(
    teams: TeamsConfig,
    os_updates: OsUpdates,
    windows: Sequence[tuple[Window, Sequence[PlannedUpdate]]],
) -> list[SettingChange]:
    """manage: make each managed team's Fleet deadline fall after its last open OS-update window.

    Idempotent: a team whose setting already serves is not written (domain managed_enforcement)."""
    wanted: dict[tuple[int, str], tuple[list[str], list[datetime]]] = {}
    for window, planned in windows:
        end = _window_end(window, teams)
        for item in planned:
            rules = teams.rules_for(item.team_id)
            platform = item.update.platform
            if rules.os_updates.role is not OsUpdateRole.MANAGE or not item.team_id or platform not in _APPLE_SETTING:
                continue
            target = item.update.target_version or os_updates.latest(platform)
            targets, ends = wanted.setdefault((item.team_id, platform), ([], []))
            if target:
                targets.append(target)
            ends.append(end)
    changes: list[SettingChange] = []
    for (team_id, platform), (targets, ends) in sorted(wanted.items()):
        change = _sync_team(teams, os_updates, team_id, platform, targets, ends)
        if change is not None:
            changes.append(change)
    return changes


def _sync_team(
    teams: TeamsConfig,
    os_updates: OsUpdates,
    team_id: int,
    platform: str,
    targets: Sequence[str],
    ends: Sequence[datetime],
) -> SettingChange | None:
    if not targets:
        logger.warning(
            "manage: no version to enforce (set product_version, or the feed is down)",
            event="os_update_manage_skipped",
            team_id=team_id,
            platform=platform,
        )
        return None
    current = apple_enforcement(os_updates.team_settings(team_id), platform)
    margin = teams.rules_for(team_id).os_updates.deadline_margin_days
    after = managed_enforcement(current, max(targets, key=version_tuple), ends, margin)
    if after is None:
        return None
    try:
        os_updates.set_apple_enforcement(team_id, platform, after)
    except FleetError as problem:
        logger.error(
            "manage: Fleet refused the OS-update setting",
            event="os_update_manage_failed",
            team_id=team_id,
            platform=platform,
            error=str(problem),
        )
        return None
    logger.info(
        "manage: team OS-update setting changed",
        event="os_update_settings_changed",
        team_id=team_id,
        platform=platform,
        minimum_version=after.minimum_version,
        deadline=after.deadline.isoformat(),
        before=str(current) if current else None,
    )
    return SettingChange(team_id, platform, current, after)


def _window_end(window: Window, teams: TeamsConfig) -> datetime:
    """When the window ends, in its zone; not booked yet: the latest it may end."""
    zone = ZoneInfo(window.time_zone)
    if window.end is not None:
        return window.end.astimezone(zone)
    latest = window.deadline
    if teams.rules_for(window.team_id).slots.fallback is Fallback.AFTER_DEADLINE:
        latest += timedelta(days=AFTER_DEADLINE_DAYS)
    return latest.astimezone(zone)
