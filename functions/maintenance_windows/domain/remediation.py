"""Remediation: which actions fix which failing policy, and the exact actions a window sends.

The models double as the schema of `actions:` in the team configuration (docs/actions.md). Matching:

- An entry names its policy by `policy_id`, or by `policy_name_pattern`, a shell-style glob (fnmatch:
  `*`, `?`, `[...]`) compared case-insensitively with the whole policy name. Globs rather than regular
  expressions because policy names are prose ("macOS - OS version up to date") full of characters that
  are special in a regex, and an administrator writing `macOS - *` should get what they read.
- For one policy on one host, entries with a matching `policy_id` are tried before pattern entries, each
  group in file order; the first entry whose `platforms` (if any) include the host's platform wins. So a
  policy may have one entry per platform, and a specific entry beats a broad pattern wherever it sits.
- Within a host, an action asked for by two policies is sent once, and actions that restart the device
  go last so they do not cut short a script or install queued before them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from maintenance_windows.domain import mdm_commands, os_updates
from maintenance_windows.domain.explanation import ActionBrief, PolicyBrief
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.ids import claim_id

if TYPE_CHECKING:
    from maintenance_windows.domain.windows import Window

APPLE_PLATFORMS = frozenset({"darwin", "ios", "ipados"})
WINDOWS_PLATFORMS = frozenset({"windows"})
#: Fleet's Linux platform names (server/fleet/hosts.go HostLinuxOSs), grouped under "linux" in filters.
LINUX_PLATFORMS = frozenset(
    {
        "linux",
        "ubuntu",
        "debian",
        "rhel",
        "centos",
        "sles",
        "kali",
        "gentoo",
        "amzn",
        "pop",
        "arch",
        "linuxmint",
        "void",
        "nixos",
        "endeavouros",
        "manjaro",
        "opensuse-leap",
        "opensuse-tumbleweed",
        "tuxedo",
        "neon",
        "archarm",
        "fedora",
    }
)
#: Fleet runs saved scripts on these (not on iOS, iPadOS, ChromeOS or Android).
SCRIPT_PLATFORMS = frozenset({"darwin", "windows"}) | LINUX_PLATFORMS
_PLATFORM_ALIASES = {"macos": "darwin", "mac": "darwin"}

_RESTARTING_APPLE_REQUESTS = frozenset({"RestartDevice", "ShutDownDevice"})
_RESTARTING_WINDOWS_PREFIX = "./Device/Vendor/MSFT/Reboot/"
_APPLE_SUMMARIES = {
    "RestartDevice": "restart",
    "ShutDownDevice": "shut down",
    "ScheduleOSUpdateScan": "check for operating system updates",
    "DeviceLock": "lock its screen",
}
_OS_UPDATE_SUMMARIES = {
    "InstallASAP": "install the macOS update{version} and restart",
    "InstallForceRestart": "install the macOS update{version} and restart",
    "InstallLater": "download the macOS update{version} and install it at the next restart",
    "DownloadOnly": "download the macOS update{version}",
    "NotifyOnly": "remind you to install the macOS update{version}",
    "Default": "install the macOS update{version}",
}
_RESTARTING_OS_UPDATES = frozenset({"InstallASAP", "InstallForceRestart"})
#: os_update runs on these: Apple devices (by command or by the person), Windows (by the person).
OS_UPDATE_PLATFORMS = frozenset({"darwin", "ios", "ipados", "windows"})
_OS_PRODUCTS = {"darwin": "macOS", "ios": "iOS", "ipados": "iPadOS", "windows": "Windows"}
LATEST = "latest"

PlistParam = str | int | float | bool | list[str | int | float | bool]


def platform_family(platform: str) -> str:
    """darwin, windows, linux, ios, ipados, chrome, ... (a Linux distribution becomes "linux")."""
    name = platform.strip().lower()
    return "linux" if name in LINUX_PLATFORMS else _PLATFORM_ALIASES.get(name, name)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Action(_Frozen):
    #: Overrides the generated plain-words description (a verb phrase: "install the VPN client").
    summary: str | None = Field(default=None, min_length=1, max_length=200)


class MdmCommandAction(_Action):
    """An MDM command: an Apple request type (with params), an Apple plist, or a Windows <Exec> LocURI."""

    type: Literal["mdm_command"]
    apple_request_type: str | None = Field(default=None, pattern=r"^[A-Z][A-Za-z0-9]{2,63}$")
    params: dict[str, PlistParam] = Field(default_factory=dict)
    raw_plist_base64: str | None = Field(default=None, min_length=8)
    windows_exec_loc_uri: str | None = Field(default=None, pattern=r"^\./(Device|User)/[^\s<>&]+$")
    windows_data: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def _one_command(self) -> MdmCommandAction:
        given = [self.apple_request_type, self.raw_plist_base64, self.windows_exec_loc_uri]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of apple_request_type, raw_plist_base64, windows_exec_loc_uri")
        if self.params and self.apple_request_type is None:
            raise ValueError("params go with apple_request_type only")
        if "RequestType" in self.params:
            raise ValueError("params must not set RequestType; use apple_request_type")
        if self.windows_data is not None and self.windows_exec_loc_uri is None:
            raise ValueError("windows_data goes with windows_exec_loc_uri only")
        if self.raw_plist_base64 is not None:
            mdm_commands.parse_apple_command(mdm_commands.decode_base64(self.raw_plist_base64))
        return self

    @property
    def request_type(self) -> str:
        """The Apple RequestType or the Windows LocURI: what Fleet lists as the command's request type."""
        if self.apple_request_type is not None:
            return self.apple_request_type
        if self.windows_exec_loc_uri is not None:
            return self.windows_exec_loc_uri
        raw = mdm_commands.decode_base64(self.raw_plist_base64 or "")
        return str(mdm_commands.parse_apple_command(raw)["Command"]["RequestType"])

    def runs_on(self, platform: str) -> bool:
        targets = WINDOWS_PLATFORMS if self.windows_exec_loc_uri is not None else APPLE_PLATFORMS
        return platform_family(platform) in targets

    def will_restart(self) -> bool:
        if self.windows_exec_loc_uri is not None:
            return self.windows_exec_loc_uri.startswith(_RESTARTING_WINDOWS_PREFIX)
        return self.request_type in _RESTARTING_APPLE_REQUESTS

    def default_summary(self) -> str:
        if self.windows_exec_loc_uri is not None:
            if self.will_restart():
                return "restart"
            return f"receive the device-management command {self.windows_exec_loc_uri.rsplit('/', 1)[-1]}"
        known = _APPLE_SUMMARIES.get(self.request_type)
        return known or f"receive the device-management command {self.request_type}"

    def payload(self, command_uuid: str) -> bytes:
        if self.windows_exec_loc_uri is not None:
            return mdm_commands.windows_exec(self.windows_exec_loc_uri, command_uuid, self.windows_data)
        if self.raw_plist_base64 is not None:
            raw = mdm_commands.decode_base64(self.raw_plist_base64)
            return mdm_commands.apple_command_from_plist(raw, command_uuid)
        return mdm_commands.apple_command(self.request_type, command_uuid, self.params)


class ScriptAction(_Action):
    """A script saved in Fleet, by id or by name (a name is looked up in the host's team)."""

    type: Literal["script"]
    script_id: int | None = Field(default=None, gt=0)
    script_name: str | None = Field(default=None, min_length=1, max_length=255)
    #: Say so when the script restarts the device, so the event text can warn the user.
    restarts_device: bool = False

    @model_validator(mode="after")
    def _one_script(self) -> ScriptAction:
        if (self.script_id is None) == (self.script_name is None):
            raise ValueError("give exactly one of script_id and script_name")
        return self

    def runs_on(self, platform: str) -> bool:
        return platform_family(platform) in SCRIPT_PLATFORMS

    def will_restart(self) -> bool:
        return self.restarts_device

    def default_summary(self) -> str:
        if self.script_name is not None:
            return f"run the IT script “{self.script_name}”"
        return f"run an IT script (number {self.script_id})"


class SoftwareInstallAction(_Action):
    """Install a software title (package or App Store app) that Fleet offers to the host's team."""

    type: Literal["software_install"]
    software_title_id: int = Field(gt=0)
    restarts_device: bool = False

    def runs_on(self, platform: str) -> bool:  # noqa: ARG002  # every platform; every action's signature
        return True

    def will_restart(self) -> bool:
        return self.restarts_device

    def default_summary(self) -> str:
        return "install software your IT team requires"


class OsUpdateAction(_Action):
    """An OS update for Apple devices and Windows PCs.

    How it is carried out is chosen per host when the window starts (domain/os_updates.py): Apple's
    ScheduleOSUpdate command where the device still accepts it and Fleet does not manage the team's updates,
    otherwise the window is the time the person installs the update themselves, before the device does it
    by Fleet's deadline."""

    type: Literal["os_update"]
    install_action: Literal[
        "InstallASAP", "InstallForceRestart", "InstallLater", "DownloadOnly", "NotifyOnly", "Default"
    ] = "InstallASAP"
    #: A version ("15.1"), or "latest": the newest release in the public feed (docs/actions.md).
    product_version: str | None = Field(default=None, pattern=r"^(latest|\d{1,3}(\.\d{1,3}){0,2})$")
    product_key: str | None = Field(default=None, min_length=1, max_length=100)
    max_user_deferrals: int | None = Field(default=None, ge=1, le=100)
    priority: Literal["Low", "High"] | None = None

    @model_validator(mode="after")
    def _deferrals_need_install_later(self) -> OsUpdateAction:
        if self.max_user_deferrals is not None and self.install_action != "InstallLater":
            raise ValueError("max_user_deferrals applies to install_action InstallLater only")
        return self

    @property
    def wants_latest(self) -> bool:
        return self.product_version == LATEST

    def resolved(self, version: str | None) -> OsUpdateAction:
        """This action with "latest" replaced by `version` (None: no version, the device picks)."""
        return self.model_copy(update={"product_version": version}) if self.wants_latest else self

    def runs_on(self, platform: str) -> bool:
        return platform_family(platform) in OS_UPDATE_PLATFORMS

    def will_restart(self) -> bool:
        return self.install_action in _RESTARTING_OS_UPDATES

    def default_summary(self, platform: str | None = None) -> str:
        version = f" {self.product_version}" if self.product_version and not self.wants_latest else ""
        product = _OS_PRODUCTS.get(platform_family(platform or "darwin"), "operating system")
        return _OS_UPDATE_SUMMARIES[self.install_action].format(version=version).replace("macOS", product)

    def payload(self, command_uuid: str) -> bytes:
        return mdm_commands.schedule_os_update(
            command_uuid,
            install_action=self.install_action,
            product_version=None if self.wants_latest else self.product_version,
            product_key=self.product_key,
            max_user_deferrals=self.max_user_deferrals,
            priority=self.priority,
        )


class RefetchAction(_Action):
    """Ask the host to report its details and policy results again."""

    type: Literal["refetch"]

    def runs_on(self, platform: str) -> bool:  # noqa: ARG002  # every platform; every action's signature
        return True

    def will_restart(self) -> bool:
        return False

    def default_summary(self) -> str:
        return "report its current settings to your IT team"


RemediationAction = Annotated[
    MdmCommandAction | ScriptAction | SoftwareInstallAction | OsUpdateAction | RefetchAction,
    Field(discriminator="type"),
]
MdmAction = MdmCommandAction | OsUpdateAction


def brief_of(action: RemediationAction, platform: str | None = None) -> ActionBrief:
    default = action.default_summary(platform) if isinstance(action, OsUpdateAction) else action.default_summary()
    return ActionBrief(
        kind=action.type,
        summary=action.summary or default,
        restarts_device=action.will_restart(),
        configured=action.summary is not None,
    )


class PolicyActions(_Frozen):
    """One entry of `actions:`: which policy it fixes, on which platforms, and how."""

    policy_id: int | None = Field(default=None, gt=0)
    policy_name_pattern: str | None = Field(default=None, min_length=1, max_length=300)
    #: Fleet platform names (darwin, windows, ubuntu, ios...) or "linux" for every distribution; None: all.
    platforms: list[str] | None = Field(default=None, min_length=1)
    actions: list[RemediationAction] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _one_selector(self) -> PolicyActions:
        if (self.policy_id is None) == (self.policy_name_pattern is None):
            raise ValueError("give exactly one of policy_id and policy_name_pattern")
        return self

    @field_validator("platforms")
    @classmethod
    def _known_shape(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [_PLATFORM_ALIASES.get(name.strip().lower(), name.strip().lower()) for name in value]
        for name in cleaned:
            if not name or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"platform {name!r} is not a Fleet platform name")
        return cleaned

    def selects(self, policy_id: int, policy_name: str) -> bool:
        if self.policy_id is not None:
            return self.policy_id == policy_id
        pattern = (self.policy_name_pattern or "").casefold()
        return fnmatch.fnmatchcase(policy_name.casefold(), pattern)

    def applies_to(self, platform: str) -> bool:
        if self.platforms is None:
            return True
        return platform.strip().lower() in self.platforms or platform_family(platform) in self.platforms


def entry_for(
    entries: Sequence[PolicyActions], policy_id: int, policy_name: str, platform: str | None
) -> PolicyActions | None:
    """The entry that fixes this policy on this platform (None: nothing automatic). See the module docs."""
    by_id = [entry for entry in entries if entry.policy_id is not None and entry.selects(policy_id, policy_name)]
    by_name = [entry for entry in entries if entry.policy_id is None and entry.selects(policy_id, policy_name)]
    for entry in (*by_id, *by_name):
        if entry.applies_to(platform) if platform is not None else entry.platforms is None:
            return entry
    return None


@dataclass(frozen=True)
class PlannedAction:
    """One action for one host, named by (window, revision, host, policy, index) so retries find it."""

    window_id: str
    revision: int
    host_id: int
    host_uuid: str
    team_id: int | None
    policy_id: int
    index: int
    action: RemediationAction

    @property
    def key(self) -> str:
        return f"{self.window_id}/r{self.revision}/h{self.host_id}/p{self.policy_id}/a{self.index}"

    @property
    def claim_id(self) -> str:
        return claim_id("action", self.window_id, self.revision, self.host_id, self.policy_id, self.index)

    @property
    def command_uuid(self) -> str:
        """The MDM command's id (Apple CommandUUID, Windows CmdID): stable across retries."""
        return mdm_commands.command_id(self.key)

    def command_base64(self) -> str:
        if not isinstance(self.action, MdmCommandAction | OsUpdateAction):
            raise TypeError(f"{self.action.type} is not an MDM command")
        return mdm_commands.encode(self.action.payload(self.command_uuid))

    def describe(self) -> str:
        """For logs and window history: ids and what was asked of Fleet, never user data."""
        return f"host {self.host_id} policy {self.policy_id}: {self.action.type}{_detail(self.action)}"


def _detail(action: RemediationAction) -> str:
    match action:
        case MdmCommandAction():
            return f" {action.request_type}"
        case ScriptAction():
            return f" {action.script_id or action.script_name}"
        case SoftwareInstallAction():
            return f" title {action.software_title_id}"
        case OsUpdateAction():
            return f" {action.install_action}" + (f" {action.product_version}" if action.product_version else "")
        case _:
            return ""


def failing_window_policies(window: Window, host: FleetHost) -> list[int]:
    return sorted(host.failing_policy_ids() & set(window.policy_ids))


def plan_actions(
    window: Window,
    hosts: Iterable[FleetHost],
    entries: Sequence[PolicyActions],
    policy_names: Mapping[int, str] | None = None,
) -> list[PlannedAction]:
    """Every action the window sends, host by host, for the window's policies each host fails now.

    `entries` is the team's `actions:` list (TeamRules.actions)."""
    planned: list[PlannedAction] = []
    for host in sorted(hosts, key=lambda h: h.host_id):
        names = {policy.policy_id: policy.name for policy in host.policies} | dict(policy_names or {})
        planned.extend(_plan_host(window, host, entries, names))
    return planned


def _plan_host(
    window: Window, host: FleetHost, entries: Sequence[PolicyActions], names: Mapping[int, str]
) -> list[PlannedAction]:
    chosen: list[PlannedAction] = []
    seen: set[str] = set()
    for policy_id in failing_window_policies(window, host):
        entry = entry_for(entries, policy_id, names.get(policy_id, ""), host.platform)
        for index, action in enumerate(entry.actions if entry else ()):
            identity = action.model_dump_json()
            if not action.runs_on(host.platform) or identity in seen:
                continue
            seen.add(identity)
            chosen.append(
                PlannedAction(
                    window.window_id, window.revision, host.host_id, host.uuid, host.team_id, policy_id, index, action
                )
            )
    # sorted() is stable: configured order holds within "keeps running" and within "restarts".
    return sorted(chosen, key=lambda planned: planned.action.will_restart())


def briefs_for(
    policies: Sequence[PolicyBrief],
    platforms: Sequence[str],
    entries: Sequence[PolicyActions],
    person_platforms: Collection[str] = (),
) -> list[ActionBrief]:
    """What will happen in the window, in plain words, for the event text.

    Each policy is looked up per platform of the user's hosts (with no platform known, entries without a
    platform filter count). Duplicates are dropped and restarts go last, as plan_actions orders them. An
    os_update on a platform in `person_platforms` (and on Windows always) is the person's to start, which
    its brief says (domain/os_updates.py).
    """
    wanted: list[str | None] = list(dict.fromkeys(platforms)) or [None]
    briefs: list[ActionBrief] = []
    for policy in sorted(policies, key=lambda p: p.policy_id):
        for platform in wanted:
            entry = entry_for(entries, policy.policy_id, policy.name, platform)
            for action in entry.actions if entry else ():
                if platform is not None and not action.runs_on(platform):
                    continue
                brief = _brief_on(action, platform, person_platforms)
                if brief not in briefs:
                    briefs.append(brief)
    return sorted(briefs, key=lambda brief: brief.restarts_device)


def _brief_on(action: RemediationAction, platform: str | None, person_platforms: Collection[str]) -> ActionBrief:
    by_person = platform is not None and (platform in person_platforms or platform_family(platform) == "windows")
    if isinstance(action, OsUpdateAction) and platform is not None and by_person:
        return os_updates.person_brief(platform_family(platform))
    return brief_of(action, platform)
