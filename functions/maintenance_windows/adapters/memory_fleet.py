"""FleetPort in process memory, for unit tests and benchmarks.

It keeps the port's contract and the Fleet behaviour the product relies on, as the Fleet stand-in serves it
(docs/fleet-server.md gives the Fleet source for each; tests/integration/fleet/test_memory_fleet_parity.py
compares the two): an unknown host is FleetNotFound (404) for every per-host call; an MDM command whose
CommandUUID Fleet already holds is refused with 409, one for no known host is 404 ("No hosts targeted"),
and hosts of mixed platforms or a payload not of their kind (a plist for Apple, a SyncML <Exec> for
Windows) are refused as Fleet refuses them. A refetch only asks the host to report; fresh results show once
it has (here: at once, for the policies armed with pass_at_next_refetch).

Policies are served as Fleet serves them (PolicyCatalog): get_policy with no team finds a global policy
only, with a team that team's own policies only; anything else is FleetNotFound (404).
Scripts and software titles are not modelled: any id or name is accepted (fail_next gives Fleet's refusals).

Test controls: add_host, set_policy, remove_host, define_policy, pass_at_next_refetch and fail_next (queue
an error for the next call of a method: FleetUnavailable for an outage, FleetError for a refusal).
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from maintenance_windows.domain import mdm_commands
from maintenance_windows.domain.fleet_hosts import FleetHost, HostPolicy
from maintenance_windows.domain.remediation import APPLE_PLATFORMS, WINDOWS_PLATFORMS
from maintenance_windows.ports.fleet import ActionReceipt, DeviceEmail, FleetError, FleetNotFound, FleetPolicy


@dataclass(frozen=True)
class FleetAction:
    """One action Fleet accepted: what it was, for which hosts, and the reference Fleet answered."""

    kind: str  # mdm_command | script | software_install
    host_ids: tuple[int, ...]
    reference: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


class MemoryFleet:
    def __init__(self, hosts: Iterable[FleetHost] = (), emails: Mapping[int, Sequence[DeviceEmail]] | None = None):
        self._lock = threading.Lock()
        self.hosts: dict[int, FleetHost] = {host.host_id: host for host in hosts}
        self.emails: dict[int, list[DeviceEmail]] = {key: list(value) for key, value in (emails or {}).items()}
        self.actions: list[FleetAction] = []
        self.refetches: list[int] = []
        self.webhooks: list[tuple[str, dict[str, Any]]] = []
        self.policies: dict[int, FleetPolicy] = {}
        self.policy_reads: list[tuple[int, int | None]] = []
        self._command_uuids: set[str] = set()
        self._pass_at_refetch: dict[int, set[int] | None] = {}
        self._faults: dict[str, list[Exception]] = {}

    # ---- test controls -----------------------------------------------------------------------------

    def add_host(self, host: FleetHost, emails: Sequence[DeviceEmail] = ()) -> None:
        with self._lock:
            self.hosts[host.host_id] = host
            self.emails[host.host_id] = list(emails)

    def remove_host(self, host_id: int) -> None:
        with self._lock:
            self.hosts.pop(host_id, None)

    def set_policy(self, host_id: int, policy_id: int, response: str, name: str | None = None) -> None:
        """The host's latest result for the policy ("pass", "fail" or "" for not run yet)."""
        with self._lock:
            host = self.hosts[host_id]
            others = tuple(p for p in host.policies if p.policy_id != policy_id)
            known = next((p.name for p in host.policies if p.policy_id == policy_id), f"Policy {policy_id}")
            policy = HostPolicy(policy_id, name or known, response)
            self.hosts[host_id] = replace(host, policies=tuple(sorted((*others, policy), key=lambda p: p.policy_id)))

    def define_policy(self, policy: FleetPolicy) -> None:
        """The policy as the Fleet admin wrote it (name, description, resolution, critical...)."""
        with self._lock:
            self.policies[policy.policy_id] = policy

    def pass_at_next_refetch(self, host_id: int, *policy_ids: int) -> None:
        """The fix worked: at its next refetch the host reports these policies (all, if none given) passing."""
        with self._lock:
            self._pass_at_refetch[host_id] = set(policy_ids) or None

    def fail_next(self, method: str, error: Exception) -> None:
        """The next call of `method` (a FleetPort method name) raises `error` and does nothing else."""
        with self._lock:
            self._faults.setdefault(method, []).append(error)

    def sent(self, kind: str | None = None) -> list[FleetAction]:
        with self._lock:
            return [action for action in self.actions if kind is None or action.kind == kind]

    # ---- FleetPort ---------------------------------------------------------------------------------

    def get_host(self, host_id: int) -> FleetHost:
        with self._lock:
            self._fault("get_host")
            return self._host(host_id)

    def device_mapping(self, host_id: int) -> list[DeviceEmail]:
        with self._lock:
            self._fault("device_mapping")
            self._host(host_id)
            return list(self.emails.get(host_id, []))

    def failing_host_ids(self, policy_id: int, team_id: int | None = None) -> set[int]:
        with self._lock:
            self._fault("failing_host_ids")
            return {
                host.host_id
                for host in self.hosts.values()
                if policy_id in host.failing_policy_ids() and (team_id is None or host.team_id == team_id)
            }

    def get_policy(self, policy_id: int, team_id: int | None = None) -> FleetPolicy:
        with self._lock:
            self._fault("get_policy")
            self.policy_reads.append((policy_id, team_id))
            policy = self.policies.get(policy_id)
            if policy is None or policy.team_id != team_id:
                raise FleetNotFound(f"Policy {policy_id} was not found in the datastore", status=404)
            return policy

    def list_policies(self, team_id: int | None = None) -> list[FleetPolicy]:
        with self._lock:
            self._fault("list_policies")
            own = sorted((p for p in self.policies.values() if p.team_id == team_id), key=lambda p: p.policy_id)
            inherited = [] if team_id is None else sorted(
                (p for p in self.policies.values() if p.team_id is None), key=lambda p: p.policy_id)  # fmt: skip
            return [*own, *inherited]

    def run_mdm_command(self, command_base64: str, host_uuids: Sequence[str]) -> ActionReceipt:
        if not host_uuids:
            raise ValueError("an MDM command needs at least one host uuid")
        with self._lock:
            self._fault("run_mdm_command")
            targets = [host for host in self.hosts.values() if host.uuid in set(host_uuids)]
            if not targets:
                raise FleetNotFound("No hosts targeted. Make sure you provide a valid UUID.", status=404)
            if len(targets) < len(set(host_uuids)):
                raise FleetError("at least one of the hosts is not enrolled in MDM", status=400)
            command_uuid = _command_uuid(command_base64, {host.platform for host in targets})
            if command_uuid in self._command_uuids:
                raise FleetError("command already exists", status=409)
            self._command_uuids.add(command_uuid)
            host_ids = tuple(sorted(host.host_id for host in targets))
            self.actions.append(FleetAction("mdm_command", host_ids, command_uuid, {"host_uuids": tuple(host_uuids)}))
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
            self._fault("run_script")
            self._host(host_id)
            if (script_id is None) == (script_name is None):
                raise FleetError("give exactly one of script_id and script_name", status=422)
            execution_id = str(uuid.uuid4())
            detail = {"script_id": script_id, "script_name": script_name, "team_id": team_id}
            self.actions.append(FleetAction("script", (host_id,), execution_id, detail))
            return ActionReceipt("script", execution_id, {"host_id": host_id, "execution_id": execution_id})

    def install_software(self, host_id: int, software_title_id: int) -> ActionReceipt:
        with self._lock:
            self._fault("install_software")
            self._host(host_id)
            self.actions.append(FleetAction("software_install", (host_id,), None, {"title_id": software_title_id}))
            # Fleet answers 202 with an empty body.
            return ActionReceipt("software_install", None, {})

    def refetch(self, host_id: int) -> None:
        with self._lock:
            self._fault("refetch")
            host = self._host(host_id)
            self.refetches.append(host_id)
            if host_id in self._pass_at_refetch:
                fixed = self._pass_at_refetch.pop(host_id)
                policies = tuple(
                    replace(p, response="pass") if fixed is None or p.policy_id in fixed else p for p in host.policies
                )
                self.hosts[host_id] = replace(host, policies=policies)

    def post_calendar_webhook(self, url: str, payload: Mapping[str, Any]) -> None:
        target = urlsplit(url)
        if target.scheme not in ("http", "https") or not target.hostname:
            raise FleetError("the calendar webhook URL must be http(s)")
        with self._lock:
            self._fault("post_calendar_webhook")
            self.webhooks.append((url, dict(payload)))

    # ---- internals ---------------------------------------------------------------------------------

    def _fault(self, method: str) -> None:
        queued = self._faults.get(method)
        if queued:
            raise queued.pop(0)

    def _host(self, host_id: int) -> FleetHost:
        host = self.hosts.get(host_id)
        if host is None:
            raise FleetNotFound(f"Host {host_id} was not found in the datastore", status=404)
        return host


def _command_uuid(command_base64: str, platforms: set[str]) -> str:
    """The id Fleet keys a command by: an Apple plist's CommandUUID, a Windows <Exec>'s CmdID.

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
        return (root.findtext("CmdID") or "").strip()
    try:
        command_uuid = mdm_commands.parse_apple_command(raw).get("CommandUUID")
    except mdm_commands.InvalidCommand:
        command_uuid = None
    if not isinstance(command_uuid, str) or not command_uuid.strip():
        raise FleetError("unable to decode plist command", status=415)
    return command_uuid
