"""How a window ended, told in its event: "Done — thank you", or what happens next.

Verification (dispatch_window) decides and writes the words on the window in the same commit as the
outcome (`with_outcome`); the next planning run (plan_windows, which holds the calendar grant) rewrites
the event's description with them (`tell_outcomes`). dispatch_window itself never reaches a calendar: it
holds no grant on the delegation identity, so a compromised dispatcher cannot read or write anyone's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from maintenance_windows.config.teams import TeamsConfig
from maintenance_windows.domain.event_text import outcome_description_html
from maintenance_windows.domain.fleet_hosts import FleetHost
from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.calendar import CalendarError, CalendarUnavailable
from maintenance_windows.ports.store import Filter, Write
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext
from maintenance_windows.service.local_time import local_moment

logger = get_logger(__name__)
_GONE = frozenset({404, 410})


def with_outcome(
    teams: TeamsConfig,
    window: Window,
    hosts: Sequence[FleetHost],
    *,
    verified: bool,
    rebook_after: datetime | None = None,
    escalated: bool = False,
) -> Window:
    """The closed window with the words its event should end with, waiting to be written."""
    language = teams.rules_for(window.team_id).language
    html = outcome_description_html(
        language,
        verified=verified,
        host_names=[host.display_name for host in hosts],
        contact=teams.contact,
        rebook_after_local=local_moment(rebook_after, window.time_zone, language) if rebook_after else None,
        escalated=escalated,
    )
    return replace(window, outcome_html=html, outcome_pending=window.event_id is not None)


def tell_outcomes(ctx: PlanningContext) -> int:
    """Write every waiting outcome into its event; returns how many were written. Each is cleared once
    written (or once its event is gone); a refused or failed patch waits for the next run."""
    documents = ctx.store.query(window_records.WINDOWS, [Filter("outcome_pending", "==", True)])
    told = 0
    for window_id, document in documents:
        window = window_records.window_from_document(document)
        if not window.event_id:
            continue
        try:
            ctx.calendar.patch_event(window.user_email, window.event_id, description_html=window.outcome_html)
        except CalendarUnavailable as outage:
            logger.warning(
                "outcomes not written: calendar unavailable; next run",
                event="event_outcome_failed",
                window_id=window_id,
                error=str(outage),
            )
            break
        except CalendarError as problem:
            if problem.status not in _GONE:
                logger.warning(
                    "could not write the outcome into the event; next run",
                    event="event_outcome_failed",
                    window_id=window_id,
                    error=str(problem),
                )
                continue
        ctx.store.commit([Write("merge", window_records.WINDOWS, window_id, {"outcome_pending": False})])
        told += 1
        logger.info(
            "event tells the outcome", event="event_outcome_written", window_id=window_id, state=window.state.value
        )
    return told
