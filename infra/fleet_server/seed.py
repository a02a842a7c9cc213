"""The seed file: what the stand-in Fleet knows at start (and after /_admin/reset).

Seeds are validated strictly (unknown keys, duplicate ids, bad values are refused with the place named);
the live state (state.py, devices.py) is built from a deep copy, so a reset always starts from the seed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from maintenance_windows.domain.input_problems import summary

PolicyResponse = Literal["pass", "fail", ""]
License = Literal["premium", "free"]
APPLE_MOBILE = frozenset({"ios", "ipados"})

#: Fleet's own defaults for an osquery host: distributed_interval 10 s, policy_update_interval 1 h.
#: Locally a host checks in every few seconds so a test or the demo does not wait long.
DEFAULT_CHECKIN_SECONDS = 5.0
DEFAULT_POLICY_UPDATE_SECONDS = 3600.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedSettings(_Model):
    #: Fleet Premium or Fleet Free: Free answers 402 to team scripts, software installs, lock/wipe, teams.
    license: License = "premium"
    #: Seconds between two check-ins of every online host (a host may override it).
    checkin_interval_seconds: float = Field(default=DEFAULT_CHECKIN_SECONDS, gt=0, le=86400)
    #: Policies re-run on their own this long after the last run, refetch or not (Fleet: 1 h).
    policy_update_interval_seconds: float = Field(default=DEFAULT_POLICY_UPDATE_SECONDS, gt=0)
    #: Fleet's server_settings.scripts_disabled: every script run answers 403.
    scripts_disabled: bool = False


class SeedEmail(_Model):
    email: str
    source: str = "google_chrome_profiles"


class SeedHost(_Model):
    id: int = Field(gt=0)
    uuid: str = Field(min_length=1)
    hardware_serial: str = ""
    platform: str = "darwin"
    team_id: int | None = None
    display_name: str = ""
    hostname: str = ""
    emails: list[SeedEmail] = Field(default_factory=list)
    #: policy id → "pass" | "fail" | "" (not run yet): what Fleet holds and what the device would report.
    #: JSON keys are strings; pydantic makes them ints.
    policies: dict[int, PolicyResponse] = Field(default_factory=dict)
    mdm_enrolled: bool = True
    refetch_requested: bool = False
    #: Fleet's os_version text, e.g. "macOS 15.3.1", "iPadOS 18.1", "Windows 11 Pro 24H2 10.0.26100.2605".
    os_version: str = ""
    #: False: the host does not check in (Fleet shows it offline) until an admin brings it online.
    online: bool = True
    #: fleetd (orbit) installed. Plain-osquery hosts and iPhones/iPads have none: no scripts, no packages.
    fleetd: bool | None = None
    #: What the last detail query said; None is an older orbit that does not report it.
    scripts_enabled: bool | None = True
    #: The device's own time zone: Fleet's OS-update deadline is 12:00 local time on the deadline day.
    timezone: str = "UTC"
    checkin_interval_seconds: float | None = Field(default=None, gt=0, le=86400)
    #: The Apple push notification to this device fails (Fleet answers 502 after queueing the command).
    push_fails: bool = False
    #: Names of the manual labels the host is a member of (besides Fleet's builtin "All Hosts").
    labels: list[str] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.display_name or self.hostname or f"host-{self.id}"

    @property
    def has_fleetd(self) -> bool:
        return self.fleetd if self.fleetd is not None else self.platform not in APPLE_MOBILE

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class SeedPolicy(_Model):
    id: int = Field(gt=0)
    name: str
    description: str = ""
    resolution: str = ""
    query: str = "SELECT 1;"
    platform: str = ""
    critical: bool = False
    team_id: int | None = None
    calendar_events_enabled: bool = False
    #: Simulation only: the policy passes on hosts whose OS version is at least this ("15.4").
    min_os_version: str | None = Field(default=None, pattern=r"^\d+(\.\d+){0,2}$")


class SeedScript(_Model):
    id: int = Field(gt=0)
    name: str
    team_id: int | None = None
    contents: str = "#!/bin/sh\necho done"
    exit_code: int = 0
    output: str = "done"


class SeedSoftwareTitle(_Model):
    id: int = Field(gt=0)
    name: str
    #: Teams with an installer for this title (None: installable everywhere). 0 stands for "no team".
    team_ids: list[int] | None = None
    kind: Literal["package", "app_store_app"] = "package"
    version: str = "1.0"
    source: str = "apps"


class AppleOSUpdates(_Model):
    minimum_version: str = ""
    deadline: str = ""


class WindowsOSUpdates(_Model):
    deadline_days: int | None = None
    grace_period_days: int | None = None


class SeedTeamMDM(_Model):
    macos_updates: AppleOSUpdates = Field(default_factory=AppleOSUpdates)
    ios_updates: AppleOSUpdates = Field(default_factory=AppleOSUpdates)
    ipados_updates: AppleOSUpdates = Field(default_factory=AppleOSUpdates)
    windows_updates: WindowsOSUpdates = Field(default_factory=WindowsOSUpdates)
    enable_disk_encryption: bool = False


class SeedTeam(_Model):
    id: int = Field(gt=0)
    name: str = ""
    description: str = ""
    mdm: SeedTeamMDM = Field(default_factory=SeedTeamMDM)
    #: The team's integrations.google_calendar (GET /teams/:id shows it).
    calendar_webhook_url: str = ""
    calendar_events_enabled: bool = False


class Seed(_Model):
    settings: SeedSettings = Field(default_factory=SeedSettings)
    teams: list[SeedTeam] = Field(default_factory=list)
    hosts: list[SeedHost] = Field(default_factory=list)
    policies: list[SeedPolicy] = Field(default_factory=list)
    scripts: list[SeedScript] = Field(default_factory=list)
    software_titles: list[SeedSoftwareTitle] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Seed:
        for kind, ids in (
            ("team id", [t.id for t in self.teams]),
            ("host id", [h.id for h in self.hosts]),
            ("host uuid", [h.uuid for h in self.hosts]),
            ("policy id", [p.id for p in self.policies]),
            ("script id", [s.id for s in self.scripts]),
            ("software title id", [t.id for t in self.software_titles]),
        ):
            duplicates = _duplicates(ids)
            if duplicates:
                raise ValueError(f"duplicate {kind}: {', '.join(duplicates)}")
        return self

    def all_teams(self) -> list[SeedTeam]:
        """The seeded teams plus a plain "Team N" for every team id a host, policy or script names."""
        known = {t.id: t for t in self.teams}
        named = [h.team_id for h in self.hosts] + [p.team_id for p in self.policies] + [s.team_id for s in self.scripts]
        for team_id in sorted({t for t in named if t}):
            known.setdefault(team_id, SeedTeam(id=team_id))
        return [known[i].model_copy(update={"name": known[i].name or f"Team {i}"}) for i in sorted(known)]


def _duplicates(values: Sequence[object]) -> list[str]:
    return sorted(str(value) for value, count in Counter(values).items() if count > 1)


class SeedError(Exception):
    pass


def parse_seed(data: dict[str, Any] | None) -> Seed:
    try:
        return Seed.model_validate(data or {})
    except ValidationError as error:
        raise SeedError(f"invalid seed: {summary(error)}") from None


def load_seed_file(path: str | Path) -> Seed:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SeedError(f"cannot read seed file {path}: {error}") from None
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path} must hold a JSON object")
    return parse_seed(data)
