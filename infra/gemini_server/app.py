"""A stand-in for Vertex AI's generateContent and publishers.models.get, faithful in request and response shape.

It checks what google-genai sends (checks.py) and answers in Google's error shape when the request is wrong,
so a malformed request fails here as it would in the cloud; an unknown model, or one asked for in a location
that does not serve it, is a 404 NOT_FOUND with Vertex AI's wording. Answers are derived from the fenced DATA
block the adapter sends (answers.py). Modes reproduce the failures the adapter must survive; every
generateContent request is recorded for tests to inspect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from infra.gemini_server.answers import DEFAULT_THINKING_TOKENS, envelope, generate
from infra.gemini_server.catalog import KNOWN_MODELS, PublisherModel, extra_model
from infra.gemini_server.checks import BadRequest, check_request
from infra.routing import dispatch, without_head

MODES = (
    "normal",
    "slow",
    "error",
    "malformed",
    "schema_violation",
    "injection_echo",
    "blocked",
    "max_tokens",
    "recitation",
)

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
_STATUS_NAMES |= {500: "INTERNAL", 503: "UNAVAILABLE"}
_ERROR_MESSAGES = {
    429: "Resource exhausted. Please try again later.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}
_MODEL_VERSIONS_PAGE = "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"


@dataclass
class _State:
    mode: str = "normal"
    delay_seconds: float = 5.0
    error_status: int = 500
    calls: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    extra_models: dict[str, PublisherModel] = field(default_factory=dict)
    thinking_tokens: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_THINKING_TOKENS))


class GeminiStandIn:
    """The WSGI app. Thread-safe: werkzeug's threaded server calls it from many threads."""

    def __init__(self, mode: str = "normal", models: Sequence[str] = ()) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self._models = tuple(models)
        self._state = self._fresh_state(mode)
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _fresh_state(self, mode: str = "normal") -> _State:
        return _State(mode=mode, extra_models={model_id: extra_model(model_id) for model_id in self._models})

    def stop(self) -> None:
        """Wakes any request sleeping in slow mode so that a shutdown doesn't wait for it."""
        self._stopping.set()

    @property
    def calls(self) -> int:
        with self._lock:
            return self._state.calls

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response: Response = dispatch(_ROUTES, request, _Call(self, request))
        except HTTPException:  # Vertex AI answers an unknown path, or a known one with another method, 404
            response = _error(404, f"The requested URL {request.path} was not found on this server.")
        return response(environ, start_response)

    # ---- admin -------------------------------------------------------------------------------------------

    def set_mode(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        mode = body.get("mode")
        if mode not in MODES:
            return _error(400, f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        thinking = body.get("thinking_tokens") or {}
        if not isinstance(thinking, dict) or not all(isinstance(v, int) and v >= 0 for v in thinking.values()):
            return _error(400, "thinking_tokens must map thinking levels to token counts")
        with self._lock:
            self._state.mode = mode
            self._state.delay_seconds = float(body.get("delay_seconds", self._state.delay_seconds))
            self._state.error_status = int(body.get("status", self._state.error_status))
            self._state.thinking_tokens.update({str(level).upper(): count for level, count in thinking.items()})
        return _json({"mode": mode})

    def recorded(self) -> Response:
        with self._lock:
            return _json({"count": self._state.calls, "requests": list(self._state.requests)})

    def reset(self) -> Response:
        with self._lock:
            self._state = self._fresh_state()
        return _json({"mode": "normal"})

    def served_models(self, request: Request) -> Response:
        if request.method == "POST":
            names = (request.get_json(silent=True) or {}).get("models")
            if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
                return _error(400, 'expected {"models": ["model-id", ...]}')
            with self._lock:
                self._state.extra_models.update({name: extra_model(name) for name in names})
        with self._lock:
            served = sorted({*KNOWN_MODELS, *self._state.extra_models})
        return _json({"models": served})

    # ---- API ---------------------------------------------------------------------------------------------

    def model(self, model_id: str) -> PublisherModel | None:
        with self._lock:
            return KNOWN_MODELS.get(model_id) or self._state.extra_models.get(model_id)

    def get_model(self, request: Request, model_id: str) -> Response:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "Request is missing required authentication credential.")
        model = self.model(model_id)
        if model is None:
            return _error(404, f"Publisher Model `publishers/google/models/{model_id}` not found.")
        return _json(model.resource())

    def generate(self, request: Request, route: dict[str, str]) -> Response:
        body = request.get_json(silent=True)
        with self._lock:
            self._state.calls += 1
            self._state.requests.append(
                {"path": request.path, **route, "body": body, "headers": _safe_headers(request)}
            )
            mode, delay, status = self._state.mode, self._state.delay_seconds, self._state.error_status
            thinking_tokens = dict(self._state.thinking_tokens)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "Request is missing required authentication credential.")
        model_id = route["model"]
        model = self.model(model_id)
        if model is None or (model.locations is not None and route["location"] not in model.locations):
            name = f"projects/{route['project']}/locations/{route['location']}/publishers/google/models/{model_id}"
            return _error(
                404,
                f"Publisher Model `{name}` was not found or your project does not have access to it. Please ensure "
                f"you are using a valid model version. For more information, see: {_MODEL_VERSIONS_PAGE}",
            )
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON payload received.")
        try:
            check_request(body, model)
        except BadRequest as problem:
            return _error(400, problem.description, field_path=problem.field_path)
        if mode == "error":
            return _error(status, _ERROR_MESSAGES.get(status, "Internal error encountered."))
        if mode == "slow":
            self._stopping.wait(delay)
        return _json(envelope(generate(mode, body, model, thinking_tokens), model.model_id, body))


# --- routes -----------------------------------------------------------------------------------------------

_VERSION = "/<any(v1, v1beta1):version>/"
_IN_LOCATION = "projects/<project>/locations/<location>/"
_MODEL = "publishers/google/models/<model_id:model>"


class _ModelId(BaseConverter):
    """A model id: no slash, and no colon, which starts a method such as :generateContent."""

    regex = "[^/:]+"


class _Call:
    """One request: each method answers one route (infra/routing.py)."""

    def __init__(self, stand_in: GeminiStandIn, request: Request) -> None:
        self.stand_in = stand_in
        self.request = request

    def generate(self, version: str, project: str, location: str, model: str) -> Response:
        route = {"version": version, "project": project, "location": location, "model": model}
        return self.stand_in.generate(self.request, route)

    def get_model(self, model: str, **_where: str) -> Response:
        return self.stand_in.get_model(self.request, model)

    def set_mode(self) -> Response:
        return self.stand_in.set_mode(self.request)

    def recorded(self) -> Response:
        return self.stand_in.recorded()

    def reset(self) -> Response:
        return self.stand_in.reset()

    def models(self) -> Response:
        return self.stand_in.served_models(self.request)

    def health(self) -> Response:
        return _json({"ok": True})


_ROUTES = Map(
    [
        Rule(
            f"/<any(v1, v1beta1):version>/{_IN_LOCATION}{_MODEL}:generateContent", methods=["POST"], endpoint="generate"
        ),
        *(
            without_head(Rule(f"/<any(v1, v1beta1):version>/{path}", methods=["GET"], endpoint="get_model"))
            for path in (f"{_IN_LOCATION}{_MODEL}", _MODEL)
        ),
        Rule("/_admin/mode", methods=["POST"], endpoint="set_mode"),
        Rule("/_admin/requests", methods=["GET"], endpoint="recorded"),
        Rule("/_admin/reset", methods=["POST"], endpoint="reset"),
        Rule("/_admin/models", methods=["GET", "POST"], endpoint="models"),
        Rule("/_admin/health", endpoint="health"),
    ],
    converters={"model_id": _ModelId},
)


# --- HTTP helpers ------------------------------------------------------------------------------------------


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json; charset=UTF-8")


def _error(status: int, message: str, field_path: str | None = None) -> Response:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if field_path:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field_path, "description": message}],
            }
        ]
    return _json({"error": error}, status=status)


def _safe_headers(request: Request) -> dict[str, str]:
    """Headers as recorded for tests; the bearer token is never kept."""
    return {key: value for key, value in request.headers.items() if key.lower() != "authorization"}
