"""Following calendars that cannot push: CalDAV has no standard notification (RFC 4791 has none; RFC 6578
offers only a sync token to poll with), so the scheduler stands in for the push.

Each run looks at the current channels the calendar opened as polled (resource id `caldav-sync`, see
adapters/caldav) and, for every one due, records a message exactly as a push notification would and runs
the same follow use case (service/follow.on_notification): lease, incremental sync from the stored token,
a bounded full read after a lost token, moves and deletions applied, our own edits recognised by etag.

A polled channel's message number is the minute of its poll (minutes since the epoch), so the channel's
last_message_number tells when it was last synced: a channel is due when `caldav.sync_minutes` (default 5)
have passed. Runs come from the planner's schedule (the PolledFollower hook) and from a lighter follow-only
call on a shorter schedule (plan_windows with {"follow_only": true}); either way, a calendar is synced at
most once per cadence, and a person whose calendar fails is logged and left to the next run, alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarError
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository.channels import ChannelRecord, ChannelState
from maintenance_windows.service import follow
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanReport

POLLED = "caldav-sync"  # adapters/caldav.POLLED; the service layer imports no adapter
DEFAULT_SYNC_MINUTES = 5
logger = get_logger(__name__)


@dataclass
class PollReport:
    polled: int = 0
    not_due: int = 0
    failed: int = 0

    def as_report(self) -> dict[str, int]:
        return {f"calendars_{name}": value for name, value in vars(self).items()}


def follow_polled(ctx: PlanningContext) -> PollReport:
    """Sync every polled calendar that is due; one person's failure is theirs alone."""
    report = PollReport()
    minute = int(ctx.clock().timestamp() // 60)
    for record in channel_records.all_channels(ctx.store):
        if record.state is not ChannelState.CURRENT or record.resource_id != POLLED:
            continue
        if minute - record.last_message_number < _cadence_minutes(ctx, record):
            report.not_due += 1
            continue
        try:
            follow.on_notification(ctx, record, minute)
            report.polled += 1
        except CalendarError as problem:
            report.failed += 1
            logger.warning(
                "polled calendar could not be synced; the next run tries again",
                event="calendar_poll_failed",
                user_key=record.user_key,
                status=problem.status,
                reason=problem.reason,
            )
    if report.polled or report.failed:
        logger.info("polled calendars synced", event="calendars_polled", **vars(report))
    return report


class PolledFollower:
    """The AfterPlanHook: every planning run also syncs the polled calendars that are due."""

    def __call__(self, ctx: PlanningContext, open_windows: Sequence[Window], report: PlanReport) -> None:
        report.extra.update(follow_polled(ctx).as_report())


def _cadence_minutes(ctx: PlanningContext, record: ChannelRecord) -> int:
    server = ctx.teams.caldav_server_for(record.user_email)
    return server.sync_minutes if server is not None else DEFAULT_SYNC_MINUTES
