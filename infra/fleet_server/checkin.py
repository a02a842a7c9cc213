"""One check-in of a simulated host: run what waited for it, then report policies if Fleet asked for them.

Order within a check-in: the OS-update declaration arrives, queued MDM commands, scripts and installs run
(in the order Fleet queued them), OS updates install, and last the policies run when a refetch was
requested or policy_update_interval has passed (server/service/osquery.go policyQueriesForHost). So a fix
that runs at a check-in can show as passing at that same check-in, or at the next one when its rule says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from infra.fleet_server import mdm
from infra.fleet_server.devices import (
    Command,
    CommandResult,
    Device,
    PendingVersion,
    ScriptExecution,
    SoftwareInstall,
)
from infra.fleet_server.os_updates import (
    at_least,
    deadline_instant,
    major,
    os_version_text,
    takes_declaration,
)
from infra.fleet_server.seed import AppleOSUpdates, SeedPolicy

ACTION_KINDS: tuple[str, ...] = ("mdm_command", "script", "software_install")
TakesEffect = Literal["same_check_in", "next_check_in"]
#: Not a documented Apple answer: the device-management reference says only that the device ignores
#: ScheduleOSUpdate "and an informational error is returned" when a declaration manages updates.
MANAGED_BY_DECLARATION = "Software updates on this device are managed by a declaration."


@dataclass
class PassRule:
    """Make `policy_id` pass on `host_id` once an action of `kind` matching `reference` RUNS on the host.

    `reference`: an MDM RequestType or command uuid, a script id or name, a software title id (as text);
    None matches any action of the kind. The fix shows at the check-in where the action ran
    ("same_check_in") or at the following one ("next_check_in", e.g. a fix that needs the restart).
    A command the device refused and a script that exited non-zero fix nothing. One-shot.
    """

    id: int
    host_id: int
    policy_id: int
    kind: str
    reference: str | None = None
    takes_effect: TakesEffect = "same_check_in"
    state: Literal["armed", "done"] = "armed"


@dataclass
class CheckIn:
    policies_for: Callable[[Device], Sequence[SeedPolicy]]
    team_updates: Callable[[Device], AppleOSUpdates | None]
    rules: list[PassRule]
    policy_interval: timedelta

    def deadline(self, device: Device) -> datetime | None:
        """When the delivered OS-update declaration forces the install (None: nothing to enforce)."""
        if device.declaration is None or at_least(device.os_version, device.declaration[0]):
            return None
        return deadline_instant(device.declaration[1], device.seed.timezone)

    def run(self, device: Device, at: datetime) -> None:
        self._deliver_declaration(device, at)
        self._apply_deferred_fixes(device, at)
        due = [q for q in device.queue if q.queued_at < at]
        device.queue = [q for q in device.queue if q.queued_at >= at]
        for queued in due:
            self._run_item(device, queued.item, at)
        self._install_os_updates(device, at)
        if self._policies_due(device, at):
            self._report_policies(device, at)

    # -- steps -------------------------------------------------------------------------------------

    def _deliver_declaration(self, device: Device, at: datetime) -> None:
        if device.declaration_due is None or device.declaration_due >= at:
            return
        device.declaration_due = None
        settings = self.team_updates(device)
        wanted = settings and takes_declaration(device.platform, device.os_version)
        device.declaration = (settings.minimum_version, settings.deadline) if settings and wanted else None

    def _apply_deferred_fixes(self, device: Device, at: datetime) -> None:
        for _, policy_id in [f for f in device.deferred_fixes if f[0] < at]:
            device.truth[policy_id] = "pass"
        device.deferred_fixes = [f for f in device.deferred_fixes if f[0] >= at]

    def _run_item(self, device: Device, item: Command | ScriptExecution | SoftwareInstall, at: datetime) -> None:
        if isinstance(item, Command):
            self._run_command(device, item, at)
        elif isinstance(item, ScriptExecution):
            item.exit_code, item.output, item.finished_at = item.script.exit_code, item.script.output, at
            if item.exit_code == 0:
                self._fire(device, "script", (str(item.script.id), item.script.name), at)
        else:
            item.status, item.finished_at = "installed", at
            self._fire(device, "software_install", (str(item.title_id),), at)

    def _run_command(self, device: Device, command: Command, at: datetime) -> None:
        answer = self._answer(device, command, at)
        command.results[device.uuid] = CommandResult(answer.status, answer.body, at)
        if answer.succeeded and not command.internal:
            self._fire(device, "mdm_command", (command.request_type, command.command_uuid), at)

    def _answer(self, device: Device, command: Command, at: datetime) -> mdm.DeviceAnswer:
        if command.platform == "windows":
            return mdm.windows_answer(command.command_uuid)
        request_type, uuid = command.request_type, command.command_uuid
        if request_type in mdm.REMOVED_IN_27 and major(device.os_version) >= 27:
            return mdm.not_a_valid_request_type(uuid, device.uuid, request_type)
        if request_type != "ScheduleOSUpdate":
            return mdm.apple_answer(uuid, device.uuid)
        if device.declaration is not None:
            return mdm.apple_error(uuid, device.uuid, 0, MANAGED_BY_DECLARATION)
        wanted = mdm.os_update_request(command.payload)
        if wanted is None:
            return mdm.apple_answer(uuid, device.uuid, {"UpdateResults": []})
        installs = wanted.install_action in mdm.INSTALLING_ACTIONS and wanted.product_version
        if installs and not at_least(device.os_version, wanted.product_version or ""):
            device.os_install = PendingVersion(wanted.product_version, at)
        result = {"ProductKey": wanted.product_version or "", "InstallAction": wanted.install_action, "Status": "Idle"}
        return mdm.apple_answer(uuid, device.uuid, {"UpdateResults": [result]})

    def _install_os_updates(self, device: Device, at: datetime) -> None:
        if device.os_install is not None and device.os_install.queued_at < at:
            self._install(device, device.os_install.version, at)
            device.os_install = None
        if device.update_now is not None and device.update_now.queued_at < at:
            target = device.update_now.version or (device.declaration[0] if device.declaration else None)
            self._install(device, target, at)
            device.update_now = None
        deadline = self.deadline(device)
        if deadline is not None and device.declaration is not None and deadline <= at:
            self._install(device, device.declaration[0], at)

    def _install(self, device: Device, version: str | None, at: datetime) -> None:
        if version and not at_least(device.os_version, version):
            device.os_version = os_version_text(device.platform, version, device.os_version)
            device.detail_updated_at = at
            self._evaluate_os_policies(device)

    def _policies_due(self, device: Device, at: datetime) -> bool:
        asked = device.refetch_requested_at is not None and device.refetch_requested_at < at
        return asked or at >= device.policy_updated_at + self.policy_interval

    def _report_policies(self, device: Device, at: datetime) -> None:
        self._evaluate_os_policies(device)
        device.reported = dict(device.truth)
        device.policy_updated_at = at
        if device.refetch_requested_at is not None and device.refetch_requested_at < at:
            device.refetch_requested_at = None
            device.detail_updated_at = at

    def _evaluate_os_policies(self, device: Device) -> None:
        for policy in self.policies_for(device):
            if policy.min_os_version:
                passing = at_least(device.os_version, policy.min_os_version)
                device.truth[policy.id] = "pass" if passing else "fail"

    def _fire(self, device: Device, kind: str, references: tuple[str, ...], at: datetime) -> None:
        for rule in self.rules:
            matches = rule.reference is None or rule.reference in references
            if rule.state == "armed" and rule.host_id == device.id and rule.kind == kind and matches:
                rule.state = "done"
                if rule.takes_effect == "same_check_in":
                    device.truth[rule.policy_id] = "pass"
                else:
                    device.deferred_fixes.append((at, rule.policy_id))
