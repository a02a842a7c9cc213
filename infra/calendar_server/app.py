"""The WSGI app: Calendar v3 under /calendar/v3/, HTTP batch under /batch/calendar/v3, OAuth token endpoint
at /token, admin under /_admin/.

Identity: `Authorization: Bearer local:<email>` is the impersonated user, the access token the /token endpoint
mints for a delegated user (and what static local credentials send). Users exist only once seeded through the
admin API (unknown → 404); a seeded user whose delegation is refused gets no token, and a static token for
them is refused with 401.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, PathConverter, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from infra.calendar_server import events as ev
from infra.calendar_server import oauth
from infra.calendar_server.batch import PartResponse, parse_batch, render_batch
from infra.calendar_server.errors import ApiError, auth_error, bad_request, invalid, not_found
from infra.calendar_server.limits import CallGate, GateConfig, ScriptedFault
from infra.calendar_server.push import Notifier, PushSettings
from infra.calendar_server.store import CalendarStore
from infra.calendar_server.validation import Discovery, MatchedCall, load_discovery, parse_date_time
from infra.routing import dispatch

API_PREFIX = "/calendar/v3/"
BATCH_PATH = "/batch/calendar/v3"
BEARER_PREFIX = "Bearer local:"
JSON_TYPE = "application/json; charset=UTF-8"
_SETTING_DEFAULTS = {"locale": "en", "weekStart": "0", "format24HourTime": "false", "hideWeekends": "false"}
_WRITES = ("calendar.events.insert", "calendar.events.update", "calendar.events.patch")
#: Admin config keys that belong to the store rather than the call gate or the notifier.
_STORE_SETTINGS = ("channel_max_ttl_seconds", "recurrence_horizon_days")


@dataclass(frozen=True)
class ApiCall:
    """One Calendar API call as the discovery document routed it: who calls, with what, and the request."""

    matched: MatchedCall
    caller: str
    params: dict[str, Any]
    body: Any
    request: Request

    def path(self, name: str) -> str:
        return self.matched.path_params[name]


Handler = Callable[[ApiCall], tuple[int, Any]]
#: An "act as the user" change: from the admin request's body, the edit applied to the event (and its zone).
_Action = Callable[[dict[str, Any]], Callable[[dict[str, Any], str], None]]


class CalendarApp:
    """A strict stand-in for the Calendar v3 API; see docs/calendar-server.md."""

    def __init__(
        self,
        store: CalendarStore | None = None,
        gate: CallGate | None = None,
        notifier: Notifier | None = None,
        discovery: Discovery | None = None,
    ) -> None:
        self.notifier = notifier or Notifier()
        self.store = store or CalendarStore(notify=self.notifier.enqueue)
        self.gate = gate or CallGate()
        self.discovery = discovery or load_discovery()
        self._handlers: dict[str, Handler] = {
            "calendar.events.insert": self._insert,
            "calendar.events.get": self._get,
            "calendar.events.patch": self._patch,
            "calendar.events.update": self._update,
            "calendar.events.delete": self._delete,
            "calendar.events.list": self._list,
            "calendar.events.watch": self._watch,
            "calendar.freebusy.query": self._free_busy,
            "calendar.settings.get": self._setting,
            "calendar.channels.stop": self._stop,
        }
        self.admin = _AdminApi(self)
        self.token_answers: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def close(self) -> None:
        self.notifier.close()

    def respond(self, request: Request) -> Response:
        try:
            response: Response = dispatch(_ROUTES, request, _Call(self, request), ignored=("rest",))
        except HTTPException:  # no route, or a route's path with another method: Google's 404
            return _error_response(not_found())
        return response

    # ---- single calls --------------------------------------------------------------------------

    def api_call(self, request: Request, *, batched: bool) -> Response:
        method_id: str | None = None
        caller: str | None = None
        try:
            matched = self.discovery.match(request.method, request.path[len(API_PREFIX) :])
            if matched is None:
                raise not_found()
            method_id = matched.method.method_id
            caller = _caller(request)
            state = self.store.delegation(caller)
            if state is not None and oauth.refusal(state) is not None:
                raise auth_error()  # Google never issued this user a token
            self.gate.admit(method_id, caller)
            status, payload = self._run(matched, caller, request, batched=batched)
            response = _json(status, payload) if payload is not None else Response(status=status)
        except ApiError as error:
            if self.gate.config.error_details:
                error.with_error_info(method_id)
            response = _error_response(error)
        self.gate.record(
            {
                "time": ev.timestamp(datetime.now(UTC)),
                "method": method_id,
                "http": request.method,
                "path": request.path,
                "user": caller,
                "status": response.status_code,
                "batched": batched,
            }
        )
        return response

    def _run(self, matched: MatchedCall, caller: str, request: Request, *, batched: bool) -> tuple[int, Any]:
        params = self.discovery.validate_query(matched.method, request.args.to_dict(flat=False))
        body: Any = None
        if matched.method.request_schema is not None:
            body = _json_body(request)
            self.discovery.validate_body(matched.method, body)
        if batched and matched.method.method_id in _WRITES and self._writes_working_location(matched, caller, body):
            # Calendar's working-location guide: creating and updating them through batch isn't supported.
            raise bad_request("Working location events cannot be created or updated in a batch request.")
        handler = self._handlers.get(matched.method.method_id)
        if handler is None:
            raise ApiError(501, "notImplemented", f"{matched.method.method_id} is not served by the stand-in.")
        return handler(ApiCall(matched, caller, params, body, request))

    def _writes_working_location(self, matched: MatchedCall, caller: str, body: Any) -> bool:
        if isinstance(body, dict) and body.get("eventType") == "workingLocation":
            return True
        event_id = matched.path_params.get("eventId")
        if event_id is None:
            return False
        try:
            existing = self.store.get(caller, matched.path_params["calendarId"], event_id)
        except ApiError:
            return False  # the call itself will answer the 404
        return existing.get("eventType") == "workingLocation"

    def token(self, request: Request) -> Response:
        answer = oauth.grant(request.form.to_dict(), self.store.delegation)
        self.token_answers["granted" if answer.granted else str(answer.body["error"])] += 1
        return _json(answer.status, answer.body)

    def _insert(self, call: ApiCall) -> tuple[int, Any]:
        return 200, self.store.insert(call.caller, call.path("calendarId"), call.body)

    def _get(self, call: ApiCall) -> tuple[int, Any]:
        event = self.store.get(call.caller, call.path("calendarId"), call.path("eventId"))
        if call.request.headers.get("If-None-Match") == event["etag"]:
            return 304, None
        return 200, event

    def _patch(self, call: ApiCall) -> tuple[int, Any]:
        if_match = call.request.headers.get("If-Match")
        return 200, self.store.patch(call.caller, call.path("calendarId"), call.path("eventId"), call.body, if_match)

    def _update(self, call: ApiCall) -> tuple[int, Any]:
        if_match = call.request.headers.get("If-Match")
        return 200, self.store.update(call.caller, call.path("calendarId"), call.path("eventId"), call.body, if_match)

    def _delete(self, call: ApiCall) -> tuple[int, Any]:
        if_match = call.request.headers.get("If-Match")
        self.store.delete(call.caller, call.path("calendarId"), call.path("eventId"), if_match)
        return 204, None

    def _list(self, call: ApiCall) -> tuple[int, Any]:
        return 200, self.store.list_events(call.caller, call.path("calendarId"), call.params)

    def _watch(self, call: ApiCall) -> tuple[int, Any]:
        calendar_id = call.path("calendarId")
        resource_uri = f"{call.request.host_url}calendar/v3/calendars/{quote(calendar_id, safe='')}/events?alt=json"
        return 200, self.store.watch(call.caller, calendar_id, call.body, resource_uri)

    def _free_busy(self, call: ApiCall) -> tuple[int, Any]:
        return 200, self.store.free_busy(call.body)

    def _setting(self, call: ApiCall) -> tuple[int, Any]:
        setting = call.path("setting")
        zone_name = self.store.time_zone(call.caller)  # also 404 for an unknown user
        value = zone_name if setting == "timezone" else _SETTING_DEFAULTS.get(setting)
        if value is None:
            raise not_found()
        etag = hashlib.sha256(f"{call.caller}:{setting}:{value}".encode()).hexdigest()[:16]
        return 200, {
            "kind": "calendar#setting",
            "etag": f'"{etag}"',
            "id": setting,
            "value": value,
        }

    def _stop(self, call: ApiCall) -> tuple[int, Any]:
        self.store.stop_channel(call.body)
        return 204, None

    # ---- batch ------------------------------------------------------------------------------------

    def batch(self, request: Request) -> Response:
        try:
            parts = parse_batch(request.headers.get("Content-Type", ""), request.get_data())
        except ApiError as error:
            return _error_response(error)
        answers: list[PartResponse] = []
        for part in parts:
            # The outer request's headers apply to every part unless the part sets its own (Google's rule).
            headers = Headers(request.headers)
            for key, value in part.headers.items():
                headers[key] = value
            for hop_by_hop in ("Content-Length", "Host"):
                headers.pop(hop_by_hop, None)
            path, _, query = part.path.partition("?")
            environ = EnvironBuilder(
                path=path,
                query_string=query,
                method=part.method,
                headers=headers,
                data=part.body or None,
                base_url=request.host_url,
            ).get_environ()
            inner = Request(environ)
            if path.startswith(API_PREFIX):
                response = self.api_call(inner, batched=True)
            else:
                response = _error_response(not_found())
            answers.append(
                PartResponse(
                    content_id=part.content_id,
                    status=response.status_code,
                    reason=HTTPStatus(response.status_code).phrase,
                    content_type=response.headers.get("Content-Type") if response.status_code != 204 else None,
                    body=response.get_data(),
                )
            )
        content_type, body = render_batch(answers)
        return Response(body, status=200, content_type=content_type)


class _AdminApi:
    """Test and demo controls; never counted, never throttled."""

    def __init__(self, app: CalendarApp) -> None:
        self._app = app
        self._routes = Map(
            [
                Rule("/_admin/reset", methods=["POST"], endpoint="reset"),
                Rule("/_admin/users", methods=["POST"], endpoint="seed_users"),
                Rule("/_admin/events", methods=["POST"], endpoint="seed_events"),
                Rule("/_admin/users/<email>/events", methods=["GET"], endpoint="user_events"),
                Rule("/_admin/users/<email>/events/<event_id>/<action>", methods=["POST"], endpoint="act"),
                Rule("/_admin/sync-tokens/expire", methods=["POST"], endpoint="expire_tokens"),
                Rule("/_admin/config", methods=["GET", "PUT"], endpoint="config"),
                Rule("/_admin/faults", methods=["POST"], endpoint="faults"),
                Rule("/_admin/counters", methods=["GET"], endpoint="counters"),
                Rule("/_admin/counters/reset", methods=["POST"], endpoint="reset_counters"),
                Rule("/_admin/requests", methods=["GET"], endpoint="requests"),
                Rule("/_admin/channels", methods=["GET"], endpoint="channels"),
            ]
        )
        self._actions: dict[str, _Action] = {
            "move": _move,
            "delete": lambda _: _cancel,
            "decline": lambda _: _decline,
            "all-day": lambda _: _make_all_day,
        }

    def respond(self, request: Request) -> Response:
        try:
            return _json(200, dispatch(self._routes, request, _AdminCall(self._app, self._actions, request)))
        except ApiError as error:
            return _error_response(error)
        except (ValueError, KeyError, TypeError) as error:
            return _error_response(invalid(f"Admin request refused: {error}"))
        except HTTPException as error:
            return _error_response(ApiError(error.code or 400, "notFound", error.description or "Not Found"))


class _AdminCall:
    """One admin request: each method answers one admin route and returns its JSON body."""

    def __init__(self, app: CalendarApp, actions: dict[str, _Action], request: Request) -> None:
        self.app = app
        self.actions = actions
        self.request = request

    def reset(self) -> dict[str, Any]:
        self.app.store.reset()
        self.app.gate.reset()
        self.app.notifier.settings = PushSettings()
        self.app.notifier.discard_queued()
        self.app.token_answers.clear()
        return {"reset": True}

    def seed_users(self) -> dict[str, Any]:
        users = _body(self.request)["users"]
        for user in users:
            self.app.store.add_user(user["email"], user.get("timeZone"), user.get("delegation"))
        return {"users": len(users), "total": self.app.store.user_count()}

    def seed_events(self) -> dict[str, Any]:
        ids: list[str] = []
        for item in _body(self.request)["events"]:
            event = dict(item)
            email = event.pop("user")
            self.app.discovery.validate_schema("Event", event)
            ids.append(self.app.store.seed_event(email, event)["id"])
        return {"ids": ids}

    def user_events(self, email: str) -> dict[str, Any]:
        return {"items": self.app.store.all_events(email)}

    def act(self, email: str, event_id: str, action: str) -> dict[str, Any]:
        make_change = self.actions.get(action)
        if make_change is None:
            raise not_found(f"Unknown action {action}; use one of {', '.join(self.actions)}.")
        body = _body(self.request) if self.request.get_data() else {}
        return self.app.store.act_as_user(email, event_id, make_change(body))

    def expire_tokens(self) -> dict[str, Any]:
        body = _body(self.request) if self.request.get_data() else {}
        answer = None
        if body.get("reason") not in (None, "fullSyncRequired"):
            answer = (str(body["reason"]), str(body.get("message", "Gone")), str(body.get("domain", "calendar")))
        return {"users": self.app.store.expire_sync_tokens(body.get("email"), answer)}

    def config(self) -> dict[str, Any]:
        notifier = self.app.notifier
        if self.request.method == "PUT":
            changes = _body(self.request)
            push = {key: changes.pop(key) for key in ("push_duplicates", "push_delay_ms") if key in changes}
            store = {key: changes.pop(key) for key in _STORE_SETTINGS if key in changes}
            self.app.gate.configure(changes)
            for key, value in store.items():
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise ValueError(f"{key} must be a positive whole number")
                setattr(self.app.store, key.replace("channel_max_ttl", "max_channel_ttl"), value)
            notifier.settings = PushSettings(
                duplicates=int(push.get("push_duplicates", notifier.settings.duplicates)),
                delay_ms=int(push.get("push_delay_ms", notifier.settings.delay_ms)),
            )
        config: GateConfig = self.app.gate.config
        return {
            **vars(config),
            "push_duplicates": notifier.settings.duplicates,
            "push_delay_ms": notifier.settings.delay_ms,
            "channel_max_ttl_seconds": self.app.store.max_channel_ttl_seconds,
            "recurrence_horizon_days": self.app.store.recurrence_horizon_days,
        }

    def faults(self) -> dict[str, Any]:
        faults: list[ScriptedFault] = []
        for item in _body(self.request)["faults"]:
            fault = ScriptedFault(
                int(item["status"]),
                item.get("reason"),
                item.get("method"),
                item.get("user"),
                bool(item.get("details", False)),
                item.get("message"),
            )
            faults.extend([fault] * int(item.get("count", 1)))
        self.app.gate.script_faults(faults)
        return {"scripted": len(faults)}

    def counters(self) -> dict[str, Any]:
        push = self.app.notifier.counters
        return {
            **self.app.gate.snapshot(),
            "notifications_sent": push.sent,
            "notifications_failed": push.failed,
            "notifications_by_state": dict(push.by_state),
            "notifications_in_flight": self.app.notifier.in_flight(),
            "users": self.app.store.user_count(),
            "token_grants": self.app.token_answers["granted"],
            "token_refusals": {key: count for key, count in self.app.token_answers.items() if key != "granted"},
        }

    def reset_counters(self) -> dict[str, Any]:
        self.app.gate.reset_counters()
        return {"reset": True}

    def requests(self) -> dict[str, Any]:
        limit = int(self.request.args.get("limit", "100"))
        return {"requests": self.app.gate.recent_requests(limit)}

    def channels(self) -> dict[str, Any]:
        return {"channels": self.app.store.channels()}


# ---- "act as the user" changes --------------------------------------------------------------------


def _move(body: dict[str, Any]) -> Callable[[dict[str, Any], str], None]:
    start, end = _event_time(body["start"]), _event_time(body["end"])

    def apply(resource: dict[str, Any], _zone: str) -> None:
        resource["start"], resource["end"] = start, end

    return apply


def _event_time(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        parse_date_time(value, location="start")
        return {"dateTime": value}
    return dict(value)


def _cancel(resource: dict[str, Any], _zone: str) -> None:
    if resource.get("status") == "cancelled":
        raise ApiError(410, "deleted", "Resource has been deleted")
    resource["status"] = "cancelled"


def _decline(resource: dict[str, Any], _zone: str) -> None:
    owner = resource["creator"]["email"]
    attendees = resource.setdefault("attendees", [])
    mine = next((attendee for attendee in attendees if attendee.get("email") == owner), None)
    if mine is None:
        mine = {"email": owner}
        attendees.append(mine)
    mine["responseStatus"] = "declined"


def _make_all_day(resource: dict[str, Any], zone_name: str) -> None:
    times = ev.event_times(resource, zone_name)
    resource["start"], resource["end"] = ev.all_day_span(times.start, times.end, zone_name)
    if resource.get("eventType") in ("outOfOffice", "focusTime"):
        resource["eventType"] = "default"


# ---- routes --------------------------------------------------------------------------------------


class _Call:
    """One request: each method answers one route (infra/routing.py)."""

    def __init__(self, app: CalendarApp, request: Request) -> None:
        self.app = app
        self.request = request

    def admin(self) -> Response:
        return self.app.admin.respond(self.request)

    def health(self) -> Response:
        return _json(200, {"status": "ok"})

    def token(self) -> Response:
        return self.app.token(self.request)

    def batch(self) -> Response:
        self.app.gate.round_trip(batch=True)
        return self.app.batch(self.request)

    def api(self) -> Response:
        self.app.gate.round_trip(batch=False)
        return self.app.api_call(self.request, batched=False)


class _Rest(PathConverter):
    """Whatever follows a prefix, even nothing: the admin API and the discovery document route it."""

    regex = ".*"
    part_isolating = False  # across slashes


_ROUTES = Map(
    [
        Rule("/_admin/<rest:rest>", endpoint="admin"),
        Rule("/healthz", endpoint="health"),
        Rule(oauth.TOKEN_PATH, methods=["POST"], endpoint="token"),
        Rule(BATCH_PATH, methods=["POST"], endpoint="batch"),
        Rule(f"{API_PREFIX}<rest:rest>", endpoint="api"),
    ],
    converters={"rest": _Rest},
    merge_slashes=False,  # a path is the discovery document's to judge, as it was Google's
)


# ---- helpers -------------------------------------------------------------------------------------


def _caller(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith(BEARER_PREFIX):
        raise auth_error()
    email = header[len(BEARER_PREFIX) :].strip()
    if "@" not in email:
        raise auth_error()
    return email


def _json_body(request: Request) -> Any:
    raw = request.get_data()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "parseError", "Parse Error") from None


def _body(request: Request) -> dict[str, Any]:
    body = json.loads(request.get_data() or b"{}")
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status=status, content_type=JSON_TYPE)


def _error_response(error: ApiError) -> Response:
    return _json(error.code, error.body())


def create_app(*, latency_ms: int = 0) -> CalendarApp:
    app = CalendarApp()
    if latency_ms:
        app.gate.configure({"latency_ms": latency_ms})
    return app
