"""FleetPort and FleetCatalogPort in process memory, for unit tests and benchmarks.

It keeps the ports' contract and the Fleet behaviour the product relies on, as the Fleet stand-in serves it
(docs/fleet-server.md gives the Fleet source for each; tests/integration/fleet/test_memory_fleet_parity.py
compares the two):

- Per-host calls on an unknown host are FleetNotFound (404). An MDM command whose CommandUUID Fleet already
  holds is refused with 409, one for no known host is 404, mixed platforms or a payload not of the hosts'
  kind (a plist for Apple, a SyncML <Exec> for Windows) are refused as Fleet refuses them.
- Hosts check in: a refetch only sets `refetch_requested`; at the host's next check-in (check_in(), or by
  itself every `checkin_interval` when a clock is given) it runs what was queued for it, then its
  policies when a refetch is pending or Fleet's policy interval has passed: Fleet's results become what
  the device reports, `policy_updated_at` moves to that check-in and `refetch_requested` clears. An
  offline host checks in when it comes back.
- With scripts or titles registered (add_script, add_software_title), an unknown script is refused (422 by
  name, 404 by id), a title not offered is a 400, and a script or install already pending on the host
  answers 409 / 400 with Fleet's words. Without, any id or name is accepted.
- Team OS-update settings are read and PATCHed (only the settings sent change); policies are listed with
  their calendar_events_enabled, and get_policy finds a global policy with no team, a team's own policy
  with its team, anything else FleetNotFound (404), as Fleet does.

Test controls: add_host, set_policy, remove_host, pass_at_next_refetch (the device is fixed; Fleet learns
it when policies next run), pass_on_action, set_online, check_in, update_now, add_script,
add_software_title, add_policy, set_team_os_updates and fail_next (queue an error for the next call of a
method: FleetUnavailable for an outage, FleetError for a refusal).
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from maintenance_windows.domain import mdm_commands
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.remediation import APPLE_PLATFORMS, WINDOWS_PLATFORMS
from maintenance_windows.ports.fleet import (
    ActionReceipt,
    AppleOSUpdates,
    DeviceEmail,
    FleetError,
    FleetNotFound,
    FleetPolicy,
    FleetScript,
    FleetTeam,
    InstallableSoftware,
    TeamOSUpdates,
    WindowsOSUpdates,
)

SCRIPT_QUEUED = "Validation Failed; script_id: The script is already queued on the given host."
INSTALL_PENDING = "Bad request; Couldn't install. Host already has a pending install/uninstall for this installer."
NOT_INSTALLABLE = (
    "Bad request; Couldn't install software. Software title is not available for install. "
    "Please add software package or App Store app to install."
)
POLICY_UPDATE_INTERVAL = timedelta(hours=1)
_PRODUCTS = {"darwin": "macOS", "ios": "iOS", "ipados": "iPadOS"}


@dataclass(frozen=True)
class FleetAction:
    """One action Fleet accepted: what it was, for which hosts, and the reference Fleet answered."""

    kind: str  # mdm_command | script | software_install
    host_ids: tuple[int, ...]
    reference: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Device:
    """What the device itself would report, and what waits for its next check-in."""

    policies: dict[int, str]
    queued: list[FleetAction] = field(default_factory=list)
    update_to: str | None = None
    last_check_in: datetime | None = None


@dataclass(frozen=True)
class _PassRule:
    host_id: int
    policy_id: int
    kind: str
    reference: str | None


class MemoryFleet:
    def __init__(
        self,
        hosts: Iterable[FleetHost] = (),
        emails: Mapping[int, Sequence[DeviceEmail]] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        checkin_interval: timedelta | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._interval = checkin_interval
        self.hosts: dict[int, FleetHost] = {}
        self._devices: dict[int, _Device] = {}
        self.emails: dict[int, list[DeviceEmail]] = {key: list(value) for key, value in (emails or {}).items()}
        self.actions: list[FleetAction] = []
        self.refetches: list[int] = []
        self.webhooks: list[tuple[str, dict[str, Any]]] = []
        self.team_patches: list[tuple[int, dict[str, Any]]] = []
        self.teams: dict[int, TeamOSUpdates] = {}
        self.policies: dict[int, FleetPolicy] = {}
        #: (policy id, team id) of every get_policy, for tests of the policy-text cache.
        self.policy_reads: list[tuple[int, int | None]] = []
        self.scripts: dict[int, FleetScript] = {}
        self.titles: dict[int, tuple[InstallableSoftware, frozenset[int]]] = {}
        self._command_uuids: set[str] = set()
        self._rules: list[_PassRule] = []
        self._faults: dict[str, list[Exception]] = {}
        for host in hosts:
            self._add(host)

    # ---- test controls -----------------------------------------------------------------------------

    def follow_clock(self, clock: Callable[[], datetime], checkin_interval: timedelta) -> None:
        """From now on hosts check in by themselves every `checkin_interval` of `clock`."""
        with self._lock:
            self._clock, self._interval = clock, checkin_interval
            for device in self._devices.values():
                device.last_check_in = clock()

    def add_host(self, host: FleetHost, emails: Sequence[DeviceEmail] = ()) -> None:
        with self._lock:
            self._add(host)
            self.emails[host.host_id] = list(emails)

    def remove_host(self, host_id: int) -> None:
        with self._lock:
            self.hosts.pop(host_id, None)

    def set_policy(self, host_id: int, policy_id: int, response: str, name: str | None = None) -> None:
        """The host's latest result for the policy ("pass", "fail" or "" for not run yet), in Fleet and on
        the device alike."""
        with self._lock:
            self._devices[host_id].policies[policy_id] = response
            self._report_policy(host_id, policy_id, response, name)

    def pass_at_next_refetch(self, host_id: int, *policy_ids: int) -> None:
        """The fix worked on the device: when the host next runs its policies (after a refetch, at a
        check-in) it reports these policies (all, if none given) passing."""
        with self._lock:
            device = self._devices[host_id]
            for policy in policy_ids or tuple(p.policy_id for p in self.hosts[host_id].policies):
                device.policies[policy] = "pass"

    def pass_on_action(self, host_id: int, policy_id: int, kind: str, reference: str | None = None) -> None:
        """When an action of `kind` (mdm_command: RequestType or uuid; script: id or name; software_install:
        title id) runs on the host at a check-in, the policy is fixed on the device."""
        with self._lock:
            self._rules.append(_PassRule(host_id, policy_id, kind, reference))

    def set_online(self, host_id: int, online: bool) -> None:
        """Take the host offline (it reports nothing), or bring it back (it checks in at once)."""
        with self._lock:
            self.hosts[host_id] = replace(self.hosts[host_id], status="online" if online else "offline")
            if online:
                self._check_in(host_id)

    def check_in(self, host_id: int) -> None:
        """The host checks in now (as after a push that wakes it); an offline host does not."""
        with self._lock:
            self._check_in(host_id)

    def update_now(self, host_id: int, version: str) -> None:
        """The person clicked "Update Now": the host installs `version` at its next check-in."""
        with self._lock:
            self._devices[host_id].update_to = version

    def add_script(self, script_id: int, name: str, team_id: int | None = None) -> None:
        with self._lock:
            self.scripts[script_id] = FleetScript(script_id, name, team_id)

    def add_software_title(self, title_id: int, name: str, team_ids: Iterable[int] = ()) -> None:
        with self._lock:
            self.titles[title_id] = (InstallableSoftware(title_id, name), frozenset(team_ids))

    def add_policy(self, policy: FleetPolicy) -> None:
        with self._lock:
            self.policies[policy.policy_id] = policy

    def fail_next(self, method: str, error: Exception) -> None:
        """The next call of `method` (a port method name) raises `error` and does nothing else."""
        with self._lock:
            self._faults.setdefault(method, []).append(error)

    def sent(self, kind: str | None = None) -> list[FleetAction]:
        with self._lock:
            return [action for action in self.actions if kind is None or action.kind == kind]

    # ---- FleetPort ---------------------------------------------------------------------------------

    def get_host(self, host_id: int) -> FleetHost:
        with self._lock:
            self._play()
            self._fault("get_host")
            return self._host(host_id)

    def device_mapping(self, host_id: int) -> list[DeviceEmail]:
        with self._lock:
            self._fault("device_mapping")
            self._host(host_id)
            return list(self.emails.get(host_id, []))

    def failing_host_ids(self, policy_id: int, team_id: int | None = None) -> set[int]:
        with self._lock:
            self._play()
            self._fault("failing_host_ids")
            return {
                host.host_id
                for host in self.hosts.values()
                if policy_id in host.failing_policy_ids() and (team_id is None or host.team_id == team_id)
            }

    def run_mdm_command(self, command_base64: str, host_uuids: Sequence[str]) -> ActionReceipt:
        if not host_uuids:
            raise ValueError("an MDM command needs at least one host uuid")
        with self._lock:
            self._play()
            self._fault("run_mdm_command")
            targets = [host for host in self.hosts.values() if host.uuid in set(host_uuids)]
            if not targets:
                raise FleetNotFound("No hosts targeted. Make sure you provide a valid UUID.", status=404)
            if len(targets) < len(set(host_uuids)):
                raise FleetError("at least one of the hosts is not enrolled in MDM", status=400)
            command_uuid, request_type = _command_identity(command_base64, {host.platform for host in targets})
            if command_uuid in self._command_uuids:
                raise FleetError("command already exists", status=409)
            self._command_uuids.add(command_uuid)
            host_ids = tuple(sorted(host.host_id for host in targets))
            detail = {"host_uuids": tuple(host_uuids), "request_type": request_type}
            self._accept(FleetAction("mdm_command", host_ids, command_uuid, detail))
            return ActionReceipt("mdm_command", command_uuid, {"command_uuid": command_uuid})

    def run_script(
        self,
        host_id: int,
        *,
        script_id: int | None = None,
        script_name: str | None = None,
        team_id: int | None = None,
    ) -> ActionReceipt:
        with self._lock:
            self._play()
            self._fault("run_script")
            self._host(host_id)
            if (script_id is None) == (script_name is None):
                raise FleetError("give exactly one of script_id and script_name", status=422)
            key = self._script_key(script_id, script_name, team_id)
            if any(a.kind == "script" and a.detail.get("key") == key for a in self._devices[host_id].queued):
                raise FleetError(f"Fleet answered 409 to POST /scripts/run: {SCRIPT_QUEUED}", status=409)
            execution_id = str(uuid.uuid4())
            detail = {"script_id": script_id, "script_name": script_name, "team_id": team_id, "key": key}
            self._accept(FleetAction("script", (host_id,), execution_id, detail))
            return ActionReceipt("script", execution_id, {"host_id": host_id, "execution_id": execution_id})

    def install_software(self, host_id: int, software_title_id: int) -> ActionReceipt:
        with self._lock:
            self._play()
            self._fault("install_software")
            host = self._host(host_id)
            offered = self.titles.get(software_title_id)
            if self.titles and (offered is None or (offered[1] and (host.team_id or 0) not in offered[1])):
                raise FleetError(
                    f"Fleet answered 400 to POST /hosts/{{id}}/software/{{title_id}}/install: {NOT_INSTALLABLE}",
                    status=400,
                )
            queued = self._devices[host_id].queued
            if any(a.kind == "software_install" and a.detail.get("title_id") == software_title_id for a in queued):
                raise FleetError(
                    f"Fleet answered 400 to POST /hosts/{{id}}/software/{{title_id}}/install: {INSTALL_PENDING}",
                    status=400,
                )
            self._accept(FleetAction("software_install", (host_id,), None, {"title_id": software_title_id}))
            # Fleet answers 202 with an empty body.
            return ActionReceipt("software_install", None, {})

    def refetch(self, host_id: int) -> None:
        with self._lock:
            self._play()
            self._fault("refetch")
            host = self._host(host_id)
            self.refetches.append(host_id)
            self.hosts[host_id] = replace(host, refetch_requested=True)

    def post_calendar_webhook(self, url: str, payload: Mapping[str, Any]) -> None:
        target = urlsplit(url)
        if target.scheme not in ("http", "https") or not target.hostname:
            raise FleetError("the calendar webhook URL must be http(s)")
        with self._lock:
            self._fault("post_calendar_webhook")
            self.webhooks.append((url, dict(payload)))

    # ---- FleetCatalogPort --------------------------------------------------------------------------

    def list_policies(self, team_id: int | None = None) -> list[FleetPolicy]:
        with self._lock:
            self._fault("list_policies")
            own = [p for p in self.policies.values() if p.team_id == team_id] if team_id else []
            inherited = [p for p in self.policies.values() if p.team_id is None]
            return sorted(own, key=lambda p: p.policy_id) + sorted(inherited, key=lambda p: p.policy_id)

    def get_policy(self, policy_id: int, team_id: int | None = None) -> FleetPolicy:
        with self._lock:
            self._fault("get_policy")
            self.policy_reads.append((policy_id, team_id))
            found = self.policies.get(policy_id)
            if found is None or found.team_id != team_id:
                raise FleetNotFound(f"Policy {policy_id} was not found in the datastore", status=404)
            return found

    def list_scripts(self, team_id: int | None = None) -> list[FleetScript]:
        with self._lock:
            return sorted(
                (s for s in self.scripts.values() if (s.team_id or 0) == (team_id or 0)), key=lambda s: s.name
            )

    def installable_software(self, team_id: int) -> list[InstallableSoftware]:
        with self._lock:
            return [title for title, teams in self.titles.values() if not teams or team_id in teams]

    def list_teams(self) -> list[FleetTeam]:
        """The teams the double knows: those with settings, hosts or policies."""
        with self._lock:
            ids = set(self.teams) | {h.team_id for h in self.hosts.values() if h.team_id}
            ids |= {p.team_id for p in self.policies.values() if p.team_id}
            return [FleetTeam(team_id, f"Team {team_id}") for team_id in sorted(ids)]

    def team_os_updates(self, team_id: int) -> TeamOSUpdates:
        with self._lock:
            self._fault("team_os_updates")
            return self.teams.get(team_id) or TeamOSUpdates(team_id)

    def set_team_os_updates(
        self,
        team_id: int,
        *,
        macos: AppleOSUpdates | None = None,
        ios: AppleOSUpdates | None = None,
        ipados: AppleOSUpdates | None = None,
        windows: WindowsOSUpdates | None = None,
    ) -> TeamOSUpdates:
        """PATCH /teams/:id: only the settings given change (also a test control for seeding them)."""
        with self._lock:
            self._fault("set_team_os_updates")
            sent = {
                key: value
                for key, value in (("macos", macos), ("ios", ios), ("ipados", ipados), ("windows", windows))
                if value is not None
            }
            if not sent:
                raise ValueError("give at least one OS-update setting")
            self.team_patches.append((team_id, sent))
            now = self.teams.get(team_id) or TeamOSUpdates(team_id)
            updated = TeamOSUpdates(
                team_id,
                macos if macos is not None else now.macos,
                ios if ios is not None else now.ios,
                ipados if ipados is not None else now.ipados,
                windows if windows is not None else now.windows,
            )
            self.teams[team_id] = updated
            return updated

    # ---- the simulation ----------------------------------------------------------------------------

    def _add(self, host: FleetHost) -> None:
        status = host.status or "online"
        self.hosts[host.host_id] = replace(host, status=status)
        self._devices[host.host_id] = _Device(
            {p.policy_id: p.response for p in host.policies}, last_check_in=self._clock() if self._clock else None
        )

    def _accept(self, action: FleetAction) -> None:
        self.actions.append(action)
        for host_id in action.host_ids:
            self._devices[host_id].queued.append(action)

    def _play(self) -> None:
        """Hosts check in by themselves every `checkin_interval` (with a clock), like the stand-in's."""
        if self._clock is None or self._interval is None:
            return
        now = self._clock()
        for host_id, device in self._devices.items():
            if host_id in self.hosts and (device.last_check_in is None or now - device.last_check_in >= self._interval):
                self._check_in(host_id)

    def _check_in(self, host_id: int) -> None:
        host = self.hosts.get(host_id)
        if host is None or host.offline:
            return
        now = self._clock() if self._clock else None
        device = self._devices[host_id]
        for action in device.queued:
            for rule in [r for r in self._rules if r.host_id == host_id and _matches(r, action)]:
                device.policies[rule.policy_id] = "pass"
                self._rules.remove(rule)
        device.queued.clear()
        if device.update_to:
            product = _PRODUCTS.get(host.platform, "")
            host = replace(host, os_version=f"{product} {device.update_to}".strip())
            device.update_to = None
        due = host.policy_updated_at is None or now is None or now - host.policy_updated_at >= POLICY_UPDATE_INTERVAL
        self.hosts[host_id] = host
        if host.refetch_requested or due:
            for policy_id, response in device.policies.items():
                self._report_policy(host_id, policy_id, response)
            self.hosts[host_id] = replace(self.hosts[host_id], refetch_requested=False, policy_updated_at=now)
        device.last_check_in = now

    def _report_policy(self, host_id: int, policy_id: int, response: str, name: str | None = None) -> None:
        host = self.hosts[host_id]
        others = tuple(p for p in host.policies if p.policy_id != policy_id)
        known = next((p.name for p in host.policies if p.policy_id == policy_id), f"Policy {policy_id}")
        policy = HostPolicy(policy_id, name or known, response)
        self.hosts[host_id] = replace(host, policies=tuple(sorted((*others, policy), key=lambda p: p.policy_id)))

    def _script_key(self, script_id: int | None, script_name: str | None, team_id: int | None) -> str:
        if not self.scripts:
            return f"id:{script_id}" if script_id is not None else f"name:{script_name}"
        if script_id is not None:
            if script_id not in self.scripts:
                raise FleetNotFound(
                    "Fleet answered 404 to POST /scripts/run: Validation Failed; script_id: No script "
                    'exists for the provided "script_id".',
                    status=404,
                )
            return f"id:{script_id}"
        found = next(
            (s for s in self.scripts.values() if s.name == script_name and (s.team_id or 0) == (team_id or 0)), None
        )
        if found is None:
            raise FleetError(
                f"Fleet answered 422 to POST /scripts/run: Validation Failed; script_name: Script "
                f"'{script_name}' doesn’t exist.",
                status=422,
            )
        return f"id:{found.script_id}"

    def _fault(self, method: str) -> None:
        queued = self._faults.get(method)
        if queued:
            raise queued.pop(0)

    def _host(self, host_id: int) -> FleetHost:
        host = self.hosts.get(host_id)
        if host is None:
            raise FleetNotFound(f"Host {host_id} was not found in the datastore", status=404)
        return host


def _matches(rule: _PassRule, action: FleetAction) -> bool:
    if rule.kind != action.kind:
        return False
    if rule.reference is None:
        return True
    references = {
        str(action.reference),
        str(action.detail.get("request_type")),
        str(action.detail.get("title_id")),
        str(action.detail.get("script_id")),
        str(action.detail.get("script_name")),
    }
    return rule.reference in references


def _command_identity(command_base64: str, platforms: set[str]) -> tuple[str, str]:
    """(the id Fleet keys a command by, its request type): an Apple plist's CommandUUID and RequestType, a
    Windows <Exec>'s CmdID and LocURI.

    As Fleet does, the hosts must share one platform, Apple or Windows, and the payload must be that
    platform's kind (a plist Fleet cannot decode is 415, other refusals 422)."""
    if len(platforms) != 1:
        raise FleetError("All hosts must be on the same platform.", status=422)
    (platform,) = platforms
    if platform not in APPLE_PLATFORMS | WINDOWS_PLATFORMS:
        raise FleetError("You can only run MDM commands on Windows or Apple hosts.", status=422)
    try:
        raw = mdm_commands.decode_base64(command_base64)
    except mdm_commands.InvalidCommand:
        raise FleetError("unable to decode the base64 command", status=415) from None
    if platform in WINDOWS_PLATFORMS:
        try:
            root = ElementTree.fromstring(raw.strip())  # noqa: S314 - our own payload (domain/mdm_commands)
        except ElementTree.ParseError as invalid:
            raise FleetError(f"The payload isn't valid XML: {invalid}", status=422) from None
        if root.tag != "Exec":
            raise FleetError("You can run only <Exec> command type.", status=422)
        return (root.findtext("CmdID") or "").strip(), (root.findtext("Item/Target/LocURI") or "").strip()
    try:
        parsed = mdm_commands.parse_apple_command(raw)
    except mdm_commands.InvalidCommand:
        parsed = {}
    command_uuid = parsed.get("CommandUUID")
    if not isinstance(command_uuid, str) or not command_uuid.strip():
        raise FleetError("unable to decode plist command", status=415)
    return command_uuid, str(parsed["Command"]["RequestType"])
