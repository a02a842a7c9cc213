"""Errors in Fleet's wire shape: {"message", "errors": [{"name", "reason"}], "uuid"}.

Status codes and messages follow Fleet's server (server/platform/endpointer/transport_error.go and the
service handlers): validation errors are 422 "Validation Failed" unless the handler sets another status,
not-found errors are 404 "Resource Not Found", request-decoding errors are 400 "Bad request".
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "uuid": str(uuid.uuid4())}
        if self.errors:
            body["errors"] = self.errors
        return body


def base_error(status: int, message: str, reason: str | None = None) -> ApiError:
    return ApiError(status, message, [{"name": "base", "reason": reason or message}])


def not_found(resource: str, identifier: object) -> ApiError:
    return base_error(404, "Resource Not Found", f"{resource} {identifier} was not found in the datastore")


def invalid_argument(name: str, reason: str, status: int = 422) -> ApiError:
    return ApiError(status, "Validation Failed", [{"name": name, "reason": reason}])


def bad_request(reason: str) -> ApiError:
    return base_error(400, "Bad request", reason)


def auth_header_required() -> ApiError:
    return base_error(401, "Authorization header required")


def auth_required() -> ApiError:
    return base_error(401, "Authentication required")


def missing_license() -> ApiError:
    """fleet.ErrMissingLicense (server/fleet/errors.go): a StatusCoder error, so message and reason match."""
    return base_error(402, "Requires Fleet Premium license")


def user_message(status: int, reason: str) -> ApiError:
    """platform_http.UserMessageError: the message is the HTTP status text, the reason the user message."""
    return base_error(status, HTTPStatus(status).phrase, reason)


def bad_gateway(message: str, cause: str) -> ApiError:
    """fleet.NewBadGatewayError: "<message>: <cause>" as both message and reason."""
    return base_error(502, f"{message}: {cause}")


def expected_json_body() -> ApiError:
    """endpointer.MakeDecoder: a request type with JSON fields and an empty body."""
    return bad_request("Expected JSON Body")
