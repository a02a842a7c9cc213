"""OS versions and the OS-update settings Fleet keeps per team (mdm.macos_updates & co).

Validation follows server/fleet/app.go (AppleOSUpdateSettings.Validate, WindowsUpdates.Validate); the
enforcement time follows server/service/apple_mdm.go (mdmAppleEditedAppleOSUpdates): Fleet declares
com.apple.configuration.softwareupdate.enforcement.specific with TargetLocalDateTime "<deadline>T12:00:00",
for macOS 14 and later, iOS and iPadOS.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from infra.fleet_server.errors import bad_request, invalid_argument
from infra.fleet_server.seed import AppleOSUpdates, SeedTeamMDM, WindowsOSUpdates

_VERSION = re.compile(r"^\d+(\.\d+)?(\.\d+)?$")
_TRAILING_VERSION = re.compile(r"(\d+(?:\.\d+)*)\s*$")
#: Which team setting governs which platform.
APPLE_SETTING = {"darwin": "macos_updates", "ios": "ios_updates", "ipados": "ipados_updates"}
_PRODUCT = {"darwin": "macOS", "ios": "iOS", "ipados": "iPadOS"}
DEFAULT_OS_VERSION = {
    "darwin": "macOS 15.3",
    "ios": "iOS 18.3",
    "ipados": "iPadOS 18.3",
    "windows": "Windows 11 Pro 24H2 10.0.26100.2605",
    "ubuntu": "Ubuntu 24.04.1 LTS",
}
#: The enforcement declaration is sent to macOS 14+ only (Fleet's built-in label "macOS 14+").
DDM_MIN_MACOS = 14


def version_tuple(text: str) -> tuple[int, ...]:
    """(15, 3, 1) from "15.3.1" or from Fleet's "macOS 15.3.1"; () when there is no version."""
    found = _TRAILING_VERSION.search(text.strip())
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def major(text: str) -> int:
    parts = version_tuple(text)
    return parts[0] if parts else 0


def at_least(current: str, wanted: str) -> bool:
    return _padded(version_tuple(current)) >= _padded(version_tuple(wanted))


def _padded(parts: tuple[int, ...]) -> tuple[int, ...]:
    return parts + (0,) * (4 - len(parts))


def os_version_text(platform: str, version: str, previous: str) -> str:
    """The os_version Fleet shows after an update to `version` ("macOS 26.1")."""
    if platform in _PRODUCT:
        return f"{_PRODUCT[platform]} {version}"
    found = _TRAILING_VERSION.search(previous)
    return previous[: found.start(1)] + version if found else version


def takes_declaration(platform: str, os_version: str) -> bool:
    return platform in ("ios", "ipados") or (platform == "darwin" and major(os_version) >= DDM_MIN_MACOS)


def deadline_instant(deadline: str, zone: str) -> datetime:
    """12:00 in the device's time zone on the deadline day."""
    return datetime.combine(date.fromisoformat(deadline), time(12, 0), ZoneInfo(zone))


def apple_settings_for(mdm: SeedTeamMDM, platform: str) -> AppleOSUpdates | None:
    name = APPLE_SETTING.get(platform)
    settings: AppleOSUpdates | None = getattr(mdm, name) if name else None
    return settings if settings is not None and settings.minimum_version and settings.deadline else None


def apply_patch(current: SeedTeamMDM, patch: object) -> SeedTeamMDM:
    """The team's mdm settings after a PATCH /teams/:id body's "mdm" object; Fleet's messages on refusal."""
    if patch is None:
        return current
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal mdm into Go struct field TeamPayload.mdm")
    known = {*APPLE_SETTING.values(), "windows_updates", "enable_disk_encryption"}
    unknown = sorted(set(patch) - known)
    if unknown:
        # Stricter than Fleet, which ignores keys it does not know: a typo must not pass silently.
        raise bad_request(f"json: unknown field {unknown[0]!r} in mdm")
    updated = current.model_copy(deep=True)
    for name in APPLE_SETTING.values():
        if name in patch:
            setattr(updated, name, _apple(name, patch[name], getattr(current, name)))
    if "windows_updates" in patch:
        updated.windows_updates = _windows(patch["windows_updates"], current.windows_updates)
    if "enable_disk_encryption" in patch:
        if not isinstance(patch["enable_disk_encryption"], bool):
            raise bad_request("json: cannot unmarshal enable_disk_encryption into Go value of type bool")
        updated.enable_disk_encryption = patch["enable_disk_encryption"]
    return updated


def _apple(name: str, value: object, current: AppleOSUpdates) -> AppleOSUpdates:
    if value is None:
        return current
    fields = _object(name, value, {"minimum_version", "deadline"})
    minimum = _optional_string(name, fields, "minimum_version")
    deadline = _optional_string(name, fields, "deadline")
    problem = _apple_problem(minimum, deadline)
    if problem:
        raise invalid_argument(name, problem)
    if minimum is None and deadline is None:
        return current  # neither key sent: Fleet keeps what it had
    return AppleOSUpdates(minimum_version=minimum or "", deadline=deadline or "")


def _apple_problem(minimum: str | None, deadline: str | None) -> str | None:
    """AppleOSUpdateSettings.Validate, same messages in the same order (None: key absent)."""
    if not minimum and not deadline:
        if minimum is not None and deadline is None:
            return "deadline is required when minimum_version is provided"
        if minimum is None and deadline is not None:
            return "minimum_version is required when deadline is provided"
        return None
    if minimum and not deadline:
        return "deadline is required when minimum_version is provided"
    if deadline and not minimum:
        return "minimum_version is required when deadline is provided"
    if not _VERSION.match(minimum or ""):
        return 'minimum_version accepts version numbers only. (E.g., "13.0.1.") NOT "Ventura 13" or "13.0.1 (22A400)"'
    try:
        date.fromisoformat(deadline or "")
    except ValueError:
        return 'deadline accepts YYYY-MM-DD format only (E.g., "2023-06-01.")'
    if len(deadline or "") != len("2023-06-01"):
        return 'deadline accepts YYYY-MM-DD format only (E.g., "2023-06-01.")'
    return None


def _windows(value: object, current: WindowsOSUpdates) -> WindowsOSUpdates:
    if value is None:
        return current
    fields = _object("windows_updates", value, {"deadline_days", "grace_period_days"})
    deadline = _optional_int(fields, "deadline_days")
    grace = _optional_int(fields, "grace_period_days")
    if not fields:
        return current
    if (deadline is None) != (grace is None):
        missing = "grace_period_days" if grace is None else "deadline_days"
        present = "deadline_days" if grace is None else "grace_period_days"
        raise invalid_argument("windows_updates", f"{missing} is required when {present} is provided")
    if deadline is not None and not 0 <= deadline <= 30:
        raise invalid_argument("windows_updates", "deadline_days must be an integer between 0 and 30")
    if grace is not None and not 0 <= grace <= 7:
        raise invalid_argument("windows_updates", "grace_period_days must be an integer between 0 and 7")
    return WindowsOSUpdates(deadline_days=deadline, grace_period_days=grace)


def _object(name: str, value: object, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"json: cannot unmarshal {type(value).__name__} into Go struct field mdm.{name}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise bad_request(f"json: unknown field {unknown[0]!r} in mdm.{name}")
    return value


def _optional_string(name: str, fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if key in fields and value is None:
        return ""  # optjson.String: null is "set to empty"
    if value is not None and not isinstance(value, str):
        raise bad_request(f"json: cannot unmarshal {type(value).__name__} into Go struct field mdm.{name}.{key}")
    return value


def _optional_int(fields: dict[str, Any], key: str) -> int | None:
    value = fields.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad_request(f"json: cannot unmarshal {type(value).__name__} into Go struct field windows_updates.{key}")
    return value
