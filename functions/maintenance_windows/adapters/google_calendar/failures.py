"""Google's answers, read: which failures are worth retrying, whose credentials were refused, which mean the
deployment itself is broken, and the port error each one becomes.

Token endpoint answers under domain-wide delegation, from Google's "Using OAuth 2.0 for Server to Server
Applications", JWT error codes (https://developers.google.com/identity/protocols/oauth2/service-account
#error-codes): `invalid_grant` "Not a valid email" / "Invalid email or User ID" — the user does not exist;
`unauthorized_client` — the client is not authorized in the admin console of the user's domain (or not
for these scopes); `access_denied` — a requested scope is not authorized; `admin_policy_enforced` — the
Workspace admin's policy blocks a scope; `org_internal` — the client is limited to its own organization.
`invalid_client`, `deleted_client`, `disabled_client`, `invalid_scope` and `invalid_grant` "Invalid JWT…"
are about our service account or its key: every user would get them, so they are deployment errors.
Google documents no answer of its own for a suspended account; a description naming a suspended, disabled
or restricted account (GAM's list of token errors has "access_denied: Account restricted") is read as
"suspended", and a suspended user whose answer says nothing more is reported under its code's reason.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping

import google.auth.exceptions
import httplib2
from googleapiclient.errors import HttpError

from maintenance_windows.adapters.batching import Failure
from maintenance_windows.adapters.calendar_credentials import DelegationSetupError
from maintenance_windows.ports.calendar import (
    CalendarAccessRefused,
    CalendarDeploymentError,
    CalendarError,
    CalendarUnavailable,
    SyncTokenExpired,
)

RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "usageLimits", "RATE_LIMIT_EXCEEDED"}
)
SERVICE_ACCOUNT_ERRORS_URL = "https://developers.google.com/identity/protocols/oauth2/service-account#error-codes"
_NOT_DELEGATED = frozenset({"unauthorized_client", "access_denied", "admin_policy_enforced", "org_internal"})
_SERVICE_ACCOUNT_BROKEN = frozenset({"invalid_client", "deleted_client", "disabled_client", "invalid_scope"})
_SUSPENDED_WORDS = ("suspended", "account restricted", "account disabled", "account has been disabled")


def classify(error: Exception) -> Failure | None:
    """A Failure for errors the adapter understands; None for programming errors (the caller re-raises).

    Raises CalendarDeploymentError for answers that say nobody's calendar can be used.
    """
    if isinstance(error, HttpError):
        status = error.status_code
        reason = error_reason(error)
        return Failure(status, reason, error.reason or "", transient=_transient(status, reason))
    if isinstance(error, DelegationSetupError):
        raise deployment_error(str(error)) from error
    if isinstance(error, google.auth.exceptions.RefreshError):
        return credentials_failure(error)
    if isinstance(error, google.auth.exceptions.TransportError | httplib2.HttpLib2Error | socket.timeout | OSError):
        return Failure(None, "transportError", str(error), transient=True)
    return None


def error_reason(error: HttpError) -> str:
    """The legacy `errors[].reason` (e.g. "rateLimitExceeded"), else a google.rpc.ErrorInfo `details` reason.

    Google's newer error bodies carry both lists (https://cloud.google.com/apis/design/errors#error_details);
    googleapiclient then exposes only `details` as error_details, whose ErrorInfo reasons are UPPER_SNAKE
    (RATE_LIMIT_EXCEEDED for all three rate reasons), so the body itself is read, legacy list first.
    """
    try:
        body = json.loads(error.content.decode("utf-8"))
    except (AttributeError, UnicodeDecodeError, ValueError):
        body = None
    problem = body.get("error") if isinstance(body, dict) else None
    if isinstance(problem, dict):
        for key in ("errors", "details"):
            reason = _first_reason(problem.get(key))
            if reason:
                return reason
    return _first_reason(error.error_details) or "unknown"


def _first_reason(entries: object) -> str | None:
    if not isinstance(entries, list):
        return None
    reasons = [str(entry["reason"]) for entry in entries if isinstance(entry, dict) and entry.get("reason")]
    return reasons[0] if reasons else None


def credentials_failure(error: google.auth.exceptions.RefreshError) -> Failure:
    """One user's token could not be minted: that user's failure, unless it is the service account's."""
    if error.retryable:  # google-auth's reading of a 5xx or "temporarily_unavailable" from the token endpoint
        return Failure(None, "tokenEndpointUnavailable", str(error), transient=True)
    code, description = token_error(error)
    if code in _SERVICE_ACCOUNT_BROKEN or (code == "invalid_grant" and "jwt" in description.lower()):
        raise deployment_error(
            f"Google's token endpoint refused the delegated service account itself ({code}: {description}); "
            f"check its key and OAuth client ({SERVICE_ACCOUNT_ERRORS_URL})"
        ) from error
    return Failure(
        401, refusal_reason(code, description), f"{code}: {description}", transient=False, credentials_refused=True
    )


def refusal_reason(code: str, description: str) -> str:
    """suspended, not_delegated or unknown (ports.calendar.ACCESS_REFUSED_REASONS)."""
    if any(word in description.lower() for word in _SUSPENDED_WORDS):
        return "suspended"
    if code in _NOT_DELEGATED:
        return "not_delegated"
    return "unknown"


def token_error(error: google.auth.exceptions.RefreshError) -> tuple[str, str]:
    """(error, error_description) of the token endpoint's answer, as google-auth hands it over."""
    for argument in error.args[1:]:
        if isinstance(argument, Mapping):
            return str(argument.get("error") or ""), str(argument.get("error_description") or "")
    text = str(error.args[0]) if error.args else ""
    code, _, description = text.partition(":")
    return code.strip(), description.strip()


def deployment_error(problem: str) -> CalendarDeploymentError:
    # Not logged here: the handler that stops on it logs it once, with what it stopped.
    return CalendarDeploymentError(f"calendar deployment error: {problem}", reason="deploymentError")


def to_port_error(failure: Failure, context: str) -> CalendarError:
    text = f"{context}: HTTP {failure.status} {failure.reason}: {failure.message}"
    if failure.transient:
        return CalendarUnavailable(text, status=failure.status, reason=failure.reason)
    if failure.credentials_refused:
        return CalendarAccessRefused(text, status=failure.status, reason=failure.reason)
    if failure.status == 410 and context.endswith("events.list"):
        # The discovery document promises a 410 for any expired sync token, not one reason string.
        return SyncTokenExpired(text, status=failure.status, reason=failure.reason)
    return CalendarError(text, status=failure.status, reason=failure.reason)


def _transient(status: int | None, reason: str) -> bool:
    if status is None or status == 429 or status >= 500:
        return True
    return status == 403 and reason in RATE_LIMIT_REASONS
