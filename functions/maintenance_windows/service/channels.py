"""Watch channels: one per user calendar while the user has a booked window (an AfterPlanHook).

Each planning run brings the channels in line with the windows:
- a user with a planned or scheduled window and no live channel gets one (events.watch on "primary"), then
  a sync token, so the first `exists` notification can already sync incrementally;
- a channel that expires within `renew_before` is replaced: Calendar has no renew call, so a new channel is
  made (inheriting the old one's sync token: nothing between the two is missed), the user is switched to it,
  and the old one is stopped and kept as `retired` for a grace period, because messages sent just before the
  stop still arrive and must still authenticate;
- channels of users without a booked window are stopped and retired; retired ones past their grace period
  are deleted.
Everything is idempotent: a crash leaves documents the next run finishes or cleans up.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from maintenance_windows.auth.channel_tokens import new_channel_token, token_digest, token_matches
from maintenance_windows.domain.document_ids import document_id_problem
from maintenance_windows.domain.windows import BOOKED_STATES, Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarError, CalendarUnavailable, WatchRequest
from maintenance_windows.ports.store import Write
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.repository.channels import ChannelRecord, ChannelState
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.errors import Forbidden, NotAuthenticated
from maintenance_windows.service.planner import PlanReport

logger = get_logger(__name__)

#: Each renewal costs an events.watch and a channels.stop, so renewing late saves calls: 6 hours before expiry, a
#: 7-day channel lasts 6.75 days (0.30 calls per open window per day, against 0.33 a day before expiry; see
#: docs/performance.md), and the 24 planning runs of those 6 hours (at the default 15-minute schedule) leave
#: ample room for a failed run or an outage.
RENEW_BEFORE = timedelta(hours=6)
#: How long a stopped channel's messages are still accepted ("notifications can arrive briefly after stopping").
RETIRED_GRACE = timedelta(minutes=15)
#: A `creating` document older than this belongs to a run that died between its write and events.watch.
ABANDONED_AFTER = timedelta(minutes=30)
#: Channel work per planning run is bounded; what is left waits for the next run.
DEFAULT_TIME_BUDGET = timedelta(minutes=2)
#: Users per pair of commits when opening channels.
CHUNK = 50


@dataclass
class ChannelChanges:
    created: int = 0
    renewed: int = 0
    retired: int = 0
    deleted: int = 0
    failed: int = 0
    deferred: int = 0

    def as_report(self) -> dict[str, int]:
        return {f"channels_{name}": value for name, value in vars(self).items()}


class ChannelKeeper:
    """The AfterPlanHook: `ChannelKeeper()(ctx, open_windows, report)`."""

    def __init__(
        self,
        *,
        renew_before: timedelta = RENEW_BEFORE,
        retired_grace: timedelta = RETIRED_GRACE,
        time_budget: timedelta = DEFAULT_TIME_BUDGET,
    ) -> None:
        self.renew_before = renew_before
        self.retired_grace = retired_grace
        self.time_budget = time_budget

    def __call__(self, ctx: PlanningContext, open_windows: Sequence[Window], report: PlanReport) -> None:
        changes = self.maintain(ctx, open_windows)
        report.extra.update(changes.as_report())

    def maintain(self, ctx: PlanningContext, open_windows: Sequence[Window]) -> ChannelChanges:
        changes = ChannelChanges()
        if not ctx.notifications_url:
            logger.warning("no notifications URL configured; calendars are not followed")
            return changes
        now = ctx.clock()
        wanted = {w.user_key: w for w in open_windows if w.state in BOOKED_STATES}
        by_user: dict[str, list[ChannelRecord]] = defaultdict(list)
        for record in channel_records.all_channels(ctx.store):
            by_user[record.user_key].append(record)
        writes = self._tidy(ctx, by_user, wanted, now, changes)
        ctx.store.commit(writes)
        self._open_missing(ctx, by_user, wanted, now, changes)
        if any(vars(changes).values()):
            logger.info("channels maintained", event="channels_maintained", **vars(changes))
        return changes

    # ---- retire and delete --------------------------------------------------------------------------

    def _tidy(
        self,
        ctx: PlanningContext,
        by_user: dict[str, list[ChannelRecord]],
        wanted: dict[str, Window],
        now: datetime,
        changes: ChannelChanges,
    ) -> list[Write]:
        writes: list[Write] = []
        for key, records in by_user.items():
            for record in records:
                if record.state is ChannelState.RETIRED:
                    if record.retired_at is None or record.retired_at + self.retired_grace <= now:
                        writes.append(channel_records.delete(record.channel_id))
                        changes.deleted += 1
                elif record.state is ChannelState.CREATING:
                    if record.created_at + ABANDONED_AFTER <= now:
                        writes.append(channel_records.delete(record.channel_id))
                        changes.deleted += 1
                elif key not in wanted:
                    retire_channel(ctx, record, now)
                    changes.retired += 1
            if key not in wanted and any(r.state is ChannelState.CURRENT for r in records):
                writes.append(window_records.user_write(key, channel_id=None))
        return writes

    # ---- create and renew ---------------------------------------------------------------------------

    def _open_missing(
        self,
        ctx: PlanningContext,
        by_user: dict[str, list[ChannelRecord]],
        wanted: dict[str, Window],
        now: datetime,
        changes: ChannelChanges,
    ) -> None:
        due: list[tuple[Window, list[ChannelRecord]]] = []
        for key, window in sorted(wanted.items()):
            current = sorted(
                (r for r in by_user.get(key, []) if r.state is ChannelState.CURRENT), key=lambda r: r.created_at
            )
            if current and _live_until(current[-1]) > now + self.renew_before:
                # Two current channels can only come from an interrupted renewal: keep the newest.
                for old in current[:-1]:
                    retire_channel(ctx, old, now)
            else:
                due.append((window, current))
        budget_ends = time.monotonic() + self.time_budget.total_seconds()
        for start in range(0, len(due), CHUNK):
            if time.monotonic() > budget_ends:
                changes.deferred += len(due) - start
                return
            try:
                self._open_chunk(ctx, due[start : start + CHUNK], now, changes)
            except CalendarUnavailable as outage:
                logger.warning(
                    "calendar unavailable; channels wait for the next run",
                    event="channel_failed",
                    error=str(outage),
                )
                changes.deferred += len(due) - start
                return

    def _open_chunk(
        self,
        ctx: PlanningContext,
        chunk: Sequence[tuple[Window, list[ChannelRecord]]],
        now: datetime,
        changes: ChannelChanges,
    ) -> None:
        """Two commits per chunk: `creating` documents before the watch calls, the outcome after."""
        prepared = [
            (_new_record(window, current[-1] if current else None, now), window, current) for window, current in chunk
        ]
        ctx.store.commit([channel_records.save(record) for (record, _), _, _ in prepared])
        writes: list[Write] = []
        replaced: list[ChannelRecord] = []
        try:
            opened = _watch_all(ctx, [(record, token, window) for (record, token), window, _ in prepared])
            for (record, _), window, current in prepared:
                channel = opened.get(record.channel_id)
                if channel is None:
                    writes.append(channel_records.delete(record.channel_id))
                    changes.failed += 1
                    continue
                writes.append(channel_records.save(channel))
                writes.append(window_records.user_write(window.user_key, channel_id=channel.channel_id))
                replaced.extend(current)
                if current:
                    changes.renewed += 1
                else:
                    changes.created += 1
        finally:
            # What was opened before an outage is kept; `creating` leftovers are cleaned up by a later run.
            ctx.store.commit(writes)
            for old in replaced:  # once their successors are stored
                retire_channel(ctx, old, now)


def _live_until(record: ChannelRecord) -> datetime:
    assert record.expiration is not None, "a current channel always has its expiration"
    return record.expiration


def _new_record(window: Window, inherit_from: ChannelRecord | None, now: datetime) -> tuple[ChannelRecord, str]:
    token = new_channel_token()
    record = ChannelRecord(
        channel_id=str(uuid.uuid4()),
        user_key=window.user_key,
        user_email=window.user_email,
        token_digest=token_digest(token),
        state=ChannelState.CREATING,
        created_at=now,
        # Renewal continues from the old channel's position, so changes made in between are not missed.
        sync_token=inherit_from.sync_token if inherit_from else None,
    )
    return record, token


def _watch_all(ctx: PlanningContext, chunk: Sequence[tuple[ChannelRecord, str, Window]]) -> dict[str, ChannelRecord]:
    """events.watch for the chunk in batches, then first sync tokens for new channels, also batched.

    Channels the calendar refused are left out (and logged); an outage raises CalendarUnavailable."""
    assert ctx.notifications_url is not None
    requests = [
        WatchRequest(
            window.user_email,
            record.channel_id,
            token,
            ctx.notifications_url,
            int(timedelta(days=ctx.teams.rules_for(window.team_id).follow.channel_ttl_days).total_seconds()),
        )
        for record, token, window in chunk
    ]
    watched: dict[str, ChannelRecord] = {}
    for (record, _, window), outcome in zip(chunk, ctx.calendar.watch_many(requests), strict=True):
        if isinstance(outcome, CalendarError):
            logger.warning(
                "calendar refused the watch channel",
                event="channel_failed",
                user_key=window.user_key,
                status=outcome.status,
                reason=outcome.reason,
            )
            continue
        watched[record.channel_id] = replace(
            record, state=ChannelState.CURRENT, resource_id=outcome.resource_id, expiration=outcome.expiration
        )
    return _with_sync_tokens(ctx, watched)


def _with_sync_tokens(ctx: PlanningContext, watched: dict[str, ChannelRecord]) -> dict[str, ChannelRecord]:
    """A renewed channel continues from the old token; a first one starts from a full sync from now.

    Without a token, the first notification does that full sync itself (see follow.py)."""
    needing = [record.user_email for record in watched.values() if record.sync_token is None]
    tokens = ctx.calendar.sync_tokens(needing) if needing else {}
    opened: dict[str, ChannelRecord] = {}
    for channel_id, record in watched.items():
        token = tokens.get(record.user_email)
        if isinstance(token, CalendarError):
            logger.warning(
                "initial sync failed; the first notification will sync in full",
                user_key=record.user_key,
                error=str(token),
            )
            token = None
        opened[channel_id] = replace(record, sync_token=record.sync_token or token)
        logger.info(
            "watch channel opened",
            event="channel_opened",
            user_key=record.user_key,
            channel_id=channel_id,
            expiration=record.expiration,
        )
    return opened


def retire_channel(ctx: PlanningContext, record: ChannelRecord, now: datetime) -> None:
    """Stop the channel at Google (best effort) and keep its document for the grace period."""
    if record.state is ChannelState.RETIRED:
        return
    still_live = record.resource_id is not None and (record.expiration is None or record.expiration > now)
    if still_live:
        assert record.resource_id is not None
        try:
            ctx.calendar.stop_channel(record.user_email, record.channel_id, record.resource_id)
        except CalendarError as problem:
            # It expires by itself at its TTL; its messages are refused once the document is gone.
            logger.warning(
                "could not stop channel",
                user_key=record.user_key,
                channel_id=record.channel_id,
                error=str(problem),
            )
    # An update, not a merge: a channel deleted meanwhile stays deleted (see repository/channels.py).
    if channel_records.retire(ctx.store, record.channel_id, now):
        logger.info("watch channel retired", event="channel_retired", channel_id=record.channel_id)


def stop_user_channels(ctx: PlanningContext, user_key: str) -> None:
    """The user has no booked window left (e.g. declined): stop following their calendar now."""
    now = ctx.clock()
    records = [
        record
        for record in channel_records.channels_of(ctx.store, user_key)
        if record.state is not ChannelState.RETIRED
    ]
    for record in records:
        retire_channel(ctx, record, now)
    if records:
        ctx.store.commit([window_records.user_write(user_key, channel_id=None)])


#: Our channel ids are UUIDs (open_channel). Google allows up to 64 of [A-Za-z0-9-_+/=]; "/" and the rest are
#: never ours, and "/" (or Firestore's reserved __name__ form) would otherwise reach the store as a path.
_CHANNEL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_channel_id(value: str) -> bool:
    """Whether a push message's channel id (Google's header, Graph's clientState) could be one we issued."""
    return bool(_CHANNEL_ID.fullmatch(value)) and document_id_problem(value) is None


def authenticate(
    ctx: PlanningContext,
    channel_id: str | None,
    token: str | None,
    resource_id: str | None,
    retired_grace: timedelta = RETIRED_GRACE,
) -> ChannelRecord:
    """The channel a push message came from, checked against its stored token digest (constant time).

    A retired channel is still accepted for `retired_grace`: messages sent just before its stop arrive late.
    Raises NotAuthenticated for a channel we do not know, Forbidden for a wrong token or resource.
    """
    record = channel_records.get(ctx.store, channel_id) if channel_id else None
    if record is not None and record.state is ChannelState.RETIRED:
        retired_at = record.retired_at
        if retired_at is None or retired_at + retired_grace <= ctx.clock():
            record = None
    if record is None:
        _refused("unknown channel", channel_id)
        raise NotAuthenticated("unknown channel")
    if not token_matches(token, record.token_digest):
        _refused("wrong channel token", channel_id)
        raise Forbidden("wrong channel token")
    if record.resource_id is not None and resource_id != record.resource_id:
        _refused("wrong resource id", channel_id)
        raise Forbidden("wrong resource")
    return record


def _refused(why: str, channel_id: str | None) -> None:
    # The channel id is not a secret (the token is); truncated so a hostile header cannot flood the log.
    logger.warning(
        f"notification refused: {why}",
        event="notification_refused",
        channel_id=(channel_id or "")[:64],
    )
