"""WSGI app of the stand-in Fleet server: Fleet's REST routes plus a loopback-only admin API.

Fleet API: /api/v1/fleet/... and /api/latest/fleet/... (the same routes), bearer-token auth, Fleet's
error bodies. Admin API: /_admin/... (no auth, loopback clients only). See docs/fleet-server.md.
Routing follows infra/routing.py: each request becomes a `_Call`, whose method the route names.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from infra.fleet_server.clock import Clock
from infra.fleet_server.errors import (
    ApiError,
    auth_header_required,
    auth_required,
    bad_request,
    base_error,
    expected_json_body,
)
from infra.fleet_server.faults import Fault, FaultInjector
from infra.fleet_server.recording import HookReceivers, RequestLog
from infra.fleet_server.seed import Seed, SeedError, parse_seed
from infra.fleet_server.state import FleetState
from infra.routing import dispatch
from maintenance_windows.observability import get_logger

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_TOKEN = "local-fleet-token"
API = "/api/<any(v1, latest):version>/fleet"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
SOFA_DIR = Path(__file__).resolve().parent / "sofa"
SOFA_FEEDS = frozenset({"macos_data_feed.json", "ios_data_feed.json"})
_logger = get_logger("infra.fleet_server")


@dataclass
class FleetServer:
    """Everything one app instance holds; reachable in-process as app.server (or server_of(app))."""

    state: FleetState
    token: str
    faults: FaultInjector = field(default_factory=FaultInjector)
    requests: RequestLog = field(default_factory=RequestLog)
    hooks: HookReceivers = field(default_factory=HookReceivers)

    def reset(self, seed: Seed | None = None) -> None:
        self.state.reset(seed)
        self.faults.clear()
        self.requests.clear()
        self.hooks.clear()


class FleetApp:
    """The WSGI app; `server` holds everything it serves (state, faults, request log, hook receivers)."""

    def __init__(self, server: FleetServer) -> None:
        self.server = server

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.path.startswith("/_admin/") and request.remote_addr not in _LOOPBACK:
            return _error(base_error(403, "Forbidden", "the admin API answers loopback clients only"))
        if not _is_api(request.path):
            return _answer(request, _Call(self.server, request))
        # Faults and the token are checked before the route: Fleet authenticates every API path.
        call = _Call(self.server, request)
        delay, fault = self.server.faults.decide(_normalized(request.path))
        if delay:
            time.sleep(delay)
        if fault is not None:
            response = _fault_response(fault)
        else:
            try:
                _authenticate(request, self.server.token)
            except ApiError as refused:
                response = _error(refused)
            else:
                call.authorized = True
                response = _answer(request, call)
        self.server.requests.append(
            method=request.method,
            path=_normalized(request.path),
            raw_path=request.path,
            query=request.args.to_dict(),
            body=_json_or_none(request),
            status=response.status_code,
            fault=None if fault is None else fault.kind,
            authorized=call.authorized,
        )
        return response


def create_app(
    seed: dict[str, Any] | Seed | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    clock: Clock | None = None,
    checkin_interval: float | None = None,
) -> FleetApp:
    """`checkin_interval` (seconds) overrides every seed's settings.checkin_interval_seconds, reseeds included."""
    if not token:
        raise ValueError("the stand-in Fleet needs a non-empty API token")
    parsed = seed if isinstance(seed, Seed) else parse_seed(seed)
    return FleetApp(FleetServer(state=FleetState(parsed, clock, checkin_interval=checkin_interval), token=token))


def server_of(app: FleetApp) -> FleetServer:
    return app.server


# -- request pipeline -----------------------------------------------------------------------------


def _answer(request: Request, call: _Call) -> Response:
    """The routed handler's answer; every failure in Fleet's error shape, as Fleet answers it."""
    try:
        response: Response = dispatch(_ROUTES, request, call, ignored=("version",))
        return response
    except RequestRedirect as redirect:  # a missing trailing slash: werkzeug's redirect, as routed
        return redirect.get_response(request.environ)
    except ApiError as error:
        return _error(error)
    except HTTPException as error:
        return _error(base_error(error.code or 500, error.name, error.description))
    except Exception:  # a fault of the stand-in itself still answers in Fleet's shape
        _logger.exception("stand-in Fleet failed", method=request.method, path=request.path)
        return _error(base_error(500, "Internal Server Error", "The server encountered an internal error."))


def _authenticate(request: Request, token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not credential.strip():
        raise auth_header_required()
    if not hmac.compare_digest(credential.strip().encode(), token.encode()):
        raise auth_required()


def _fault_response(fault: Fault) -> Response:
    if fault.status == 429:
        response = _error(base_error(429, "Too Many Requests", "rate limit exceeded, try again later"))
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response
    return _error(base_error(fault.status, "Internal Server Error", "injected fault"))


def _error(error: ApiError) -> Response:
    return _json(error.body(), error.status)


def _json(payload: Any, status: int = 200) -> Response:
    """Compact, keys in Fleet's order, and one trailing newline, as Go's json.Encoder writes Fleet's answers."""
    return Response(json.dumps(payload, separators=(",", ":")) + "\n", status=status, mimetype="application/json")


def _is_api(path: str) -> bool:
    return path.startswith(("/api/v1/", "/api/latest/"))


def _normalized(path: str) -> str:
    return "/api/v1/" + path.removeprefix("/api/latest/") if path.startswith("/api/latest/") else path


def _json_or_none(request: Request) -> Any:
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def _json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object. No body at all is Fleet's 400 "Expected JSON Body" (endpoint_utils.go
    MakeDecoder, for every request type with JSON fields); Go's decoder error becomes Fleet's 400."""
    data = request.get_data(cache=True)
    if not data:
        raise expected_json_body()
    return _parsed_object(data)


def _admin_body(request: Request) -> dict[str, Any]:
    data = request.get_data(cache=True)
    return _parsed_object(data) if data.strip() else {}


def _parsed_object(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError as error:
        raise bad_request(f"json decoder error: {error}") from None
    if not isinstance(body, dict):
        raise bad_request("json decoder error: expected a JSON object")
    return body


# -- routes ---------------------------------------------------------------------------------------


class _Call:
    """One request to the stand-in: each method answers one route, reading `request` and the server."""

    def __init__(self, server: FleetServer, request: Request) -> None:
        self.server = server
        self.state = server.state
        self.request = request
        self.authorized = False

    def _query(self) -> dict[str, str]:
        return self.request.args.to_dict()

    def health(self) -> Response:
        return _json({})

    def sofa_feed(self, feed: str) -> Response:
        """A small static copy of the SOFA feed (sofafeed.macadmins.io/v1/), for "latest" off-line."""
        if feed not in SOFA_FEEDS:
            return _error(base_error(404, "Not Found", f"no feed {feed}"))
        return Response((SOFA_DIR / feed).read_bytes(), mimetype="application/json")

    # ---- Fleet API: hosts --------------------------------------------------------------------------

    def get_host(self, host_id: int) -> Response:
        return _json(self.state.host_detail(host_id))

    def get_device_mapping(self, host_id: int) -> Response:
        return _json(self.state.device_mapping(host_id))

    def list_hosts(self) -> Response:
        return _json(self.state.list_hosts(self._query()))

    def refetch(self, host_id: int) -> Response:
        return _json(self.state.refetch(host_id))

    # ---- Fleet API: actions ------------------------------------------------------------------------

    def run_command(self) -> Response:
        return _json(self.state.run_mdm_command(_json_body(self.request)))

    def command_results(self) -> Response:
        return _json(self.state.command_results(self.request.args.get("command_uuid", "")))

    def run_script(self) -> Response:
        return _json(self.state.run_script(_json_body(self.request)), 202)

    def script_result(self, execution_id: str) -> Response:
        return _json(self.state.script_result(execution_id))

    def install_software(self, host_id: int, title_id: int) -> Response:
        return _json(self.state.install_software(host_id, title_id), 202)

    def new_configuration_profile(self) -> Response:
        upload = self.request.files.get("profile")
        if upload is None:
            raise bad_request("no file headers for profile")
        team = self.request.form.get("team_id") or self.request.form.get("fleet_id") or "0"
        if not team.isdigit():
            raise bad_request(f"failed to decode team_id in multipart form: {team!r} is not a number")
        return _json(self.state.new_configuration_profile(int(team), upload.filename or "", upload.read()))

    # ---- Fleet API: catalogue ----------------------------------------------------------------------

    def global_policies(self) -> Response:
        return _json(self.state.list_policies(None))

    def global_policy(self, policy_id: int) -> Response:
        return _json(self.state.get_policy(None, policy_id))

    def team_policies(self, team_id: int) -> Response:
        return _json(self.state.list_policies(team_id))

    def team_policy(self, team_id: int, policy_id: int) -> Response:
        return _json(self.state.get_policy(team_id, policy_id))

    def list_scripts(self) -> Response:
        return _json(self.state.list_scripts(self._query()))

    def software_titles(self) -> Response:
        return _json(self.state.list_software_titles(self._query()))

    def list_teams(self) -> Response:
        return _json(self.state.list_teams(self._query()))

    def get_team(self, team_id: int) -> Response:
        return _json(self.state.get_team(team_id))

    def modify_team(self, team_id: int) -> Response:
        return _json(self.state.modify_team(team_id, _json_body(self.request)))

    # ---- admin: state, rules, faults, request log --------------------------------------------------

    def seed(self) -> Response:
        try:
            self.server.reset(parse_seed(_admin_body(self.request)))
        except SeedError as error:
            raise bad_request(str(error)) from None
        return _json({"hosts": len(self.state.devices)})

    def reset(self) -> Response:
        self.server.reset()
        return _json({"hosts": len(self.state.devices)})

    def snapshot(self) -> Response:
        return _json({**self.state.admin_snapshot(), "faults": asdict(self.server.faults.config())})

    def set_policy(self, host_id: int, policy_id: int) -> Response:
        body = _admin_body(self.request)
        self.state.set_policy_response(
            host_id, policy_id, str(body.get("response")), on_device_only=bool(body.get("on_device_only", False))
        )
        return _json({"host_id": host_id, "policy_id": policy_id})

    def add_rule(self) -> Response:
        return _json(asdict(self.state.add_rule(_admin_body(self.request))), 201)

    def actions(self) -> Response:
        snapshot = self.state.admin_snapshot()
        return _json({"by_host": snapshot["actions_by_host"], "actions": snapshot["actions"]})

    def get_faults(self) -> Response:
        return _json({**asdict(self.server.faults.config()), "injected": self.server.faults.injected})

    def set_faults(self) -> Response:
        try:
            config = self.server.faults.configure(_admin_body(self.request))
        except (TypeError, ValueError) as error:
            raise bad_request(f"invalid fault configuration: {error}") from None
        return _json(asdict(config))

    def clear_faults(self) -> Response:
        self.server.faults.clear()
        return _json({})

    def logged_requests(self) -> Response:
        try:
            return _json({"requests": self.server.requests.query(self._query())})
        except ValueError:
            raise bad_request("since and status must be integers") from None

    def clear_requests(self) -> Response:
        self.server.requests.clear()
        return _json({})

    # ---- admin: acting as the hosts and their users (online, check in now, "Update Now", facts) -----

    def set_online(self, host_id: int) -> Response:
        online = _admin_body(self.request).get("online")
        if not isinstance(online, bool):
            raise bad_request('body must be {"online": true|false}')
        return _json(self.state.set_online(host_id, online))

    def check_in(self, host_id: int) -> Response:
        return _json(self.state.check_in_now(host_id))

    def update_now(self, host_id: int) -> Response:
        version = _admin_body(self.request).get("version")
        if version is not None and not (isinstance(version, str) and version.strip()):
            raise bad_request('version must be a non-empty string such as "26.1"')
        return _json(self.state.update_now(host_id, version))

    def set_device(self, host_id: int) -> Response:
        return _json(self.state.set_device(host_id, _admin_body(self.request)))

    # ---- admin: webhook receivers ------------------------------------------------------------------

    def receive_hook(self, name: str) -> Response:
        status, retry_after = self.server.hooks.receive(
            name,
            _json_or_none(self.request),
            authorization=self.request.headers.get("Authorization", ""),
            content_type=self.request.headers.get("Content-Type", ""),
        )
        response = _json({"received": status == 200}, status)
        if retry_after is not None and status == 429:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def hook_received(self, name: str) -> Response:
        return _json({"requests": self.server.hooks.received(name)})

    def hook_faults(self, name: str) -> Response:
        body = _admin_body(self.request)
        try:
            self.server.hooks.configure(
                name,
                fail_next=int(body.get("fail_next", 0)),
                status=int(body.get("status", 429)),
                retry_after=None if body.get("retry_after") is None else int(body["retry_after"]),
            )
        except (TypeError, ValueError) as error:
            raise bad_request(f"invalid hook fault configuration: {error}") from None
        return _json({})

    def clear_hook(self, name: str) -> Response:
        self.server.hooks.clear(name)
        return _json({})


def _routes(*rules: tuple[str, str, str]) -> Map:
    return Map([Rule(path, methods=[method], endpoint=endpoint) for method, path, endpoint in rules])


_ROUTES = _routes(
    ("GET", "/healthz", "health"),
    ("GET", "/sofa/v1/<feed>", "sofa_feed"),
    ("GET", f"{API}/hosts/<int:host_id>", "get_host"),
    ("GET", f"{API}/hosts/<int:host_id>/device_mapping", "get_device_mapping"),
    ("GET", f"{API}/hosts", "list_hosts"),
    ("POST", f"{API}/hosts/<int:host_id>/refetch", "refetch"),
    ("POST", f"{API}/commands/run", "run_command"),
    ("GET", f"{API}/commands/results", "command_results"),
    ("POST", f"{API}/scripts/run", "run_script"),
    ("GET", f"{API}/scripts/results/<execution_id>", "script_result"),
    ("POST", f"{API}/hosts/<int:host_id>/software/<int:title_id>/install", "install_software"),
    ("POST", f"{API}/configuration_profiles", "new_configuration_profile"),
    ("GET", f"{API}/global/policies", "global_policies"),
    ("GET", f"{API}/global/policies/<int:policy_id>", "global_policy"),
    ("GET", f"{API}/teams/<int:team_id>/policies", "team_policies"),
    ("GET", f"{API}/teams/<int:team_id>/policies/<int:policy_id>", "team_policy"),
    ("GET", f"{API}/scripts", "list_scripts"),
    ("GET", f"{API}/software/titles", "software_titles"),
    ("GET", f"{API}/teams", "list_teams"),
    ("GET", f"{API}/teams/<int:team_id>", "get_team"),
    ("PATCH", f"{API}/teams/<int:team_id>", "modify_team"),
    ("POST", "/_admin/seed", "seed"),
    ("POST", "/_admin/reset", "reset"),
    ("GET", "/_admin/state", "snapshot"),
    ("PUT", "/_admin/hosts/<int:host_id>/policies/<int:policy_id>", "set_policy"),
    ("POST", "/_admin/pass_on_action", "add_rule"),
    ("PUT", "/_admin/hosts/<int:host_id>/online", "set_online"),
    ("POST", "/_admin/hosts/<int:host_id>/check_in", "check_in"),
    ("POST", "/_admin/hosts/<int:host_id>/update_now", "update_now"),
    ("PUT", "/_admin/hosts/<int:host_id>/device", "set_device"),
    ("GET", "/_admin/actions", "actions"),
    ("GET", "/_admin/faults", "get_faults"),
    ("PUT", "/_admin/faults", "set_faults"),
    ("DELETE", "/_admin/faults", "clear_faults"),
    ("GET", "/_admin/requests", "logged_requests"),
    ("DELETE", "/_admin/requests", "clear_requests"),
    ("POST", "/_admin/hooks/<name>", "receive_hook"),
    ("GET", "/_admin/hooks/<name>", "hook_received"),
    ("PUT", "/_admin/hooks/<name>/faults", "hook_faults"),
    ("DELETE", "/_admin/hooks/<name>", "clear_hook"),
)
