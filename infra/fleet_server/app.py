"""WSGI app of the stand-in Fleet server: Fleet's REST routes plus a loopback-only admin API.

Fleet API: /api/v1/fleet/... and /api/latest/fleet/... (the same routes), bearer-token auth, Fleet's
error bodies. Admin API: /_admin/... (no auth, loopback clients only). See docs/fleet-server.md.
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

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

DEFAULT_TOKEN = "local-fleet-token"
API = "/api/<any(v1, latest):version>/fleet"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_EXTENSION = "fleet_server"


@dataclass
class FleetServer:
    """Everything one app instance holds; reachable in-process as app.extensions["fleet_server"]."""

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


def create_app(
    seed: dict[str, Any] | Seed | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    clock: Clock | None = None,
    checkin_interval: float | None = None,
) -> Flask:
    """`checkin_interval` (seconds) overrides every seed's settings.checkin_interval_seconds, reseeds included."""
    if not token:
        raise ValueError("the stand-in Fleet needs a non-empty API token")
    parsed = seed if isinstance(seed, Seed) else parse_seed(seed)
    server = FleetServer(state=FleetState(parsed, clock, checkin_interval=checkin_interval), token=token)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep Fleet's key order
    app.extensions[_EXTENSION] = server
    _install_hooks(app, server)
    _register_fleet_routes(app, server.state)
    _register_admin_routes(app, server)
    return app


def server_of(app: Flask) -> FleetServer:
    server: FleetServer = app.extensions[_EXTENSION]
    return server


# -- request pipeline -----------------------------------------------------------------------------


def _install_hooks(app: Flask, server: FleetServer) -> None:
    @app.before_request
    def _guard() -> Response | None:
        if request.path.startswith("/_admin/") and request.remote_addr not in _LOOPBACK:
            return _error(base_error(403, "Forbidden", "the admin API answers loopback clients only"))
        if not _is_api(request.path):
            return None
        g.fault = None
        g.authorized = False
        delay, fault = server.faults.decide(_normalized(request.path))
        if delay:
            time.sleep(delay)
        if fault is not None:
            g.fault = fault.kind
            return _fault_response(fault)
        _authenticate(server.token)
        g.authorized = True
        return None

    @app.after_request
    def _log(response: Response) -> Response:
        if _is_api(request.path):
            server.requests.append(
                method=request.method,
                path=_normalized(request.path),
                raw_path=request.path,
                query=request.args.to_dict(),
                body=_json_or_none(),
                status=response.status_code,
                fault=g.get("fault"),
                authorized=g.get("authorized", False),
            )
        return response

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return _error(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        return _error(base_error(status, error.name, error.description))

    @app.get("/healthz")
    def _health() -> Response:
        return jsonify({})

    @app.get("/sofa/v1/<feed>")
    def _sofa_feed(feed: str) -> Response:
        """A small static copy of the SOFA feed (sofafeed.macadmins.io/v1/), for "latest" off-line."""
        if feed not in SOFA_FEEDS:
            return _error(base_error(404, "Not Found", f"no feed {feed}"))
        return Response((SOFA_DIR / feed).read_bytes(), mimetype="application/json")


SOFA_DIR = Path(__file__).resolve().parent / "sofa"
SOFA_FEEDS = frozenset({"macos_data_feed.json", "ios_data_feed.json"})


def _authenticate(token: str) -> None:
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
    response = jsonify(error.body())
    response.status_code = error.status
    return response


def _is_api(path: str) -> bool:
    return path.startswith(("/api/v1/", "/api/latest/"))


def _normalized(path: str) -> str:
    return "/api/v1/" + path.removeprefix("/api/latest/") if path.startswith("/api/latest/") else path


def _json_or_none() -> Any:
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def _json_body() -> dict[str, Any]:
    """The body as a JSON object. No body at all is Fleet's 400 "Expected JSON Body" (endpoint_utils.go
    MakeDecoder, for every request type with JSON fields); Go's decoder error becomes Fleet's 400."""
    data = request.get_data(cache=True)
    if not data:
        raise expected_json_body()
    return _parsed_object(data)


def _admin_body() -> dict[str, Any]:
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


# -- Fleet API ------------------------------------------------------------------------------------


def _register_fleet_routes(app: Flask, state: FleetState) -> None:
    _register_host_routes(app, state)
    _register_action_routes(app, state)
    _register_catalogue_routes(app, state)


def _register_host_routes(app: Flask, state: FleetState) -> None:
    @app.get(f"{API}/hosts/<int:host_id>")
    def get_host(version: str, host_id: int) -> Response:
        return jsonify(state.host_detail(host_id))

    @app.get(f"{API}/hosts/<int:host_id>/device_mapping")
    def get_device_mapping(version: str, host_id: int) -> Response:
        return jsonify(state.device_mapping(host_id))

    @app.get(f"{API}/hosts")
    def list_hosts(version: str) -> Response:
        return jsonify(state.list_hosts(request.args.to_dict()))

    @app.post(f"{API}/hosts/<int:host_id>/refetch")
    def refetch(version: str, host_id: int) -> Response:
        return jsonify(state.refetch(host_id))


def _register_action_routes(app: Flask, state: FleetState) -> None:
    @app.post(f"{API}/commands/run")
    def run_command(version: str) -> Response:
        return jsonify(state.run_mdm_command(_json_body()))

    @app.get(f"{API}/commands/results")
    def command_results(version: str) -> Response:
        return jsonify(state.command_results(request.args.get("command_uuid", "")))

    @app.post(f"{API}/scripts/run")
    def run_script(version: str) -> tuple[Response, int]:
        return jsonify(state.run_script(_json_body())), 202

    @app.get(f"{API}/scripts/results/<execution_id>")
    def script_result(version: str, execution_id: str) -> Response:
        return jsonify(state.script_result(execution_id))

    @app.post(f"{API}/hosts/<int:host_id>/software/<int:title_id>/install")
    def install_software(version: str, host_id: int, title_id: int) -> tuple[Response, int]:
        return jsonify(state.install_software(host_id, title_id)), 202

    @app.post(f"{API}/configuration_profiles")
    def new_configuration_profile(version: str) -> Response:
        upload = request.files.get("profile")
        if upload is None:
            raise bad_request("no file headers for profile")
        team = request.form.get("team_id") or request.form.get("fleet_id") or "0"
        if not team.isdigit():
            raise bad_request(f"failed to decode team_id in multipart form: {team!r} is not a number")
        return jsonify(state.new_configuration_profile(int(team), upload.filename or "", upload.read()))


def _register_catalogue_routes(app: Flask, state: FleetState) -> None:
    @app.get(f"{API}/global/policies")
    def global_policies(version: str) -> Response:
        return jsonify(state.list_policies(None))

    @app.get(f"{API}/global/policies/<int:policy_id>")
    def global_policy(version: str, policy_id: int) -> Response:
        return jsonify(state.get_policy(None, policy_id))

    @app.get(f"{API}/teams/<int:team_id>/policies")
    def team_policies(version: str, team_id: int) -> Response:
        return jsonify(state.list_policies(team_id))

    @app.get(f"{API}/teams/<int:team_id>/policies/<int:policy_id>")
    def team_policy(version: str, team_id: int, policy_id: int) -> Response:
        return jsonify(state.get_policy(team_id, policy_id))

    @app.get(f"{API}/scripts")
    def list_scripts(version: str) -> Response:
        return jsonify(state.list_scripts(request.args.to_dict()))

    @app.get(f"{API}/software/titles")
    def software_titles(version: str) -> Response:
        return jsonify(state.list_software_titles(request.args.to_dict()))

    @app.get(f"{API}/teams")
    def list_teams(version: str) -> Response:
        return jsonify(state.list_teams(request.args.to_dict()))

    @app.get(f"{API}/teams/<int:team_id>")
    def get_team(version: str, team_id: int) -> Response:
        return jsonify(state.get_team(team_id))

    @app.patch(f"{API}/teams/<int:team_id>")
    def modify_team(version: str, team_id: int) -> Response:
        return jsonify(state.modify_team(team_id, _json_body()))


# -- admin API ------------------------------------------------------------------------------------


def _register_admin_routes(app: Flask, server: FleetServer) -> None:
    state = server.state

    @app.post("/_admin/seed")
    def seed() -> Response:
        try:
            server.reset(parse_seed(_admin_body()))
        except SeedError as error:
            raise bad_request(str(error)) from None
        return jsonify({"hosts": len(state.devices)})

    @app.post("/_admin/reset")
    def reset() -> Response:
        server.reset()
        return jsonify({"hosts": len(state.devices)})

    @app.get("/_admin/state")
    def snapshot() -> Response:
        return jsonify({**state.admin_snapshot(), "faults": asdict(server.faults.config())})

    @app.put("/_admin/hosts/<int:host_id>/policies/<int:policy_id>")
    def set_policy(host_id: int, policy_id: int) -> Response:
        body = _admin_body()
        state.set_policy_response(host_id, policy_id, str(body.get("response")),
                                  on_device_only=bool(body.get("on_device_only", False)))  # fmt: skip
        return jsonify({"host_id": host_id, "policy_id": policy_id})

    @app.post("/_admin/pass_on_action")
    def add_rule() -> tuple[Response, int]:
        return jsonify(asdict(state.add_rule(_admin_body()))), 201

    _register_device_routes(app, state)

    @app.get("/_admin/actions")
    def actions() -> Response:
        snapshot = state.admin_snapshot()
        return jsonify({"by_host": snapshot["actions_by_host"], "actions": snapshot["actions"]})

    @app.get("/_admin/faults")
    def get_faults() -> Response:
        return jsonify({**asdict(server.faults.config()), "injected": server.faults.injected})

    @app.put("/_admin/faults")
    def set_faults() -> Response:
        try:
            config = server.faults.configure(_admin_body())
        except (TypeError, ValueError) as error:
            raise bad_request(f"invalid fault configuration: {error}") from None
        return jsonify(asdict(config))

    @app.delete("/_admin/faults")
    def clear_faults() -> Response:
        server.faults.clear()
        return jsonify({})

    @app.get("/_admin/requests")
    def logged_requests() -> Response:
        try:
            return jsonify({"requests": server.requests.query(request.args.to_dict())})
        except ValueError:
            raise bad_request("since and status must be integers") from None

    @app.delete("/_admin/requests")
    def clear_requests() -> Response:
        server.requests.clear()
        return jsonify({})

    _register_hook_routes(app, server.hooks)


def _register_device_routes(app: Flask, state: FleetState) -> None:
    """Acting as the hosts and their users: online/offline, check in now, "Update Now", device facts."""

    @app.put("/_admin/hosts/<int:host_id>/online")
    def set_online(host_id: int) -> Response:
        online = _admin_body().get("online")
        if not isinstance(online, bool):
            raise bad_request('body must be {"online": true|false}')
        return jsonify(state.set_online(host_id, online))

    @app.post("/_admin/hosts/<int:host_id>/check_in")
    def check_in(host_id: int) -> Response:
        return jsonify(state.check_in_now(host_id))

    @app.post("/_admin/hosts/<int:host_id>/update_now")
    def update_now(host_id: int) -> Response:
        version = _admin_body().get("version")
        if version is not None and not (isinstance(version, str) and version.strip()):
            raise bad_request('version must be a non-empty string such as "26.1"')
        return jsonify(state.update_now(host_id, version))

    @app.put("/_admin/hosts/<int:host_id>/device")
    def set_device(host_id: int) -> Response:
        return jsonify(state.set_device(host_id, _admin_body()))


def _register_hook_routes(app: Flask, hooks: HookReceivers) -> None:
    @app.post("/_admin/hooks/<name>")
    def receive_hook(name: str) -> Response:
        status, retry_after = hooks.receive(
            name,
            _json_or_none(),
            authorization=request.headers.get("Authorization", ""),
            content_type=request.headers.get("Content-Type", ""),
        )
        response = jsonify({"received": status == 200})
        response.status_code = status
        if retry_after is not None and status == 429:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.get("/_admin/hooks/<name>")
    def hook_received(name: str) -> Response:
        return jsonify({"requests": hooks.received(name)})

    @app.put("/_admin/hooks/<name>/faults")
    def hook_faults(name: str) -> Response:
        body = _admin_body()
        try:
            hooks.configure(
                name,
                fail_next=int(body.get("fail_next", 0)),
                status=int(body.get("status", 429)),
                retry_after=None if body.get("retry_after") is None else int(body["retry_after"]),
            )
        except (TypeError, ValueError) as error:
            raise bad_request(f"invalid hook fault configuration: {error}") from None
        return jsonify({})

    @app.delete("/_admin/hooks/<name>")
    def clear_hook(name: str) -> Response:
        hooks.clear(name)
        return jsonify({})
