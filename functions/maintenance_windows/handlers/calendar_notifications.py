"""calendar_notifications: Google Calendar push messages (public; authenticated by the channel token).

Google sends no identity and no body, only X-Goog-* headers. A message is accepted when its channel id is
one of ours and its X-Goog-Channel-Token matches the stored digest (constant-time). Then:
`sync` (sent right after events.watch) and `not_exists` need nothing; `exists` syncs the user's calendar
and applies the changes (planning/follow.py).

Answers: 401 unknown channel, 403 wrong token or resource, 200 handled or queued behind the user's lease,
503 when the calendar is unavailable (Google retries 5xx with backoff; the message also stays pending).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from maintenance_windows.auth.channel_tokens import token_matches
from maintenance_windows.handlers.http import HttpRequest, HttpResponse, error
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.calendar import CalendarError, CalendarUnavailable
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository.channels import ChannelRecord, ChannelState
from maintenance_windows.service import follow
from maintenance_windows.service.channels import RETIRED_GRACE
from maintenance_windows.service.context import PlanningContext

logger = get_logger(__name__)
_IGNORED_STATES = frozenset({"sync", "not_exists"})


def handle_calendar_notifications(
    request: HttpRequest, ctx: PlanningContext, retired_grace: timedelta = RETIRED_GRACE
) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(405, {"error": "use POST"}, {"Allow": "POST"})
    channel = _authenticate(request, ctx, retired_grace)
    if isinstance(channel, HttpResponse):
        return channel
    state = request.header("X-Goog-Resource-State") or ""
    if state in _IGNORED_STATES:
        return HttpResponse(200, {"status": "ignored", "resource_state": state})
    if state != "exists":
        return error(400, f"unknown resource state {state[:40]!r}")
    number = _message_number(request.header("X-Goog-Message-Number"))
    if number is None:
        return error(400, "X-Goog-Message-Number must be a positive integer")
    try:
        outcome = follow.on_notification(ctx, channel, number)
    except CalendarUnavailable as outage:
        log(
            logger,
            logging.WARNING,
            "calendar unavailable; the message stays pending",
            event="follow_unavailable",
            user_key=channel.user_key,
            error=str(outage),
        )
        return error(503, "the calendar is unavailable; retry later")
    except CalendarError as problem:
        # Not healed by a retry (e.g. delegation revoked): say so in the logs, do not make Google retry.
        log(
            logger,
            logging.ERROR,
            "calendar sync failed",
            event="follow_failed",
            user_key=channel.user_key,
            status=problem.status,
            reason=problem.reason,
        )
        return HttpResponse(200, {"status": "failed", "reason": problem.reason or "calendar error"})
    return HttpResponse(200, {"status": outcome.status, "rounds": outcome.rounds, "changes": outcome.changes})


def _authenticate(request: HttpRequest, ctx: PlanningContext, retired_grace: timedelta) -> ChannelRecord | HttpResponse:
    channel_id = request.header("X-Goog-Channel-ID")
    record = channel_records.get(ctx.store, channel_id) if channel_id else None
    if record is not None and record.state is ChannelState.RETIRED:
        retired_at = record.retired_at
        if retired_at is None or retired_at + retired_grace <= ctx.clock():
            record = None
    if record is None:
        _refused("unknown channel", channel_id)
        return error(401, "unknown channel")
    if not token_matches(request.header("X-Goog-Channel-Token"), record.token_digest):
        _refused("wrong channel token", channel_id)
        return error(403, "wrong channel token")
    resource_id = request.header("X-Goog-Resource-ID")
    if record.resource_id is not None and resource_id != record.resource_id:
        _refused("wrong resource id", channel_id)
        return error(403, "wrong resource")
    return record


def _refused(why: str, channel_id: str | None) -> None:
    # The channel id is not a secret (the token is); truncated so a hostile header cannot flood the log.
    log(
        logger,
        logging.WARNING,
        f"notification refused: {why}",
        event="notification_refused",
        channel_id=(channel_id or "")[:64],
    )


def _message_number(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit():
        return None
    number = int(raw)
    return number if number > 0 else None
