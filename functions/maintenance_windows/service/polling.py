"""Following calendars that cannot push: CalDAV has no standard notification (RFC 4791 has none; RFC 6578
offers only a sync token to poll with), so the scheduler stands in for the push.

Each run looks at the current channels the calendar opened as polled (resource id `caldav-sync`, see
adapters/caldav) and, for every one due, records a message exactly as a push notification would and runs
the same follow use case (service/follow.on_notification): lease, incremental sync from the stored token,
a bounded full read after a lost token, moves and deletions applied, our own edits recognised by etag.

The cadence is the schedule's: a deployment with CalDAV people has a second Cloud Scheduler job calling
plan_windows with {"follow_only": true} (terraform `follow_schedule`, default every 5 minutes; locally
MW_FOLLOW_SECONDS), which syncs every polled calendar. Each planning run also syncs them (the
PolledFollower hook), but only those the follow job has not synced in the last FOLLOWED_RECENTLY: a polled
channel's message number is the minute of its last poll (minutes since the epoch), so last_message_number
says when that was. A person whose calendar fails is logged and left to the next run, alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarError
from maintenance_windows.repository import channels as channel_records
from maintenance_windows.repository.channels import ChannelState
from maintenance_windows.service import follow
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.planner import PlanReport

POLLED = "caldav-sync"  # adapters/caldav.POLLED; the service layer imports no adapter
#: A planning run leaves alone the calendars synced this recently (by the follow job's default cadence).
FOLLOWED_RECENTLY = timedelta(minutes=5)
logger = get_logger(__name__)


@dataclass
class PollReport:
    polled: int = 0
    not_due: int = 0
    failed: int = 0

    def as_report(self) -> dict[str, int]:
        return {f"calendars_{name}": value for name, value in vars(self).items()}


def follow_polled(ctx: PlanningContext, skip_within: timedelta | None = None) -> PollReport:
    """Sync every polled calendar (but those synced within `skip_within`); one person's failure is theirs."""
    report = PollReport()
    now = ctx.clock()
    minute = int(now.timestamp() // 60)
    recent = int(skip_within.total_seconds() // 60) if skip_within else 0
    for record in channel_records.all_channels(ctx.store):
        if record.state is not ChannelState.CURRENT or record.resource_id != POLLED:
            continue
        # A channel opened meanwhile starts from a fresh sync token: nothing to read yet.
        opened_recently = skip_within is not None and record.created_at > now - skip_within
        if opened_recently or (recent and minute - record.last_message_number < recent):
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

    def __call__(self, ctx: PlanningContext, _open_windows: Sequence[Window], report: PlanReport) -> None:
        report.extra.update(follow_polled(ctx, FOLLOWED_RECENTLY).as_report())
