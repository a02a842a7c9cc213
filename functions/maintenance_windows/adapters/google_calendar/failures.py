"""Google's answers, read: which failures are worth retrying, and the port error each one becomes."""

from __future__ import annotations

import socket

import google.auth.exceptions
import httplib2
from googleapiclient.errors import HttpError

from maintenance_windows.adapters.batching import Failure
from maintenance_windows.ports.calendar import CalendarError, CalendarUnavailable, SyncTokenExpired

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "usageLimits"})


def classify(error: Exception) -> Failure | None:
    """A Failure for errors the adapter understands; None for programming errors (the caller re-raises)."""
    if isinstance(error, HttpError):
        details = error.error_details if isinstance(error.error_details, list) else []
        reasons = [detail.get("reason") for detail in details if isinstance(detail, dict) and detail.get("reason")]
        status = error.status_code
        reason = str(reasons[0]) if reasons else "unknown"
        return Failure(status, reason, error.reason or "", transient=_transient(status, reason))
    if isinstance(error, google.auth.exceptions.RefreshError):
        # Delegation refused (unknown user, scopes not granted): not going to heal by retrying now.
        return Failure(401, "authError", str(error), transient=False)
    if isinstance(error, google.auth.exceptions.TransportError | httplib2.HttpLib2Error | socket.timeout | OSError):
        return Failure(None, "transportError", str(error), transient=True)
    return None


def to_port_error(failure: Failure, context: str) -> CalendarError:
    text = f"{context}: HTTP {failure.status} {failure.reason}: {failure.message}"
    if failure.transient:
        return CalendarUnavailable(text, status=failure.status, reason=failure.reason)
    if failure.status == 410 and failure.reason == "fullSyncRequired":
        return SyncTokenExpired(text, status=failure.status, reason=failure.reason)
    return CalendarError(text, status=failure.status, reason=failure.reason)


def _transient(status: int | None, reason: str) -> bool:
    if status is None or status == 429 or status >= 500:
        return True
    return status == 403 and reason in RATE_LIMIT_REASONS
