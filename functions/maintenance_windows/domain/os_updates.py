"""OS updates on today's Apple OSes and on Windows: per host, who starts the update, and by when it happens.

Apple deprecated the ScheduleOSUpdate command in the 26 releases and removed it in 27: a device on 27 or
later answers it with "not a valid request type" (apple/device-management mdm/commands/system.update.*.yaml;
the stand-in answers Error 12021, docs/fleet-server.md). Updates there are declarative: Fleet turns a team's
`mdm.macos_updates` / `ios_updates` / `ipados_updates` `{minimum_version, deadline}` into a
`softwareupdate.enforcement.specific` declaration that installs the version at 12:00 device time on the
deadline day (server/service/apple_mdm.go), for macOS 14 and later, iOS and iPadOS. Where such a declaration
manages updates, ScheduleOSUpdate is ignored too. So, per host:

- MDM_COMMAND: the device accepts ScheduleOSUpdate (Apple OS before 27) and Fleet does not manage its
  updates: the window sends the command, as it always did.
- PERSON: everything else (27 and later, a team with Fleet OS-update settings, Windows): nothing is sent;
  the window is the time the person starts the update themselves, and the event says how and when the
  device installs it anyway.

Pure: versions, dates and zones are arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from maintenance_windows.domain.explanation import ActionBrief

#: The first Apple OS major without the ScheduleOSUpdate command.
COMMAND_REMOVED_MAJOR = 27
#: Fleet declares the enforcement to macOS 14 and later only (its built-in label "macOS 14+").
DECLARATION_MIN_MACOS = 14
#: Fleet's enforcement instant: this local time on the deadline day (apple_mdm.go, TargetLocalDateTime).
ENFORCED_AT = time(12, 0)
#: The kind of an ActionBrief for an update the person starts: the template and the AI text say so.
PERSON_KIND = "os_update_by_person"

_APPLE = frozenset({"darwin", "ios", "ipados"})
_PRODUCTS = {"darwin": "macOS", "ios": "iOS", "ipados": "iPadOS", "windows": "Windows"}
_DEVICES = {"darwin": "Mac", "ios": "iPhone", "ipados": "iPad", "windows": "PC"}
#: Where the person starts the update: the names Apple and Microsoft use in today's Settings apps.
_STEPS = {
    "darwin": "System Settings → General → Software Update → Update Now",
    "ios": "Settings → General → Software Update",
    "ipados": "Settings → General → Software Update",
    "windows": "Settings → Windows Update → Check for updates, then Restart now",
}
_TRAILING_VERSION = re.compile(r"(\d+(?:\.\d+)*)\s*$")


class Route(StrEnum):
    MDM_COMMAND = "mdm_command"
    PERSON = "person"


@dataclass(frozen=True)
class Enforcement:
    """A team's Apple OS-update setting in Fleet: install `minimum_version` on `deadline` at 12:00 local."""

    minimum_version: str
    deadline: date

    @classmethod
    def of(cls, minimum_version: str, deadline: str) -> Enforcement | None:
        """From Fleet's strings; None when the setting is off (either is empty) or unreadable."""
        if not minimum_version or not deadline or not version_tuple(minimum_version):
            return None
        try:
            return cls(minimum_version, date.fromisoformat(deadline))
        except ValueError:
            return None

    def instant(self, zone: str) -> datetime:
        return datetime.combine(self.deadline, ENFORCED_AT, ZoneInfo(zone))

    def applies_to(self, os_version: str) -> bool:
        """The declaration makes this host install something: it runs an older version."""
        return not at_least(os_version, self.minimum_version)


@dataclass(frozen=True)
class WindowsEnforcement:
    """A team's `mdm.windows_updates`: days until Windows installs an offered update, then until it restarts."""

    deadline_days: int
    grace_period_days: int


@dataclass(frozen=True)
class HostUpdate:
    """How one host's os_update is carried out."""

    platform: str  # darwin, ios, ipados, windows
    route: Route
    target_version: str | None  # what verification compares the reported version with
    enforcement: Enforcement | None = None  # Fleet's, when it makes this host install
    windows: WindowsEnforcement | None = None

    @property
    def steps(self) -> str:
        return person_steps(self.platform)


def version_tuple(text: str) -> tuple[int, ...]:
    """(26, 1) from "26.1" or from Fleet's "macOS 26.1"; () when there is no version."""
    found = _TRAILING_VERSION.search(text.strip())
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def os_major(os_version: str) -> int:
    parts = version_tuple(os_version)
    return parts[0] if parts else 0


def at_least(current: str, wanted: str) -> bool:
    """current ≥ wanted, comparing numbers (26.10 > 26.9); an unknown current version is not."""
    have, want = version_tuple(current), version_tuple(wanted)
    if not have:
        return False
    width = max(len(have), len(want))
    return have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))


def accepts_command(platform: str, os_version: str) -> bool:
    """The device still takes ScheduleOSUpdate (an Apple OS before 27)."""
    return platform in _APPLE and os_major(os_version) < COMMAND_REMOVED_MAJOR


def takes_declaration(platform: str, os_version: str) -> bool:
    """Fleet sends this host the enforcement declaration of its team's settings."""
    return platform in ("ios", "ipados") or (platform == "darwin" and os_major(os_version) >= DECLARATION_MIN_MACOS)


def plan_host_update(
    platform: str,
    os_version: str,
    target_version: str | None,
    enforcement: Enforcement | None,
    windows: WindowsEnforcement | None = None,
) -> HostUpdate:
    """The route for one host, from what Fleet reports and the team's Fleet settings (see the module docs).

    `target_version` is the action's version ("latest" already resolved), or None; the team's
    minimum_version stands in for it when Fleet enforces one."""
    if platform == "windows":
        return HostUpdate(platform, Route.PERSON, target_version, windows=windows)
    managed = enforcement is not None and takes_declaration(platform, os_version)
    target = target_version or (enforcement.minimum_version if enforcement else None)
    applied = enforcement if managed and enforcement and enforcement.applies_to(os_version) else None
    if managed or not accepts_command(platform, os_version):
        return HostUpdate(platform, Route.PERSON, target, applied)
    return HostUpdate(platform, Route.MDM_COMMAND, target)


def person_steps(platform: str) -> str:
    return _STEPS.get(platform, "the device's software update settings")


def product_name(platform: str) -> str:
    return _PRODUCTS.get(platform, "operating system")


def device_name(platform: str) -> str:
    return _DEVICES.get(platform, "device")


def person_brief(platform: str) -> ActionBrief:
    """The action as the person reads it: they start it, and the device restarts to finish."""
    return ActionBrief(
        kind=PERSON_KIND, summary=f"install the {product_name(platform)} update yourself", restarts_device=True
    )


def is_person_brief(brief: ActionBrief) -> bool:
    return brief.kind == PERSON_KIND


def first_enforceable_day(last_window_end: datetime) -> date:
    """The first deadline day whose 12:00 (in the window's zone) comes after the window ended."""
    day = last_window_end.date()
    return day + timedelta(days=1) if last_window_end.time() >= ENFORCED_AT else day


def managed_enforcement(
    current: Enforcement | None, target_version: str, window_ends: Iterable[datetime], margin_days: int
) -> Enforcement | None:
    """What `manage` sets in Fleet, or None when the current setting already serves (idempotent).

    The deadline falls `margin_days` after the first day that enforces after the team's last open window
    (each end given in its own window's zone). It never moves earlier for the same version: a date already
    promised in people's events stays true."""
    ends = list(window_ends)
    if not ends or not version_tuple(target_version):
        return None
    needed = max(first_enforceable_day(end) for end in ends) + timedelta(days=margin_days)
    if current is not None and current.minimum_version == target_version and current.deadline >= needed:
        return None
    return Enforcement(target_version, needed)
