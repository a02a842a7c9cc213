"""Errors in the JSON shape Google's Calendar API answers with.

    {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND",
               "errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}]}}

googleapiclient turns these into HttpError and exposes `error_details` from `errors`.
"""

from __future__ import annotations

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
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location is not None:
            detail["locationType"] = self.location_type or "parameter"
            detail["location"] = self.location
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [detail]}
        status = _CANONICAL_STATUS.get(self.code)
        if status is not None:
            error["status"] = status
        return {"error": error}


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
