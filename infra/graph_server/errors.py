"""Graph's error shape: {"error": {"code", "message", "innerError": {"date", "request-id"}}}.

https://learn.microsoft.com/en-us/graph/errors
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def not_found(message: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", message)


def invalid(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def throttled(retry_after: int) -> GraphError:
    # https://learn.microsoft.com/en-us/graph/throttling: 429 with Retry-After (seconds).
    return GraphError(
        429,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
        {"Retry-After": str(retry_after)},
    )
