"""A framework-free view of an HTTP exchange, so handlers are testable without a server."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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

    def encoded(self) -> bytes:
        return json.dumps(self.body, default=str).encode()


def error(status: int, problem: str, **details: Any) -> HttpResponse:
    """A JSON error that names the problem; never echoes secrets."""
    return HttpResponse(status, {"error": problem, **details})
