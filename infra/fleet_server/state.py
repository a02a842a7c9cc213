"""The stand-in Fleet's data and behaviour, independent of HTTP (app.py maps routes onto it).

Every public method first plays the simulated hosts forward to "now" (each online host checks in on its
interval; see devices.py and checkin.py), then answers as Fleet would. Playing forward on demand instead of
on a timer thread gives the same answers — nothing is observable between two requests — and lets a unit
test drive the clock by hand. One lock guards everything: the server is threaded.
"""

from __future__ import annotations

import heapq
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from infra.fleet_server import mdm, os_updates, payloads
from infra.fleet_server.checkin import ACTION_KINDS, CheckIn, PassRule
from infra.fleet_server.clock import Clock, SystemClock, iso
from infra.fleet_server.devices import (
    Command,
    Device,
    PendingVersion,
    Queued,
    ScriptExecution,
    SoftwareInstall,
)
from infra.fleet_server.errors import (
    ApiError,
    bad_gateway,
    bad_request,
    base_error,
    invalid_argument,
    missing_license,
    not_found,
    user_message,
)
from infra.fleet_server.seed import (
    APPLE_MOBILE,
    AppleOSUpdates,
    Seed,
    SeedPolicy,
    SeedScript,
    SeedSettings,
    SeedSoftwareTitle,
    SeedTeam,
)

#: Fleet's list endpoints answer everything when per_page is absent, 20 a page when only page is given.
DEFAULT_PER_PAGE_WITH_PAGE = 20
#: Apple commands Fleet Free refuses (server/service/mdm.go appleMDMPremiumCommands).
_PREMIUM_APPLE_COMMANDS = frozenset({"EraseDevice", "DeviceLock"})
#: fleet.RunScriptDisabledErrMsg & co (server/fleet/scripts.go).
_NO_FLEETD_SCRIPTS = "Scripts are disabled for this host. To run scripts, deploy the fleetd agent with scripts enabled."
_SCRIPTS_OFF_ON_HOST = "Couldn't run script. To run a script, deploy the fleetd agent with --enable-scripts."
_SCRIPTS_OFF_GLOBALLY = "Running scripts is disabled in organization settings."
_MDM_OFF = (
    "Can't run the MDM command because one or more hosts have MDM turned off. "
    "Run the following command to see a list of hosts with MDM on: fleetctl get hosts --mdm."
)
_NOT_INSTALLABLE = (
    "Couldn't install software. Software title is not available for install. "
    "Please add software package or App Store app to install."
)
_INSTALL_PENDING = "Couldn't install. Host already has a pending install/uninstall for this installer."


@dataclass
class Action:
    """What Fleet accepted (at request time; it runs later, at the host's check-in)."""

    kind: str
    host_id: int
    references: tuple[str, ...]
    detail: dict[str, Any]
    time: str = ""


@dataclass
class _Counts:
    by_host: dict[int, Counter[str]] = field(default_factory=dict)

    def add(self, host_id: int, kind: str) -> None:
        self.by_host.setdefault(host_id, Counter())[kind] += 1


class FleetState:
    def __init__(self, seed: Seed, clock: Clock | None = None, *, checkin_interval: float | None = None) -> None:
        self._lock = threading.RLock()
        self.clock: Clock = clock or SystemClock()
        self._checkin_interval = checkin_interval
        self._initial_seed = seed
        self._load(seed)

    # -- seeding -----------------------------------------------------------------------------------

    def reset(self, seed: Seed | None = None) -> None:
        """Back to the initial seed (or a new one, which becomes the initial seed)."""
        with self._lock:
            if seed is not None:
                self._initial_seed = seed
            self._load(self._initial_seed)

    def _load(self, seed: Seed) -> None:
        seed = seed.model_copy(deep=True)
        if self._checkin_interval is not None:
            seed.settings.checkin_interval_seconds = self._checkin_interval
        now = self.clock.now()
        self.settings = seed.settings
        self.teams: dict[int, SeedTeam] = {t.id: t for t in seed.all_teams()}
        self.devices: dict[int, Device] = {h.id: Device.from_seed(h, seed.settings, now) for h in seed.hosts}
        self.policies: dict[int, SeedPolicy] = {p.id: p for p in seed.policies}
        self.scripts = {s.id: s for s in seed.scripts}
        self.software_titles = {t.id: t for t in seed.software_titles}
        self.commands: dict[str, Command] = {}
        self.executions: dict[str, ScriptExecution] = {}
        self.installs: dict[str, SoftwareInstall] = {}
        self.actions: list[Action] = []
        self.counts = _Counts()
        self.rules: list[PassRule] = []
        self.profiles: list[dict[str, Any]] = []
        self._checkin = CheckIn(self._policies_for, self._team_updates, self.rules, _seconds(seed.settings))
        # Due check-ins as a heap of (moment, host id): only hosts with something waiting are in it, so
        # a request costs nothing for idle hosts. A host's current moment is in _due; older heap entries
        # are stale and skipped.
        self._heap: list[tuple[datetime, int]] = []
        self._due: dict[int, datetime] = {}
        for device in self.devices.values():
            # A team's OS-update settings in the seed were there before: the hosts already hold them.
            updates = self._team_updates(device)
            if updates and os_updates.takes_declaration(device.platform, device.os_version):
                device.declaration = (updates.minimum_version, updates.deadline)
            self._evaluate_seeded_os_policies(device)
            self._touch(device)
        self._advance(now)

    @property
    def premium(self) -> bool:
        return self.settings.license == "premium"

    # -- time --------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock.now()
        self._advance(now)
        return now

    def _advance(self, now: datetime) -> None:
        """Run every check-in due up to `now`, earliest first."""
        while self._heap and self._heap[0][0] <= now:
            moment, host_id = heapq.heappop(self._heap)
            if self._due.get(host_id) != moment:
                continue
            del self._due[host_id]
            device = self.devices[host_id]
            self._checkin.run(device, moment)
            device.last_checkin = moment
            self._touch(device)

    def _touch(self, device: Device) -> None:
        """(Re)schedule the device's next check-in that has work, if any."""
        self._due.pop(device.id, None)
        waiting = device.waiting_since(self._checkin.policy_interval, self._checkin.deadline(device))
        if waiting is None or not device.online:
            return
        moment = device.next_checkin_after(max(waiting, device.last_checkin))
        self._due[device.id] = moment
        heapq.heappush(self._heap, (moment, device.id))

    # -- reads -------------------------------------------------------------------------------------

    def host_detail(self, host_id: int) -> dict[str, Any]:
        with self._lock:
            now = self._now()
            device = self._device(host_id)
            policies = payloads.host_policies(self._policies_for(device), device.reported)
            return {"host": payloads.host_detail(device, policies, team_name=self._team_name(device), now=now)}

    def device_mapping(self, host_id: int) -> dict[str, Any]:
        with self._lock:
            self._now()
            return payloads.device_mapping(self._device(host_id))

    def list_hosts(self, query: dict[str, str]) -> dict[str, Any]:
        page, per_page = _paging(query)
        matcher = _host_filter(query)
        with self._lock:
            now = self._now()
            devices = [d for d in sorted(self.devices.values(), key=lambda d: d.id) if matcher(d)]
            if per_page:
                devices = devices[page * per_page : (page + 1) * per_page]
            return {
                "hosts": [
                    payloads.host_summary(payloads.host_detail(d, [], team_name=self._team_name(d), now=now))
                    for d in devices
                ]
            }

    def command_results(self, command_uuid: str) -> dict[str, Any]:
        with self._lock:
            self._now()
            command = self.commands.get(command_uuid)
            if command is None:
                raise not_found("Command", command_uuid)
            names = {d.uuid: d.seed.hostname or d.seed.name for d in self.devices.values()}
            results = [payloads.command_result(command, u, r, names.get(u, "")) for u, r in command.results.items()]
            # Only hosts that answered have a row (nano_command_results); Results is omitempty.
            return {"results": results} if results else {}

    def script_result(self, execution_id: str) -> dict[str, Any]:
        with self._lock:
            self._now()
            execution = self.executions.get(execution_id)
            if execution is None:
                raise not_found("HostScriptResult", execution_id)
            device = self.devices.get(execution.host_id)
            return payloads.script_result(execution, device.seed.name if device else "")

    def list_policies(self, team_id: int | None) -> dict[str, Any]:
        with self._lock:
            self._now()
            if team_id is None:
                return {"policies": [self._policy_payload(p) for p in self._policies_of(None)]}
            self._team(team_id)
            return {
                "policies": [self._policy_payload(p) for p in self._policies_of(team_id)],
                "inherited_policies": [self._policy_payload(p, team_id) for p in self._policies_of(None)],
            }

    def get_policy(self, team_id: int | None, policy_id: int) -> dict[str, Any]:
        with self._lock:
            self._now()
            if team_id is not None:
                self._team(team_id)
            found = self.policies.get(policy_id)
            if found is None or found.team_id != team_id:
                raise not_found("Policy", policy_id)
            return {"policy": self._policy_payload(found)}

    def list_scripts(self, query: dict[str, str]) -> dict[str, Any]:
        team_id = _query_int(query, "team_id", f"Invalid team_id: {query.get('team_id')}", minimum=0) or 0
        page, per_page = _paging(query)
        with self._lock:
            scripts = sorted((s for s in self.scripts.values() if (s.team_id or 0) == team_id), key=lambda s: s.name)
            return _paged("scripts", [payloads.script(s) for s in scripts], page, per_page)

    def list_software_titles(self, query: dict[str, str]) -> dict[str, Any]:
        team_id = _query_int(query, "team_id", f"Invalid team_id: {query.get('team_id')}", minimum=0)
        available = query.get("available_for_install", "").lower() in ("1", "true")
        page, per_page = _paging(query)
        with self._lock:
            if team_id and not self.premium:
                raise missing_license()
            titles = [
                t
                for t in sorted(self.software_titles.values(), key=lambda t: t.name)
                if not available or _offered(t, team_id or 0)
            ]
            rows = [payloads.software_title(t, "darwin") for t in titles]
            body = _paged("software_titles", rows, page, per_page)
            return {"counts_updated_at": None, "count": len(rows), **body}

    def list_teams(self, query: dict[str, str]) -> dict[str, Any]:
        page, per_page = _paging(query)
        with self._lock:
            self._now()
            if not self.premium:
                raise missing_license()
            rows = [payloads.team(t, self._host_count(t.id)) for t in sorted(self.teams.values(), key=lambda t: t.id)]
            return _paged("teams", rows, page, per_page)

    def get_team(self, team_id: int) -> dict[str, Any]:
        with self._lock:
            self._now()
            if not self.premium:
                raise missing_license()
            team = self._team(team_id)
            return {"team": payloads.team(team, self._host_count(team_id))}

    # -- actions -----------------------------------------------------------------------------------

    def run_mdm_command(self, body: dict[str, Any]) -> dict[str, Any]:
        command_text = _optional_str_field(body, "command") or ""
        host_uuids = _uuid_list(body.get("host_uuids"))
        with self._lock:
            now = self._now()
            devices = [d for d in self.devices.values() if d.uuid in set(host_uuids)]
            if not devices:
                raise invalid_argument(
                    "host_uuids", "No hosts targeted. Make sure you provide a valid UUID.", status=404
                )
            decoded, platform = self._decode_for(devices, command_text, host_uuids)
            apple = platform != mdm.WINDOWS_PLATFORM
            if apple and decoded.request_type in _PREMIUM_APPLE_COMMANDS and not self.premium:
                raise missing_license()
            if decoded.command_uuid in self.commands:
                # nanomdm's insert hits the command_uuid primary key: MySQL 1062 becomes a 409.
                raise ApiError(409, "Validation Failed", [{"name": "base", "reason": "command already exists"}])
            wire_platform: Literal["darwin", "windows"] = "windows" if platform == mdm.WINDOWS_PLATFORM else "darwin"
            command = Command(
                decoded.command_uuid,
                decoded.request_type,
                decoded.payload,
                wire_platform,
                tuple(d.uuid for d in devices),
                now,
            )
            self.commands[command.command_uuid] = command
            for device in devices:
                device.queue.append(Queued(now, command))
                self._touch(device)
                self._record(
                    "mdm_command",
                    device.id,
                    (command.request_type, command.command_uuid),
                    {"command_uuid": command.command_uuid, "request_type": command.request_type},
                )
            answer = {
                "command_uuid": command.command_uuid,
                "request_type": command.request_type,
                "platform": wire_platform,
            }
            return self._after_push(answer, devices, wire_platform)

    def run_script(self, body: dict[str, Any]) -> dict[str, Any]:
        request = _ScriptRequest.parse(body)
        with self._lock:
            now = self._now()
            if self.settings.scripts_disabled:
                raise user_message(403, _SCRIPTS_OFF_GLOBALLY)
            request.validate()
            if request.team_id > 0 and not self.premium:
                raise missing_license()
            script_id = request.script_id
            if request.script_name is not None:
                script_id = self._script_by_name(request.script_name, request.team_id).id
            device = self._device(request.host_id)
            if not device.fleetd:
                raise user_message(422, _NO_FLEETD_SCRIPTS)
            if device.scripts_enabled is False:
                raise user_message(422, _SCRIPTS_OFF_ON_HOST)
            script = self.scripts.get(script_id) if script_id is not None else None
            if script is None:
                raise invalid_argument("script_id", 'No script exists for the provided "script_id".', 404)
            if (script.team_id or 0) != (device.seed.team_id or 0):
                raise invalid_argument(
                    "script_id", 'The script does not belong to the same fleet (or "Unassigned") as the host.'
                )
            if any(isinstance(q.item, ScriptExecution) and q.item.script.id == script.id for q in device.queue):
                raise invalid_argument("script_id", "The script is already queued on the given host.", 409)
            execution = ScriptExecution(str(uuid.uuid4()), device.id, script, now)
            self.executions[execution.execution_id] = execution
            device.queue.append(Queued(now, execution))
            self._touch(device)
            self._record(
                "script",
                device.id,
                (str(script.id), script.name),
                {"script_id": script.id, "execution_id": execution.execution_id},
            )
            return {"host_id": device.id, "execution_id": execution.execution_id}

    def install_software(self, host_id: int, title_id: int) -> dict[str, Any]:
        with self._lock:
            now = self._now()
            if not self.premium:
                raise missing_license()
            device = self._device(host_id)
            mobile = device.platform in APPLE_MOBILE
            if not mobile and not device.fleetd:
                raise user_message(422, "Host doesn't have fleetd installed")
            title = self.software_titles.get(title_id)
            if title is None or not _offered(title, device.seed.team_id or 0):
                raise bad_request(_NOT_INSTALLABLE)
            if mobile and not device.seed.mdm_enrolled:
                raise bad_request("Error: Couldn't install. To install App Store app, turn on MDM for this host.")
            pending = (isinstance(q.item, SoftwareInstall) and q.item.title_id == title_id for q in device.queue)
            if not mobile and any(pending):
                raise bad_request(_INSTALL_PENDING)
            install = SoftwareInstall(str(uuid.uuid4()), device.id, title_id, now)
            self.installs[install.install_uuid] = install
            device.queue.append(Queued(now, install))
            self._touch(device)
            self._record(
                "software_install",
                device.id,
                (str(title_id),),
                {"title_id": title_id, "install_uuid": install.install_uuid},
            )
            # Fleet answers 202 with an empty object.
            return {}

    def refetch(self, host_id: int) -> dict[str, Any]:
        with self._lock:
            now = self._now()
            device = self._device(host_id)
            self.counts.add(device.id, "refetch")
            if device.platform in APPLE_MOBILE:
                self._refetch_mobile(device, now)
            # RefetchHost only sets the flag; the host reports at its next check-in (osquery.go).
            if device.refetch_requested_at is None:
                device.refetch_requested_at = now
            self._touch(device)
            return {}

    def modify_team(self, team_id: int, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            now = self._now()
            if not self.premium:
                raise missing_license()
            team = self._team(team_id)
            unknown = sorted(set(body) - _TEAM_PAYLOAD_KEYS)
            if unknown:
                # Stricter than Fleet, which ignores unknown keys: a typo must not look like a change.
                raise bad_request(f"json: unknown field {unknown[0]!r}")
            name = body.get("name")
            if name is not None and (not isinstance(name, str) or not name.strip()):
                raise invalid_argument("name", "may not be empty")
            updated = os_updates.apply_patch(team.mdm, body.get("mdm"))
            changed = updated != team.mdm
            team.mdm = updated
            if isinstance(name, str):
                team.name = name
            if isinstance(body.get("description"), str):
                team.description = body["description"]
            if changed:
                for device in self.devices.values():
                    if device.seed.team_id == team_id:
                        device.declaration_due = now
                        self._touch(device)
            return {"team": payloads.team(team, self._host_count(team_id))}

    def new_configuration_profile(self, team_id: int, filename: str, content: bytes) -> dict[str, Any]:
        with self._lock:
            self._now()
            if team_id:
                self._team(team_id)
            if filename.lower().endswith(".json"):
                prefix = "d"
                mdm.validate_declaration(content)
            elif filename.lower().endswith((".mobileconfig", ".xml")):
                prefix = "a" if filename.lower().endswith(".mobileconfig") else "w"
            else:
                raise bad_request("Couldn't add profile. The file should be a .mobileconfig, XML, or JSON file.")
            profile_uuid = prefix + str(uuid.uuid4())
            self.profiles.append({"profile_uuid": profile_uuid, "team_id": team_id, "name": filename})
            return {"profile_uuid": profile_uuid}

    # -- admin -------------------------------------------------------------------------------------

    def set_policy_response(self, host_id: int, policy_id: int, response: str, *, on_device_only: bool) -> None:
        if response not in ("pass", "fail", ""):
            raise bad_request('response must be "pass", "fail" or ""')
        with self._lock:
            self._now()
            device = self._device(host_id)
            device.truth[policy_id] = response
            if not on_device_only:
                device.reported[policy_id] = response
            self._touch(device)

    def add_rule(self, spec: dict[str, Any]) -> PassRule:
        unknown = sorted(set(spec) - {"host_id", "policy_id", "kind", "reference", "takes_effect"})
        if unknown:
            raise bad_request(f"unknown pass_on_action field(s): {', '.join(unknown)}")
        try:
            host_id, policy_id, kind = int(spec["host_id"]), int(spec["policy_id"]), str(spec["kind"])
        except (KeyError, TypeError, ValueError) as error:
            raise bad_request(f"a pass_on_action rule needs host_id, policy_id and kind: {error}") from None
        takes_effect = spec.get("takes_effect", "same_check_in")
        if kind not in ACTION_KINDS or takes_effect not in ("same_check_in", "next_check_in"):
            raise bad_request(f"kind must be one of {ACTION_KINDS}; takes_effect same_check_in or next_check_in")
        reference = None if spec.get("reference") is None else str(spec["reference"])
        with self._lock:
            self._now()
            self._device(host_id)
            rule = PassRule(len(self.rules) + 1, host_id, policy_id, kind, reference, takes_effect)
            self.rules.append(rule)
            return rule

    def set_online(self, host_id: int, online: bool) -> dict[str, Any]:
        with self._lock:
            now = self._now()
            device = self._device(host_id)
            if online and not device.online:
                self._check_in_at(device, now)  # a host that comes back checks in at once
            elif not online and device.online:
                device.go_offline(now)
                self._touch(device)  # no more check-ins until it is back
            return self._device_snapshot(device, now)

    def check_in_now(self, host_id: int) -> dict[str, Any]:
        """The host checks in at once (as after a push that wakes it), then keeps its interval."""
        with self._lock:
            now = self._now()
            device = self._device(host_id)
            if not device.online:
                raise base_error(409, "Conflict", f"host {host_id} is offline; bring it online first")
            self._check_in_at(device, now)
            return self._device_snapshot(device, now)

    def _check_in_at(self, device: Device, now: datetime) -> None:
        device.online = True
        self._checkin.run(device, now)
        device.checked_in(now)
        self._touch(device)

    def update_now(self, host_id: int, version: str | None) -> dict[str, Any]:
        """The user clicked "Update Now": the host installs at its next check-in and reports the version."""
        with self._lock:
            now = self._now()
            device = self._device(host_id)
            target = version or (device.declaration[0] if device.declaration else None)
            if not target:
                raise base_error(409, "Conflict", f"host {host_id} has no pending OS update; give a version")
            if os_updates.at_least(device.os_version, target):
                raise base_error(409, "Conflict", f"host {host_id} already runs {device.os_version}")
            device.update_now = PendingVersion(version, now)
            self._touch(device)
            return self._device_snapshot(device, now)

    def set_device(self, host_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        allowed: dict[str, tuple[type, ...]] = {
            "push_fails": (bool,),
            "fleetd": (bool,),
            "scripts_enabled": (bool, type(None)),
        }
        for key, value in changes.items():
            if key not in allowed or not isinstance(value, allowed[key]):
                raise bad_request(f"device field {key!r}: expected one of push_fails, fleetd, scripts_enabled")
        with self._lock:
            now = self._now()
            device = self._device(host_id)
            for key, value in changes.items():
                setattr(device, key, value)
            return self._device_snapshot(device, now)

    def admin_snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = self._now()
            return {
                "now": iso(now),
                "hosts": {str(d.id): self._device_snapshot(d, now) for d in self.devices.values()},
                "actions_by_host": {str(k): dict(v) for k, v in self.counts.by_host.items()},
                "actions": [asdict(a) for a in self.actions],
                "rules": [asdict(r) for r in self.rules],
            }

    # -- helpers -----------------------------------------------------------------------------------

    def _device(self, host_id: int) -> Device:
        device = self.devices.get(host_id)
        if device is None:
            raise not_found("Host", host_id)
        return device

    def _team(self, team_id: int) -> SeedTeam:
        team = self.teams.get(team_id)
        if team is None:
            raise not_found("Team", team_id)
        return team

    def _team_name(self, device: Device) -> str | None:
        team = self.teams.get(device.seed.team_id or 0)
        return team.name if team else None

    def _host_count(self, team_id: int) -> int:
        return sum(1 for d in self.devices.values() if d.seed.team_id == team_id)

    def _team_updates(self, device: Device) -> AppleOSUpdates | None:
        team = self.teams.get(device.seed.team_id or 0)
        return os_updates.apple_settings_for(team.mdm, device.platform) if team else None

    def _policies_of(self, team_id: int | None) -> list[SeedPolicy]:
        return sorted((p for p in self.policies.values() if p.team_id == team_id), key=lambda p: p.id)

    def _policies_for(self, device: Device) -> list[SeedPolicy]:
        """The host's global and team policies for its platform (datastore ListPoliciesForHost), plus any
        unknown policy its seed names (with a made-up name)."""
        scoped = {p.id for p in self.policies.values() if _in_scope(p, device)}
        unknown = {i for i in (*device.reported, *device.truth) if i not in self.policies}
        return [self.policies.get(i) or SeedPolicy(id=i, name=f"Policy {i}") for i in sorted(scoped | unknown)]

    def _policy_payload(self, policy: SeedPolicy, team_id: int | None = None) -> dict[str, Any]:
        scope = [d for d in self.devices.values() if team_id is None or d.seed.team_id == team_id]
        responses = [d.reported.get(policy.id) for d in scope]
        return payloads.policy(policy, responses.count("pass"), responses.count("fail"))

    def _evaluate_seeded_os_policies(self, device: Device) -> None:
        for found in self._policies_for(device):
            if found.min_os_version and found.id not in device.seed.policies:
                response = "pass" if os_updates.at_least(device.os_version, found.min_os_version) else "fail"
                device.truth[found.id] = device.reported[found.id] = response

    def _script_by_name(self, name: str, team_id: int) -> SeedScript:
        for found in self.scripts.values():
            if found.name == name and (found.team_id or 0) == team_id:
                return found
        raise invalid_argument("script_name", f"Script '{name}' doesn’t exist.")

    def _decode_for(self, devices: list[Device], command: str, host_uuids: list[str]) -> tuple[mdm.DecodedCommand, str]:
        if len(devices) < len(set(host_uuids)):
            raise invalid_argument(
                "device_ids", "at least one of the hosts is not enrolled in MDM or is not an elegible device", 400
            )
        if not all(d.seed.mdm_enrolled for d in devices):
            raise invalid_argument("host_uuids", _MDM_OFF, 412)
        platforms = {"darwin" if d.platform in mdm.APPLE_PLATFORMS else d.platform for d in devices}
        error = mdm.platform_error(platforms)
        if error is not None:
            raise error
        platform = platforms.pop()
        return mdm.decode_command(mdm.decode_base64_command(command), platform), platform

    def _after_push(self, answer: dict[str, Any], devices: list[Device], platform: str) -> dict[str, Any]:
        """Fleet queues first, then pushes (ee/server/service/mdm.go enqueueAppleMDMCommand)."""
        if platform == "windows":
            return answer
        failed = [d.uuid for d in devices if d.push_fails]
        if failed and len(failed) == len(devices):
            raise bad_gateway("Apple push notificiation service", f"push failed for {', '.join(failed)}")
        return {**answer, "failed_uuids": failed} if failed else answer

    def _refetch_mobile(self, device: Device, now: datetime) -> None:
        """iPhones and iPads have no osquery: Fleet asks them through MDM (server/service/hosts.go)."""
        if not device.seed.mdm_enrolled:
            raise invalid_argument("id", "Host does not have MDM turned on.")
        waiting = {q.item.request_type for q in device.queue if isinstance(q.item, Command) and q.item.internal}
        for request_type, prefix in (("InstalledApplicationList", "REFETCH-APPS-"), ("DeviceInformation", "REFETCH-")):
            if request_type in waiting:
                continue
            command_uuid = prefix + str(uuid.uuid4())
            command = Command(command_uuid, request_type, b"", "darwin", (device.uuid,), now, internal=True)
            self.commands[command_uuid] = command
            device.queue.append(Queued(now, command))

    def _record(self, kind: str, host_id: int, references: tuple[str, ...], detail: dict[str, Any]) -> None:
        self.actions.append(Action(kind, host_id, references, detail, iso(self.clock.now())))
        self.counts.add(host_id, kind)

    def _device_snapshot(self, device: Device, now: datetime) -> dict[str, Any]:
        waiting = Counter(type(q.item).__name__ for q in device.queue)
        return {
            "online": device.online,
            "seen_time": iso(device.seen_time(now)),
            "next_check_in": iso(device.next_checkin_after(now)) if device.online else None,
            "refetch_requested": device.refetch_requested,
            "policy_updated_at": iso(device.policy_updated_at),
            "os_version": device.os_version,
            "policies": {str(k): v for k, v in device.reported.items()},
            "device_policies": {str(k): v for k, v in device.truth.items()},
            "queued": {
                "mdm_commands": waiting["Command"],
                "scripts": waiting["ScriptExecution"],
                "software_installs": waiting["SoftwareInstall"],
            },
            "declaration": list(device.declaration) if device.declaration else None,
            "update_now": device.update_now is not None,
            "fleetd": device.fleetd,
            "scripts_enabled": device.scripts_enabled,
            "push_fails": device.push_fails,
        }


_TEAM_PAYLOAD_KEYS = frozenset(
    {"name", "description", "secrets", "webhook_settings", "integrations", "mdm", "host_expiry_settings"}
)


def _seconds(settings: SeedSettings) -> timedelta:
    return timedelta(seconds=settings.policy_update_interval_seconds)


@dataclass(frozen=True)
class _ScriptRequest:
    host_id: int
    script_id: int | None
    script_name: str | None
    contents: str | None
    team_id: int

    @classmethod
    def parse(cls, body: dict[str, Any]) -> _ScriptRequest:
        return cls(
            host_id=_uint_field(body, "host_id") or 0,
            script_id=_uint_field(body, "script_id"),
            script_name=_optional_str_field(body, "script_name") or None,
            contents=_optional_str_field(body, "script_contents") or None,
            team_id=_uint_field(body, "team_id") or 0,
        )

    def validate(self) -> None:
        """HostScriptRequestPayload.ValidateParams, same messages, same order."""
        script_id, name, contents, team_id = self.script_id, self.script_name, self.contents, self.team_id
        if script_id is None and not name and not contents:
            raise invalid_argument("script", "One of 'script_id', 'script_contents', or 'script_name' is required.")
        if script_id is not None:
            if contents:
                raise invalid_argument("script_id", "Only one of 'script_id' or 'script_contents' is allowed.")
            if name:
                raise invalid_argument("script_id", "Only one of 'script_id' or 'script_name' is allowed.")
            if team_id > 0:
                raise invalid_argument("script_id", "Only one of 'script_id' or 'team_id' is allowed.")
        if contents and name:
            raise invalid_argument("script_contents", "Only one of 'script_contents' or 'script_name' is allowed.")
        if contents is not None:
            # Saved scripts only: the product never sends free text to hosts.
            raise invalid_argument("script_contents", "the stand-in Fleet runs saved scripts only")


def _uint_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    # Go's decoder refuses anything but a non-negative JSON number for a uint field.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_request(f"json: cannot unmarshal {type(value).__name__} into Go struct field .{name} of type uint")
    return value


def _optional_str_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"json: cannot unmarshal {type(value).__name__} into Go struct field .{name} of type string")
    return value


def _uuid_list(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("json: cannot unmarshal host_uuids into Go struct field .host_uuids of type []string")
    return list(value)


def _in_scope(policy: SeedPolicy, device: Device) -> bool:
    if policy.team_id is not None and policy.team_id != device.seed.team_id:
        return False
    platforms = {p.strip() for p in policy.platform.split(",") if p.strip()}
    return not platforms or fleet_platform(device.platform) in platforms


def fleet_platform(platform: str) -> str:
    """Host.FleetPlatform: every Linux distribution is "linux"."""
    return "linux" if platform in _LINUX else platform


_LINUX = frozenset(
    {
        "linux",
        "ubuntu",
        "debian",
        "rhel",
        "centos",
        "fedora",
        "amzn",
        "sles",
        "opensuse-leap",
        "opensuse-tumbleweed",
        "arch",
        "archarm",
        "manjaro",
        "kali",
        "gentoo",
        "pop",
        "linuxmint",
        "nixos",
        "void",
        "endeavouros",
        "neon",
        "tuxedo",
    }
)


def _offered(title: SeedSoftwareTitle, team_id: int) -> bool:
    return title.team_ids is None or team_id in title.team_ids


def _paging(query: dict[str, str]) -> tuple[int, int]:
    page = _query_int(query, "page", "non-int page value", minimum=0) or 0
    per_page = _query_int(query, "per_page", "non-int per_page value", minimum=1)
    if per_page is None:
        per_page = DEFAULT_PER_PAGE_WITH_PAGE if "page" in query else 0
    return page, per_page


def _paged(key: str, rows: list[dict[str, Any]], page: int, per_page: int) -> dict[str, Any]:
    shown = rows[page * per_page : (page + 1) * per_page] if per_page else rows
    has_next = bool(per_page) and len(rows) > (page + 1) * per_page
    return {key: shown, "meta": payloads.paging_meta(has_next, page > 0)}


def _host_filter(query: dict[str, str]) -> Callable[[Device], bool]:
    team_id = _query_int(query, "team_id", f"Invalid team_id: {query.get('team_id')}", minimum=0)
    policy_id = _query_int(query, "policy_id", f"Invalid policy_id: {query.get('policy_id')}", minimum=0)
    response = query.get("policy_response")
    wanted: str | None = None
    if response:
        if policy_id is None:
            raise bad_request("Missing policy_id (it must be present when policy_response is specified)")
        if response not in ("passing", "failing"):
            raise bad_request(f"Invalid policy_response: {response} (Valid options are 'passing' or 'failing')")
        wanted = "pass" if response == "passing" else "fail"

    def matches(device: Device) -> bool:
        # team_id=0 means "No team" in Fleet's list filters.
        if team_id is not None and (device.seed.team_id or 0) != team_id:
            return False
        if policy_id is not None and policy_id not in device.reported:
            return False
        return wanted is None or device.reported.get(policy_id or 0) == wanted

    return matches


def _query_int(query: dict[str, str], name: str, message: str, *, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(message) from None
    if value < minimum:
        raise bad_request(message if name != "page" else "negative page value")
    return value
