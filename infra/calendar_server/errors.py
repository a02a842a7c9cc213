"""Errors in the JSON shape Google's Calendar API answers with.

    {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND",
               "errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}]}}

googleapiclient turns these into HttpError and exposes `error_details` from `details` when the body has
one, else from `errors`. Google's newer error format carries both: `errors` (the legacy list) and `details`
(google.rpc.ErrorInfo and friends, https://cloud.google.com/apis/design/errors#error_details). The stand-in
adds `details` when asked to (PUT /_admin/config {"error_details": true}, or per scripted fault), so clients are
tested against both shapes.
"""

from __future__ import annotations

import re
from typing import Any

_CANONICAL_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """Raised anywhere below a handler; the app turns it into Google's error body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.details = details

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location is not None:
            detail["locationType"] = self.location_type or "parameter"
            detail["location"] = self.location
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [detail]}
        status = _CANONICAL_STATUS.get(self.code)
        if status is not None:
            error["status"] = status
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}

    def with_error_info(self, method_id: str | None) -> ApiError:
        """Add google.rpc.ErrorInfo details (the newer format) unless the error has details already."""
        if self.details is None:
            self.details = [error_info(self.reason, self.domain, method_id)]
        return self


def error_info(reason: str, domain: str, method_id: str | None) -> dict[str, Any]:
    """google.rpc.ErrorInfo as Google APIs add it: an UPPER_SNAKE reason, the service, the method."""
    metadata = {"service": "calendar-json.googleapis.com"}
    if method_id is not None:
        metadata["method"] = method_id
    if domain == "usageLimits":
        metadata["quota_location"] = "global"
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": _UPPER_SNAKE.get(reason) or re.sub(r"(?<!^)(?=[A-Z])", "_", reason).upper(),
        "domain": "googleapis.com",
        "metadata": metadata,
    }


# The ErrorInfo reasons Google uses for these legacy reasons (google.api.ErrorReason).
_UPPER_SNAKE = {
    "rateLimitExceeded": "RATE_LIMIT_EXCEEDED",
    "userRateLimitExceeded": "RATE_LIMIT_EXCEEDED",
    "quotaExceeded": "RATE_LIMIT_EXCEEDED",
    "authError": "ACCESS_TOKEN_EXPIRED",
    "backendError": "BACKEND_ERROR",
}


def bad_request(message: str, *, reason: str = "badRequest", location: str | None = None) -> ApiError:
    return ApiError(400, reason, message, location=location)


def invalid(message: str, *, location: str | None = None) -> ApiError:
    return ApiError(400, "invalid", message, location=location)


def required(message: str, *, location: str | None = None) -> ApiError:
    return ApiError(400, "required", message, location=location)


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, "notFound", message)


def auth_error() -> ApiError:
    return ApiError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        location="Authorization",
        location_type="header",
    )


def duplicate() -> ApiError:
    return ApiError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> ApiError:
    return ApiError(410, "deleted", "Resource has been deleted")


def full_sync_required() -> ApiError:
    # Google's documented answer to an expired or unknown sync token.
    return ApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.", domain="calendar"
    )


def gone(reason: str, message: str, domain: str) -> ApiError:
    """A 410 with another reason: the discovery document promises the status, not the reason string."""
    return ApiError(410, reason, message, domain=domain)


def condition_not_met() -> ApiError:
    return ApiError(412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header")


def time_range_empty(location: str | None = None) -> ApiError:
    return ApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar", location=location)


def rate_limited(code: int, reason: str) -> ApiError:
    messages = {
        "rateLimitExceeded": "Rate Limit Exceeded",
        "userRateLimitExceeded": "User Rate Limit Exceeded",
        "quotaExceeded": "Calendar usage limits exceeded.",
    }
    return ApiError(code, reason, messages.get(reason, "Rate Limit Exceeded"), domain="usageLimits")


def backend_error() -> ApiError:
    return ApiError(500, "backendError", "Backend Error")
