"""The relay over HTTP: what Cloud Tasks adds to an HTTP task's request when the task has an `oidc_token`.

Cloud Tasks, for a task with `oidc_token{service_account_email, audience}`, generates an OpenID Connect ID
token for that service account with that audience ("If not specified, the URI specified in target will be
used") and attaches it as the `Authorization` header; it sets `User-Agent: Google-Cloud-Tasks` and its
`X-CloudTasks-*` headers, and passes the task's own headers such as Content-Type. Sources: "Create HTTP
target tasks", https://cloud.google.com/tasks/docs/creating-http-target-tasks; the reference of
`HttpRequest.headers`, `HttpRequest.oidc_token` and `OidcToken` in google.cloud.tasks_v2
(google/cloud/tasks_v2/types/target.py, also https://cloud.google.com/tasks/docs/reference/rest/v2beta3/OidcToken).
The emulator ignores `oidc_token` and sends no Authorization header, so locally every task is addressed to
this relay (MW_LOCAL_TASKS_RELAY_URL) and the relay does that part:

POST /                  from the emulator: mint a token at the local OIDC issuer for the identity the task
                        names (headers SERVICE_ACCOUNT_HEADER and AUDIENCE_HEADER, which
                        infra/tasks_emulator.py copies from the task's oidc_token), forward the body to the
                        target (dispatch_window) with that token, and answer with the target's status and
                        body, which the emulator reads as the attempt's outcome. A task without an
                        oidc_token is forwarded without a token, as Cloud Tasks would.
GET  /_admin/deliveries the last deliveries (task name, identity, audience, the target's status), no tokens.

Only loopback callers are served: the relay mints tokens for any identity it is told, like the issuer.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from infra.routing import allowed_methods, dispatch, without_head
from maintenance_windows.observability import get_logger

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The task's oidc_token, as the local emulator passes it on (never sent to the target).
SERVICE_ACCOUNT_HEADER = "X-Local-Tasks-Oidc-Service-Account"
AUDIENCE_HEADER = "X-Local-Tasks-Oidc-Audience"
USER_AGENT = "Google-Cloud-Tasks"
DELIVERIES_PATH = "/_admin/deliveries"
MINT_PATH = "/_mint"
#: The issuer's tokens last an hour; one is reused for a few minutes per identity and audience.
TOKEN_REUSE_SECONDS = 300.0
KEPT_DELIVERIES = 2000

_logger = get_logger("infra.tasks_relay")


@dataclass(frozen=True)
class Delivery:
    at: str
    task: str | None
    service_account: str | None
    audience: str | None
    status: int
    error: str | None = None


class MintFailed(Exception):
    pass


class Relay:
    def __init__(self, target_url: str, issuer_url: str, *, timeout_seconds: float = 600.0) -> None:
        self.target_url = target_url
        self.issuer_url = issuer_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._http = requests.Session()
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._deliveries: deque[Delivery] = deque(maxlen=KEPT_DELIVERIES)

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def deliver(self, request: Request) -> Response:
        service_account = request.headers.get(SERVICE_ACCOUNT_HEADER) or None
        audience = (request.headers.get(AUDIENCE_HEADER) or request.base_url) if service_account else None
        headers = _forwarded_headers(request)
        task = request.headers.get("X-CloudTasks-TaskName")
        if service_account and audience:
            try:
                headers["Authorization"] = f"Bearer {self._token(audience, service_account)}"
            except MintFailed as problem:
                # Cloud Tasks counts an attempt it cannot authenticate as failed and retries it.
                return self._answer(Delivery(_now(), task, service_account, audience, 503, str(problem)))
        try:
            answer = self._http.request(
                request.method, self.target_url, data=request.get_data(), headers=headers, timeout=self.timeout_seconds
            )
        except requests.RequestException as problem:
            error = f"target unreachable: {type(problem).__name__}"
            return self._answer(Delivery(_now(), task, service_account, audience, 502, error))
        self._record(Delivery(_now(), task, service_account, audience, answer.status_code))
        return Response(answer.content, status=answer.status_code, content_type=answer.headers.get("Content-Type"))

    def _token(self, audience: str, service_account: str) -> str:
        key = (audience, service_account)
        with self._lock:
            cached = self._tokens.get(key)
        if cached and time.monotonic() - cached[1] < TOKEN_REUSE_SECONDS:
            return cached[0]
        try:
            minted = self._http.post(
                self.issuer_url + MINT_PATH, json={"audience": audience, "email": service_account}, timeout=10
            )
            minted.raise_for_status()
            token = minted.json()["token"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as problem:
            raise MintFailed(f"the OIDC issuer did not mint a token: {type(problem).__name__}") from None
        if not isinstance(token, str) or not token:
            raise MintFailed("the OIDC issuer answered without a token")
        with self._lock:
            self._tokens[key] = (token, time.monotonic())
        return token

    def _answer(self, delivery: Delivery) -> Response:
        self._record(delivery)
        return _json({"error": delivery.error}, delivery.status)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)
        severity = logging.INFO if delivery.status < 500 else logging.WARNING
        _logger.log(severity, "task relayed", **{k: v for k, v in asdict(delivery).items() if k != "at"})


def create_app(relay: Relay) -> WSGIApplication:
    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        return _answer(request, relay)(environ, start_response)

    return application


def _answer(request: Request, relay: Relay) -> Response:
    if not _is_loopback(request.remote_addr):
        return _json({"error": "the relay serves loopback callers only"}, 403)
    try:
        response: Response = dispatch(_ROUTES, request, _Call(relay, request))
        return response
    except MethodNotAllowed as refused:
        return _json({"error": "method not allowed"}, 405, headers={"Allow": allowed_methods(refused)})
    except HTTPException:
        return _json({"error": f"no route {request.path}; tasks are delivered to /"}, 404)


class _Call:
    """One request: each method answers one route (infra/routing.py)."""

    def __init__(self, relay: Relay, request: Request) -> None:
        self.relay = relay
        self.request = request

    def deliver(self) -> Response:
        return self.relay.deliver(self.request)

    def deliveries(self) -> Response:
        return _json({"deliveries": [asdict(d) for d in self.relay.deliveries()]}, 200)


_ROUTES = Map(
    [Rule("/", endpoint="deliver"), without_head(Rule(DELIVERIES_PATH, methods=["GET"], endpoint="deliveries"))]
)


def _forwarded_headers(request: Request) -> dict[str, str]:
    """What Cloud Tasks sends: the task's own headers and its X-CloudTasks-* service headers. Anything
    claiming to be a token, and the relay's own instructions, stay behind."""
    dropped = {
        "authorization",
        "host",
        "content-length",
        "user-agent",
        "connection",
        "accept-encoding",
        SERVICE_ACCOUNT_HEADER.lower(),
        AUDIENCE_HEADER.lower(),
    }
    headers = {name: value for name, value in request.headers.items() if name.lower() not in dropped}
    headers["User-Agent"] = USER_AGENT
    return headers


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
