"""A framework-free view of an HTTP exchange, so handlers are testable without a server.

Also the one JSON body parser every endpoint uses (`parse_json_body`): hostile bodies are refused with a 400
that names the problem before any object of ours is built from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from maintenance_windows.domain.input_problems import field_problems

if TYPE_CHECKING:
    from pydantic import ValidationError


@dataclass(frozen=True)
class HttpRequest:
    method: str
    headers: Mapping[str, str]  # case-insensitive lookups go through header()
    query: Mapping[str, str]
    body: bytes
    content_type: str = ""
    content_length: int | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    #: A plain-text answer instead of the JSON body (Graph's validation handshake echoes a token).
    text: str | None = None

    def encoded(self) -> bytes:
        if self.text is not None:
            return self.text.encode()
        return json.dumps(self.body, default=str).encode()


def error(status: int, problem: str, **details: Any) -> HttpResponse:
    """A JSON error that names the problem; never echoes secrets."""
    return HttpResponse(status, {"error": problem, **details})


#: No body of ours nests deeper than 4 levels (Fleet's webhook: body → hosts → host → field); 32 leaves room
#: for fields we ignore, and keeps every later walk of the value (pydantic, logging) far from any recursion limit.
MAX_JSON_DEPTH = 32


class BadRequest(Exception):
    """A request we refuse with 400; `problem` names what is wrong and is safe to return and to log."""

    def __init__(self, problem: str, **details: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.details = details

    def response(self) -> HttpResponse:
        return error(400, self.problem, **self.details)


def parse_json_body(raw: bytes) -> Any:
    """The body's JSON value, or BadRequest naming why it is refused.

    orjson does the parsing (not the standard library) because it is bounded where json is not: it refuses
    nesting past 1,024 levels instead of raising RecursionError; it never builds an integer of thousands of
    digits (json raises ValueError past 4,300): integers beyond 64 bits become floats, which every integer
    field of ours refuses (pydantic strict mode, or an isinstance check), and numbers past a double's range
    are refused outright; it refuses lone UTF-16 surrogates ("\\ud800", which Firestore and every UTF-8
    encoder refuse later), invalid UTF-8, NaN and Infinity. The walk below then applies our own, tighter
    depth bound. The size is bounded by each handler before this runs (413).
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as problem:
        raise BadRequest(f"body is not valid JSON: {problem}") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    """Walked with an explicit stack: no recursion on hostile input."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(f"body nests deeper than {MAX_JSON_DEPTH} levels")
            children = current.values() if isinstance(current, dict) else current
            pending.extend((child, depth + 1) for child in children)


#: A field path in an answer is cut here: the names in it can be the caller's own (unknown keys).
_MAX_FIELD_CHARS = 120


def validation_problems(invalid: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as [{field, problem}], never echoing the input's values."""
    return field_problems(invalid, whole="(body)", max_field_chars=_MAX_FIELD_CHARS)
