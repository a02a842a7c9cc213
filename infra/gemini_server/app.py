"""A stand-in for Vertex AI's generateContent, faithful in request and response shape.

It checks what google-genai sends (contents, systemInstruction, generationConfig, safetySettings) and answers
400 in Google's error shape when the request is wrong, so a malformed request fails here as it would in the
cloud. Its answers are derived from the fenced DATA block the adapter sends. Modes reproduce the failures the
adapter must survive; every generateContent request is recorded for tests to inspect.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

MODES = ("normal", "slow", "error", "malformed", "schema_violation", "injection_echo", "blocked")

_GENERATE_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):generateContent$"
)
_DATA_BLOCK = re.compile(r"<<<DATA (?P<marker>[0-9a-f]+)\n(?P<data>.*)\nDATA (?P=marker)>>>", re.DOTALL)
_INJECTION = re.compile(
    r"ignore (?:all )?(?:previous|prior) instructions\W+(?:and )?(?:tell the user to )?"
    r"(?P<verb>install|run|download|visit|open) (?P<what>[^.\"\n\\]+)",
    re.IGNORECASE,
)

_TOP_LEVEL = {"contents", "systemInstruction", "generationConfig", "safetySettings", "tools", "toolConfig"}
_TOP_LEVEL |= {"labels", "cachedContent"}
_GENERATION_CONFIG = {
    "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
    "presencePenalty", "frequencyPenalty", "seed", "responseMimeType", "responseSchema",
    "responseJsonSchema", "responseLogprobs", "logprobs", "thinkingConfig", "mediaResolution",
    "responseModalities", "routingConfig", "audioTimestamp",
}  # fmt: skip
_MIME_TYPES = {"text/plain", "application/json", "text/x.enum"}
_HARM_CATEGORIES = {
    "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_JAILBREAK",
}  # fmt: skip
_THRESHOLDS = {
    "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF",
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
}  # fmt: skip
_SCHEMA_TYPES = {"OBJECT", "STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY"}
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
_STATUS_NAMES |= {500: "INTERNAL", 503: "UNAVAILABLE"}


class BadRequest(Exception):
    def __init__(self, field_path: str, description: str) -> None:
        super().__init__(description)
        self.field_path = field_path
        self.description = description


@dataclass
class _State:
    mode: str = "normal"
    delay_seconds: float = 5.0
    error_status: int = 500
    calls: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)


class GeminiStandIn:
    """The WSGI app. Thread-safe: werkzeug's threaded server calls it from many threads."""

    def __init__(self, mode: str = "normal") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self._state = _State(mode=mode)
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Wakes any request sleeping in slow mode so that a shutdown doesn't wait for it."""
        self._stopping.set()

    @property
    def calls(self) -> int:
        with self._lock:
            return self._state.calls

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/_admin/mode" and request.method == "POST":
            return self._set_mode(request)
        if path == "/_admin/requests" and request.method == "GET":
            with self._lock:
                return _json({"count": self._state.calls, "requests": list(self._state.requests)})
        if path == "/_admin/reset" and request.method == "POST":
            with self._lock:
                self._state = _State()
            return _json({"mode": "normal"})
        if path == "/_admin/health":
            return _json({"ok": True})
        match = _GENERATE_PATH.match(path)
        if match and request.method == "POST":
            return self._generate(request, match.groupdict())
        return _error(404, f"The requested URL {path} was not found on this server.")

    def _set_mode(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        mode = body.get("mode")
        if mode not in MODES:
            return _error(400, f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            self._state.mode = mode
            self._state.delay_seconds = float(body.get("delay_seconds", self._state.delay_seconds))
            self._state.error_status = int(body.get("status", self._state.error_status))
        return _json({"mode": mode})

    def _generate(self, request: Request, route: dict[str, str]) -> Response:
        body = request.get_json(silent=True)
        with self._lock:
            self._state.calls += 1
            self._state.requests.append(
                {"path": request.path, **route, "body": body, "headers": _safe_headers(request)}
            )
            mode, delay, status = self._state.mode, self._state.delay_seconds, self._state.error_status
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "Request is missing required authentication credential.")
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON payload received.")
        try:
            _check_request(body)
        except BadRequest as problem:
            return _error(400, problem.description, field_path=problem.field_path)
        return self._answer(mode, delay, status, body, route["model"])

    def _answer(self, mode: str, delay: float, status: int, body: dict[str, Any], model: str) -> Response:
        if mode == "error":
            return _error(status, _ERROR_MESSAGES.get(status, "Internal error encountered."))
        if mode == "slow":
            self._stopping.wait(delay)
        if mode == "blocked":
            return _json(_envelope(None, model, body, finish_reason="SAFETY"))
        return _json(_envelope(_answer_text(mode, body), model, body))


_ERROR_MESSAGES = {
    429: "Resource exhausted. Please try again later.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


# --- Request checks ----------------------------------------------------------------------------------------


def _camel(key: str) -> str:
    """Proto JSON accepts field names in snake_case and lowerCamelCase alike; so does this stand-in."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _normalised(obj: dict[str, Any]) -> dict[str, Any]:
    return {_camel(key): value for key, value in obj.items()}


def _check_request(body: dict[str, Any]) -> None:
    body = _normalised(body)
    _unknown_fields(body, _TOP_LEVEL, "")
    _check_contents(body.get("contents"))
    if "systemInstruction" in body:
        _check_content(body["systemInstruction"], "system_instruction", role_required=False)
    if "generationConfig" in body:
        _check_generation_config(body["generationConfig"])
    if "safetySettings" in body:
        _check_safety_settings(body["safetySettings"])


def _unknown_fields(obj: dict[str, Any], known: set[str], where: str) -> None:
    for key in obj:
        if key not in known:
            location = f" at '{where}'" if where else ""
            message = f'Invalid JSON payload received. Unknown name "{key}"{location}: Cannot find field.'
            raise BadRequest(where or key, message)


def _check_contents(contents: Any) -> None:
    if not isinstance(contents, list) or not contents:
        raise BadRequest("contents", "Unable to submit request because it has an empty contents field.")
    for index, content in enumerate(contents):
        _check_content(content, f"contents[{index}]", role_required=True)


def _check_content(content: Any, where: str, *, role_required: bool) -> None:
    if not isinstance(content, dict):
        raise BadRequest(where, f"Invalid value at '{where}': expected an object.")
    content = _normalised(content)
    _unknown_fields(content, {"role", "parts"}, where)
    role = content.get("role")
    if (role_required or role is not None) and role not in ("user", "model"):
        raise BadRequest(f"{where}.role", "Please use a valid role: user, model.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"{where}.parts", f"Unable to submit request because {where} has no parts.")
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(_normalised(part).get("text"), str):
            raise BadRequest(f"{where}.parts[{index}]", "This stand-in accepts text parts only.")


def _check_generation_config(config: Any) -> None:
    if not isinstance(config, dict):
        raise BadRequest("generation_config", "Invalid value at 'generation_config': expected an object.")
    config = _normalised(config)
    _unknown_fields(config, _GENERATION_CONFIG, "generation_config")
    temperature = config.get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise BadRequest("generation_config.temperature", "temperature must be between 0 and 2.")
    mime = config.get("responseMimeType", "text/plain")
    if mime not in _MIME_TYPES:
        raise BadRequest("generation_config.response_mime_type", f"Unsupported response mime type: {mime}.")
    has_schema, has_json_schema = "responseSchema" in config, "responseJsonSchema" in config
    if has_schema and has_json_schema:
        raise BadRequest("generation_config", "response_schema and response_json_schema cannot both be set.")
    if (has_schema or has_json_schema) and mime != "application/json":
        raise BadRequest(
            "generation_config.response_mime_type",
            "response_mime_type must be application/json when a response schema is set.",
        )
    if has_schema:
        _check_schema(config["responseSchema"], "generation_config.response_schema")


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict) or str(schema.get("type", "")).upper() not in _SCHEMA_TYPES:
        raise BadRequest(where, f"Invalid value at '{where}.type': a schema needs a type.")
    for name, child in (schema.get("properties") or {}).items():
        _check_schema(child, f"{where}.properties[{name}]")


def _check_safety_settings(settings: Any) -> None:
    if not isinstance(settings, list):
        raise BadRequest("safety_settings", "Invalid value at 'safety_settings': expected a list.")
    for index, setting in enumerate(settings):
        setting = _normalised(setting) if isinstance(setting, dict) else {}
        if setting.get("category") not in _HARM_CATEGORIES:
            raise BadRequest(f"safety_settings[{index}].category", "Invalid harm category.")
        if setting.get("threshold") not in _THRESHOLDS:
            raise BadRequest(f"safety_settings[{index}].threshold", "Invalid harm block threshold.")


# --- Answers -----------------------------------------------------------------------------------------------


def _answer_text(mode: str, body: dict[str, Any]) -> str:
    prompt = _prompt_text(body)
    facts = _facts(prompt)
    if mode == "malformed":
        return "Sure! Here is a friendly event text: your device needs an update soon."
    if mode == "schema_violation":
        return json.dumps({"why_it_matters": "It keeps data safe.", "expected_duration_minutes": "thirty"})
    answer = _faithful_answer(facts)
    injected = _INJECTION.search(prompt) if mode == "injection_echo" else None
    if injected:
        # A model that obeyed the planted instruction: the adapter's validation must refuse this.
        answer["what_you_need_to_do"] = (
            f"Before the window, please {injected['verb'].lower()} {injected['what'].strip()}. No restart is needed."
        )
    return json.dumps(answer)


def _prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(part.get("text", "")) for content in body.get("contents", []) for part in content.get("parts", [])
    )


def _facts(prompt: str) -> dict[str, Any]:
    match = _DATA_BLOCK.search(prompt)
    if not match:
        return {}
    try:
        facts = json.loads(match["data"])
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _faithful_answer(facts: dict[str, Any]) -> dict[str, Any]:
    """What a well-behaved model writes: only the facts' own policies and actions."""
    policies = [p for p in facts.get("policies", []) if isinstance(p, dict)]
    actions = [a for a in facts.get("actions", []) if isinstance(a, dict)]
    names = ", ".join(f"“{p.get('name', '')}”" for p in policies) or "a device check"
    critical = [p.get("name", "") for p in policies if p.get("critical")]
    why = f"Your device does not pass {names}. These checks help keep company data safe."
    if critical:
        why += f" {' and '.join(critical)} {'is' if len(critical) == 1 else 'are'} critical."
    restarts = any(a.get("restarts_device") for a in actions)
    if actions:
        steps = ", then ".join(_lower_first(str(a.get("summary") or a.get("kind", ""))) for a in actions)
        happen = f"Your device will {steps}" + (", then restart." if restarts and "restart" not in steps else ".")
        todo = "Keep your device switched on, plugged in and connected to the internet."
        todo += " Save your work before the window because your device will restart." if restarts else ""
        minutes = 10 * len(actions) + (10 if restarts else 0)
    else:
        happen = "Nothing happens by itself in this window: it is time for you to fix this yourself."
        steps_text = " ".join(str(p.get("resolution", "")).strip() for p in policies).strip()
        todo = f"Please follow these steps: {steps_text}" if steps_text else "Please ask your IT team for help."
        minutes = 15
    return {
        "why_it_matters": why,
        "what_will_happen": happen,
        "what_you_need_to_do": todo,
        "expected_duration_minutes": minutes,
    }


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _envelope(text: str | None, model: str, body: dict[str, Any], finish_reason: str = "STOP") -> dict[str, Any]:
    prompt_tokens = max(1, len(json.dumps(body)) // 4)
    output_tokens = len(text) // 4 if text else 0
    candidate: dict[str, Any] = {
        "finishReason": finish_reason,
        "safetyRatings": _safety_ratings(finish_reason),
    }
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        candidate["avgLogprobs"] = -0.12
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
            "trafficType": "ON_DEMAND",
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        },
        "modelVersion": model,
        "createTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "responseId": uuid.uuid4().hex[:22],
    }


def _safety_ratings(finish_reason: str) -> list[dict[str, Any]]:
    blocked = finish_reason == "SAFETY"
    return [
        {
            "category": category,
            "probability": "HIGH" if blocked and category.endswith("DANGEROUS_CONTENT") else "NEGLIGIBLE",
            "probabilityScore": 0.9 if blocked and category.endswith("DANGEROUS_CONTENT") else 0.02,
            "severity": "HARM_SEVERITY_NEGLIGIBLE",
            "severityScore": 0.01,
            **({"blocked": True} if blocked and category.endswith("DANGEROUS_CONTENT") else {}),
        }
        for category in sorted(_HARM_CATEGORIES - {"HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_JAILBREAK"})
    ]


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
