"""A simulated host: what Fleet holds about it, what is true on the device, and what waits for its check-in.

Fleet never reaches into a host: the host checks in (osquery's distributed interval, orbit's config poll,
the MDM client after a push) and only then runs queued scripts and commands and reports policy results
(server/service/osquery.go). So every action here queues on the device and runs at a check-in, and
`reported` (what the API shows) lags `truth` (what the device would report) until policies run again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from infra.fleet_server.os_updates import DEFAULT_OS_VERSION
from infra.fleet_server.seed import SeedHost, SeedScript, SeedSettings

#: An offline seeded host was last seen this long before the stand-in started.
OFFLINE_SEEN_AGO = timedelta(days=3)


@dataclass
class CommandResult:
    status: str  # Apple: Acknowledged | Error | NotNow ...; Windows: the SyncML status code, e.g. "200"
    result: bytes  # the device's full answer (Fleet shows it base64-encoded)
    updated_at: datetime


@dataclass
class Command:
    command_uuid: str
    request_type: str
    payload: bytes
    platform: Literal["darwin", "windows"]
    host_uuids: tuple[str, ...]
    created_at: datetime
    results: dict[str, CommandResult] = field(default_factory=dict)
    #: Sent by Fleet itself (an iPad's refetch): never matched by pass-on-action rules.
    internal: bool = False


@dataclass
class ScriptExecution:
    execution_id: str
    host_id: int
    script: SeedScript
    created_at: datetime
    exit_code: int | None = None
    output: str = ""
    finished_at: datetime | None = None


@dataclass
class SoftwareInstall:
    install_uuid: str
    host_id: int
    title_id: int
    created_at: datetime
    status: str = "pending_install"
    finished_at: datetime | None = None


@dataclass
class Queued:
    """One thing waiting for the host's next check-in, and when it started waiting."""

    queued_at: datetime
    item: Command | ScriptExecution | SoftwareInstall


@dataclass
class PendingVersion:
    version: str | None
    queued_at: datetime


@dataclass
class Device:
    seed: SeedHost
    interval: timedelta
    anchor: datetime  # check-ins happen at anchor + k * interval while online
    last_checkin: datetime
    reported: dict[int, str]
    truth: dict[int, str]
    os_version: str
    online: bool
    fleetd: bool
    scripts_enabled: bool | None
    push_fails: bool
    policy_updated_at: datetime
    detail_updated_at: datetime
    refetch_requested_at: datetime | None = None
    offline_seen: datetime | None = None
    queue: list[Queued] = field(default_factory=list)
    #: Fixes that show one check-in after their action ran (takes_effect "next_check_in").
    deferred_fixes: list[tuple[datetime, int]] = field(default_factory=list)
    #: An update the device installs at its next check-in (ScheduleOSUpdate InstallASAP ran before).
    os_install: PendingVersion | None = None
    #: The user clicked "Update Now" (version None: the version the team's OS-update setting asks for).
    update_now: PendingVersion | None = None
    #: The team's DDM OS-update declaration as this device last received it: (version, deadline).
    declaration: tuple[str, str] | None = None
    #: The team's OS-update settings changed after the last delivery: deliver at the next check-in.
    declaration_due: datetime | None = None

    @classmethod
    def from_seed(cls, seed: SeedHost, settings: SeedSettings, loaded_at: datetime) -> Device:
        interval = timedelta(seconds=seed.checkin_interval_seconds or settings.checkin_interval_seconds)
        return cls(
            seed=seed,
            interval=interval,
            anchor=loaded_at,
            last_checkin=loaded_at,
            reported=dict(seed.policies),
            truth=dict(seed.policies),
            os_version=seed.os_version or DEFAULT_OS_VERSION.get(seed.platform, seed.platform),
            online=seed.online,
            fleetd=seed.has_fleetd,
            scripts_enabled=seed.scripts_enabled if seed.has_fleetd else None,
            push_fails=seed.push_fails,
            policy_updated_at=loaded_at if seed.online else loaded_at - OFFLINE_SEEN_AGO,
            detail_updated_at=loaded_at if seed.online else loaded_at - OFFLINE_SEEN_AGO,
            refetch_requested_at=loaded_at if seed.refetch_requested else None,
            offline_seen=None if seed.online else loaded_at - OFFLINE_SEEN_AGO,
        )

    @property
    def id(self) -> int:
        return self.seed.id

    @property
    def uuid(self) -> str:
        return self.seed.uuid

    @property
    def platform(self) -> str:
        return self.seed.platform

    @property
    def refetch_requested(self) -> bool:
        return self.refetch_requested_at is not None

    # -- the check-in schedule ---------------------------------------------------------------------

    def next_checkin_after(self, moment: datetime) -> datetime:
        steps = math.floor((moment - self.anchor) / self.interval) + 1
        return self.anchor + steps * self.interval

    def seen_time(self, now: datetime) -> datetime:
        if not self.online:
            return self.offline_seen or self.last_checkin
        steps = max(0, math.floor((now - self.anchor) / self.interval))
        return max(self.last_checkin, self.anchor + steps * self.interval)

    def go_offline(self, now: datetime) -> None:
        self.offline_seen = self.seen_time(now)
        self.online = False

    def checked_in(self, now: datetime) -> None:
        """A check-in out of turn (the host came back, or a push woke it): its interval restarts here."""
        self.online = True
        self.offline_seen = None
        self.anchor = self.last_checkin = now

    def waiting_since(self, policy_interval: timedelta, deadline: datetime | None) -> datetime | None:
        """The earliest moment something waits for a check-in (None: nothing to do but be seen)."""
        moments = [q.queued_at for q in self.queue] + [when for when, _ in self.deferred_fixes]
        moments += [p.queued_at for p in (self.os_install, self.update_now) if p is not None]
        if self.refetch_requested_at is not None:
            moments.append(self.refetch_requested_at)
        if self.declaration_due is not None:
            moments.append(self.declaration_due)
        if self.truth != self.reported:
            moments.append(self.policy_updated_at + policy_interval)
        if deadline is not None:
            moments.append(deadline)
        return min(moments) if moments else None
