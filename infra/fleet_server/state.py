"""The stand-in Fleet's data and behaviour, independent of HTTP (app.py maps routes onto it).

Everything is guarded by one lock: the server is threaded and a test may read while a client writes.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from infra.fleet_server import mdm, payloads
from infra.fleet_server.errors import ApiError, bad_request, invalid_argument, not_found
from infra.fleet_server.seed import Seed, SeedHost, SeedPolicy, SeedScript

ActionKind = Literal["mdm_command", "script", "software_install"]
ACTION_KINDS: tuple[str, ...] = ("mdm_command", "script", "software_install")
#: Fleet's list endpoints answer everything when per_page is absent, 20 a page when only page is given.
DEFAULT_PER_PAGE_WITH_PAGE = 20


@dataclass
class PassRule:
    """Make `policy_id` pass on `host_id` once the host receives a matching action.

    `reference` narrows the match: an MDM RequestType or command uuid, a script id or name, a software
    title id (as text); None matches any action of the kind. `apply` is "refetch" (the policy passes at
    the host's next refetch, as a real host reports after the fix) or "immediate".
    """

    id: int
    host_id: int
    policy_id: int
    kind: str
    reference: str | None = None
    apply: Literal["refetch", "immediate"] = "refetch"
    state: Literal["armed", "pending", "done"] = "armed"


@dataclass
class Action:
    kind: str
    host_id: int
    references: tuple[str, ...]
    detail: dict[str, Any]
    time: str = field(default_factory=payloads.now_iso)


@dataclass
class Command:
    command_uuid: str
    request_type: str
    payload: bytes
    host_uuids: tuple[str, ...]
    updated_at: str = field(default_factory=payloads.now_iso)


@dataclass
class ScriptExecution:
    execution_id: str
    host_id: int
    script: SeedScript
    created_at: str = field(default_factory=payloads.now_iso)


class FleetState:
    def __init__(self, seed: Seed) -> None:
        self._lock = threading.RLock()
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
        self.hosts: dict[int, SeedHost] = {h.id: h for h in seed.hosts}
        self.policies: dict[int, SeedPolicy] = {p.id: p for p in seed.policies}
        self.scripts = {s.id: s for s in seed.scripts}
        self.software_titles = {t.id: t for t in seed.software_titles}
        self.commands: dict[str, Command] = {}
        self.executions: dict[str, ScriptExecution] = {}
        self.actions: list[Action] = []
        self.actions_by_host: dict[int, Counter[str]] = {}
        self.rules: list[PassRule] = []

    # -- reads -------------------------------------------------------------------------------------

    def host_detail(self, host_id: int) -> dict[str, Any]:
        with self._lock:
            host = self._host(host_id)
            return {"host": payloads.host_detail(host, self._host_policies(host), team_name=_team(host))}

    def device_mapping(self, host_id: int) -> dict[str, Any]:
        with self._lock:
            return payloads.device_mapping(self._host(host_id))

    def list_hosts(self, query: dict[str, str]) -> dict[str, Any]:
        page, per_page = _paging(query)
        matcher = _host_filter(query)
        with self._lock:
            hosts = [h for h in sorted(self.hosts.values(), key=lambda h: h.id) if matcher(h)]
            if per_page:
                hosts = hosts[page * per_page : (page + 1) * per_page]
            summaries = [payloads.host_summary(payloads.host_detail(h, [], team_name=_team(h))) for h in hosts]
        return {"hosts": summaries}

    def command_results(self, command_uuid: str) -> dict[str, Any]:
        with self._lock:
            command = self.commands.get(command_uuid)
            if command is None:
                raise not_found("Command", command_uuid)
            return {"results": [self._command_result(command, u) for u in command.host_uuids]}

    def script_result(self, execution_id: str) -> dict[str, Any]:
        with self._lock:
            execution = self.executions.get(execution_id)
            if execution is None:
                raise not_found("HostScriptResult", execution_id)
            host = self.hosts.get(execution.host_id)
            return {
                "script_contents": execution.script.contents,
                "exit_code": execution.script.exit_code,
                "output": execution.script.output,
                "message": "",
                "hostname": host.name if host else "",
                "host_timeout": False,
                "host_id": execution.host_id,
                "execution_id": execution.execution_id,
                "runtime": 1,
                "created_at": execution.created_at,
            }

    # -- actions -----------------------------------------------------------------------------------

    def run_mdm_command(self, body: dict[str, Any]) -> dict[str, Any]:
        command_text = _optional_str_field(body, "command") or ""
        host_uuids = _uuid_list(body.get("host_uuids"))
        with self._lock:
            hosts = [h for h in self.hosts.values() if h.uuid in set(host_uuids)]
            if not hosts:
                raise invalid_argument(
                    "host_uuids", "No hosts targeted. Make sure you provide a valid UUID.", status=404
                )
            decoded = self._decode_for(hosts, command_text, host_uuids)
            if decoded.command_uuid in self.commands:
                # nanomdm's insert hits the command_uuid primary key: MySQL 1062 becomes a 409.
                raise ApiError(409, "Validation Failed", [{"name": "base", "reason": "command already exists"}])
            self.commands[decoded.command_uuid] = Command(
                decoded.command_uuid, decoded.request_type, decoded.payload, tuple(host_uuids)
            )
            for host in hosts:
                self._record(
                    "mdm_command",
                    host.id,
                    (decoded.request_type, decoded.command_uuid),
                    {"command_uuid": decoded.command_uuid, "request_type": decoded.request_type},
                )
            return {"command_uuid": decoded.command_uuid, "request_type": decoded.request_type}

    def run_script(self, body: dict[str, Any]) -> dict[str, Any]:
        request = _ScriptRequest.parse(body)
        with self._lock:
            script_id = request.script_id
            if request.script_name is not None:
                script_id = self._script_id_by_name(request.script_name, request.team_id).id
            host = self._host(request.host_id)
            script = self.scripts.get(script_id) if script_id is not None else None
            if script is None:
                raise invalid_argument("script_id", 'No script exists for the provided "script_id".', 404)
            if (script.team_id or 0) != (host.team_id or 0):
                raise invalid_argument(
                    "script_id", 'The script does not belong to the same fleet (or "Unassigned") as the host.'
                )
            execution = ScriptExecution(str(uuid.uuid4()), host.id, script)
            self.executions[execution.execution_id] = execution
            self._record(
                "script",
                host.id,
                (str(script.id), script.name),
                {"script_id": script.id, "execution_id": execution.execution_id},
            )
            return {"host_id": host.id, "execution_id": execution.execution_id}

    def install_software(self, host_id: int, title_id: int) -> dict[str, Any]:
        with self._lock:
            host = self._host(host_id)
            title = self.software_titles.get(title_id)
            if title is None:
                raise not_found("SoftwareTitle", title_id)
            if title.team_ids is not None and (host.team_id or 0) not in title.team_ids:
                raise bad_request(
                    "Software title is not available for install. "
                    "Please add software package or App Store app to install."
                )
            install_uuid = str(uuid.uuid4())
            self._record(
                "software_install",
                host.id,
                (str(title_id),),
                {"title_id": title_id, "install_uuid": install_uuid},
            )
            # Fleet answers 202 with an empty object.
            return {}

    def refetch(self, host_id: int) -> dict[str, Any]:
        with self._lock:
            host = self._host(host_id)
            self.actions_by_host.setdefault(host.id, Counter())["refetch"] += 1
            # The stand-in host reports at once: pending fixes show, and the refetch is done.
            for rule in self.rules:
                if rule.host_id == host.id and rule.state == "pending":
                    host.policies[rule.policy_id] = "pass"
                    rule.state = "done"
            host.refetch_requested = False
            return {}

    # -- admin -------------------------------------------------------------------------------------

    def set_policy_response(self, host_id: int, policy_id: int, response: str) -> None:
        if response not in ("pass", "fail", ""):
            raise bad_request('response must be "pass", "fail" or ""')
        with self._lock:
            self._host(host_id).policies[policy_id] = response  # type: ignore[assignment]

    def add_rule(self, spec: dict[str, Any]) -> PassRule:
        try:
            kind = str(spec["kind"])
            rule_spec = {
                "host_id": int(spec["host_id"]),
                "policy_id": int(spec["policy_id"]),
                "reference": None if spec.get("reference") is None else str(spec["reference"]),
                "apply": spec.get("apply", "refetch"),
            }
        except (KeyError, TypeError, ValueError) as error:
            raise bad_request(f"a pass_on_action rule needs host_id, policy_id and kind: {error}") from None
        if kind not in ACTION_KINDS or rule_spec["apply"] not in ("refetch", "immediate"):
            raise bad_request(f"kind must be one of {ACTION_KINDS}; apply must be refetch or immediate")
        with self._lock:
            self._host(rule_spec["host_id"])
            rule = PassRule(id=len(self.rules) + 1, kind=kind, **rule_spec)
            self.rules.append(rule)
            return rule

    def admin_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "hosts": {
                    str(h.id): {"policies": {str(k): v for k, v in h.policies.items()}} for h in self.hosts.values()
                },
                "actions_by_host": {str(k): dict(v) for k, v in self.actions_by_host.items()},
                "actions": [asdict(a) for a in self.actions],
                "rules": [asdict(r) for r in self.rules],
            }

    # -- helpers -----------------------------------------------------------------------------------

    def _host(self, host_id: int) -> SeedHost:
        host = self.hosts.get(host_id)
        if host is None:
            raise not_found("Host", host_id)
        return host

    def _host_policies(self, host: SeedHost) -> list[dict[str, Any]]:
        ids = sorted(set(host.policies) | {p.id for p in self.policies.values() if _applies(p, host)})
        return [payloads.host_policy(self._policy(i), host.policies.get(i, "")) for i in ids]

    def _policy(self, policy_id: int) -> SeedPolicy:
        # A seed may name a policy only in a host's map; it still needs a name in the host's payload.
        return self.policies.get(policy_id) or SeedPolicy(id=policy_id, name=f"Policy {policy_id}")

    def _script_id_by_name(self, name: str, team_id: int) -> SeedScript:
        for script in self.scripts.values():
            if script.name == name and (script.team_id or 0) == team_id:
                return script
        raise invalid_argument("script_name", f"Script '{name}' doesn’t exist.")

    def _decode_for(self, hosts: list[SeedHost], command: str, host_uuids: list[str]) -> mdm.DecodedCommand:
        if len(hosts) < len(set(host_uuids)):
            raise invalid_argument(
                "device_ids",
                "at least one of the hosts is not enrolled in MDM or is not an elegible device",
                400,
            )
        if not all(h.mdm_enrolled for h in hosts):
            raise invalid_argument(
                "host_uuids", "Can't run the MDM command because one or more hosts have MDM turned off.", 412
            )
        platforms = {h.platform for h in hosts}
        error = mdm.platform_error(platforms)
        if error is not None:
            raise error
        return mdm.decode_command(mdm.decode_base64_command(command), platforms.pop())

    def _command_result(self, command: Command, host_uuid: str) -> dict[str, Any]:
        host = next((h for h in self.hosts.values() if h.uuid == host_uuid), None)
        return {
            "host_uuid": host_uuid,
            "command_uuid": command.command_uuid,
            "status": "Acknowledged",
            "updated_at": command.updated_at,
            "request_type": command.request_type,
            "hostname": host.name if host else "",
            "payload": base64.b64encode(command.payload).decode(),
            "result": "",
        }

    def _record(self, kind: str, host_id: int, references: tuple[str, ...], detail: dict[str, Any]) -> None:
        self.actions.append(Action(kind, host_id, references, detail))
        self.actions_by_host.setdefault(host_id, Counter())[kind] += 1
        for rule in self.rules:
            matches = rule.reference is None or rule.reference in references
            if rule.state == "armed" and rule.host_id == host_id and rule.kind == kind and matches:
                self._fire(rule)

    def _fire(self, rule: PassRule) -> None:
        if rule.apply == "immediate":
            self.hosts[rule.host_id].policies[rule.policy_id] = "pass"
            rule.state = "done"
        else:
            rule.state = "pending"


@dataclass(frozen=True)
class _ScriptRequest:
    host_id: int
    script_id: int | None
    script_name: str | None
    team_id: int

    @classmethod
    def parse(cls, body: dict[str, Any]) -> _ScriptRequest:
        host_id = _uint_field(body, "host_id") or 0
        script_id = _uint_field(body, "script_id")
        script_name = _optional_str_field(body, "script_name") or None
        contents = _optional_str_field(body, "script_contents") or None
        team_id = _uint_field(body, "team_id") or 0
        _validate_script_params(script_id, script_name, contents, team_id)
        if contents is not None:
            # Saved scripts only: the product never sends free text to hosts.
            raise invalid_argument("script_contents", "the stand-in Fleet runs saved scripts only")
        return cls(host_id, script_id, script_name, team_id)


def _validate_script_params(script_id: int | None, name: str | None, contents: str | None, team_id: int) -> None:
    """HostScriptRequestPayload.ValidateParams, same messages, same order."""
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


def _paging(query: dict[str, str]) -> tuple[int, int]:
    page = _query_int(query, "page", "non-int page value", minimum=0) or 0
    per_page = _query_int(query, "per_page", "non-int per_page value", minimum=1)
    if per_page is None:
        per_page = DEFAULT_PER_PAGE_WITH_PAGE if "page" in query else 0
    return page, per_page


def _host_filter(query: dict[str, str]) -> Callable[[SeedHost], bool]:
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

    def matches(host: SeedHost) -> bool:
        # team_id=0 means "No team" in Fleet's list filters.
        if team_id is not None and (host.team_id or 0) != team_id:
            return False
        if policy_id is not None and policy_id not in host.policies:
            return False
        return wanted is None or host.policies.get(policy_id or 0) == wanted

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


def _applies(policy: SeedPolicy, host: SeedHost) -> bool:
    return policy.team_id is None or policy.team_id == host.team_id


def _team(host: SeedHost) -> str | None:
    return None if host.team_id is None else f"Team {host.team_id}"
