"""calendar_notifications: Google Calendar push messages (public; authenticated by the channel token).

Microsoft Graph's change notifications arrive at the same URL and go to handlers/graph_notifications.py.

Google sends no identity and no body, only X-Goog-* headers. A message is accepted when its channel id is
one of ours and its X-Goog-Channel-Token matches the stored digest (service/channels.authenticate). Then:
`sync` (sent right after events.watch) and `not_exists` need nothing; `exists` syncs the user's calendar
and applies the changes (service/follow.py).

Answers: 400 a header that no message of ours carries (a channel id we never make, a message number that is
not a positive 64-bit integer), 401 unknown channel, 403 wrong token or resource, 200 handled or queued
behind the user's lease, 503 when the calendar is unavailable or the deployment is broken (Google retries
5xx with backoff; the message also stays pending).
"""

from __future__ import annotations

import re
from datetime import timedelta

from maintenance_windows.domain.document_ids import InvalidDocumentId
from maintenance_windows.handlers import graph_notifications
from maintenance_windows.handlers.http import HttpRequest, HttpResponse, error
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarDeploymentError, CalendarError, CalendarUnavailable
from maintenance_windows.service import channels, follow
from maintenance_windows.service.channels import RETIRED_GRACE
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.errors import Forbidden, NotAuthenticated

logger = get_logger(__name__)
_IGNORED_STATES = frozenset({"sync", "not_exists"})
#: Google counts a channel's messages up from 1; the count is stored, and Firestore keeps 64-bit integers.
MAX_MESSAGE_NUMBER = 2**63 - 1
_MESSAGE_NUMBER = re.compile(r"[0-9]{1,19}")


def handle_calendar_notifications(
    request: HttpRequest, ctx: PlanningContext, retired_grace: timedelta = RETIRED_GRACE
) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(405, {"error": "use POST"}, {"Allow": "POST"})
    if graph_notifications.is_graph_call(request):
        return graph_notifications.handle_graph_notifications(request, ctx)
    return _google_push(request, ctx, retired_grace)


def _google_push(request: HttpRequest, ctx: PlanningContext, retired_grace: timedelta) -> HttpResponse:
    channel_id = request.header("X-Goog-Channel-ID")
    if channel_id and not channels.is_channel_id(channel_id):  # none or empty: an unknown channel (401)
        return error(400, "X-Goog-Channel-ID is not a channel id of ours (1 to 64 letters, digits, '-' or '_')")
    try:
        channel = channels.authenticate(
            ctx,
            channel_id,
            request.header("X-Goog-Channel-Token"),
            request.header("X-Goog-Resource-ID"),
            retired_grace,
        )
    except NotAuthenticated as unknown:
        return error(401, unknown.problem)
    except Forbidden as refused:
        return error(403, refused.problem)
    except InvalidDocumentId as invalid:  # the store guard's last line; is_channel_id is the first
        return error(400, str(invalid))
    state = request.header("X-Goog-Resource-State") or ""
    if state in _IGNORED_STATES:
        return HttpResponse(200, {"status": "ignored", "resource_state": state})
    if state != "exists":
        return error(400, f"unknown resource state {state[:40]!r}")
    number = _message_number(request.header("X-Goog-Message-Number"))
    if number is None:
        return error(400, f"X-Goog-Message-Number must be a positive integer, at most {MAX_MESSAGE_NUMBER}")
    try:
        outcome = follow.on_notification(ctx, channel, number)
    except (CalendarError, InvalidDocumentId) as failure:
        return _follow_failed(failure, channel.user_key)
    return HttpResponse(200, {"status": outcome.status, "rounds": outcome.rounds, "changes": outcome.changes})


def _follow_failed(failure: CalendarError | InvalidDocumentId, user_key: str) -> HttpResponse:
    if isinstance(failure, InvalidDocumentId):
        return error(400, str(failure))
    if isinstance(failure, CalendarUnavailable):
        logger.warning(
            "calendar unavailable; the message stays pending",
            event="follow_unavailable",
            user_key=user_key,
            error=str(failure),
        )
        return error(503, "the calendar is unavailable; retry later")
    if isinstance(failure, CalendarDeploymentError):
        logger.error(
            "calendar sync stopped: the calendar deployment must be fixed",
            event="calendar_deployment_error",
            problem=str(failure),
        )
        return error(503, str(failure))
    # Not healed by a retry (e.g. delegation revoked): say so in the logs, do not make Google retry.
    logger.error(
        "calendar sync failed",
        event="follow_failed",
        user_key=user_key,
        status=failure.status,
        reason=failure.reason,
    )
    return HttpResponse(200, {"status": "failed", "reason": failure.reason or "calendar error"})


def _message_number(raw: str | None) -> int | None:
    # ASCII digits only: str.isdigit() also accepts "²" or "١", which int() then refuses or reads.
    if raw is None or not _MESSAGE_NUMBER.fullmatch(raw.strip()):
        return None
    number = int(raw)
    return number if 0 < number <= MAX_MESSAGE_NUMBER else None
