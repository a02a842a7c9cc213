"""Users whose calendar refused us: recorded where an admin looks, and tried again on a slow schedule.

A refusal (ports.calendar.CalendarAccessRefused: suspended, not_delegated, unknown) is stored on the user
(users/{key}.calendar_access: reason, since, attempts, retry_at; domain/calendar_access.py sets the
schedule) and on the hosts of their open windows (calendar_problem, shown by `mw host`); booking records
it on the windows themselves as their unplaced reason (shown by `mw windows`). Until retry_at the planner
makes no call for the user; then the time zone lookup, which needs the user's own credentials, tries
again. Its first success clears the user's and the hosts' records; planning the window replaces its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from maintenance_windows.domain.calendar_access import AccessRefusal, refused_again
from maintenance_windows.domain.ids import user_key
from maintenance_windows.domain.windows import Window
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.store import Document, Write
from maintenance_windows.repository import hosts as host_records
from maintenance_windows.repository import windows as window_records
from maintenance_windows.service.context import PlanningContext

logger = get_logger(__name__)


def stored_refusals(documents: Mapping[str, Document], emails: Iterable[str]) -> dict[str, AccessRefusal]:
    """The refusal streak of each user that has one, from their users documents (keyed by user key)."""
    found: dict[str, AccessRefusal] = {}
    for email in emails:
        refusal = window_records.access_refusal(documents.get(user_key(email), {}))
        if refusal is not None:
            found[email] = refusal
    return found


def load_refusals(ctx: PlanningContext, emails: Iterable[str]) -> dict[str, AccessRefusal]:
    unique = sorted(set(emails))
    if not unique:
        return {}
    return stored_refusals(window_records.users(ctx.store, [user_key(email) for email in unique]), unique)


def record_refused(
    ctx: PlanningContext,
    windows: Sequence[Window],
    reasons: Mapping[str, str],
    previous: Mapping[str, AccessRefusal],
    now: datetime,
) -> dict[str, AccessRefusal]:
    """One more refused attempt for each user in `reasons` (email → reason): store it on the user and the
    hosts of their `windows`. Returns the users' refusals, whose describe() is each window's unplaced reason."""
    if not reasons:
        return {}
    refusals = {email: refused_again(previous.get(email), reason, now) for email, reason in reasons.items()}
    writes: list[Write] = []
    for email, refusal in refusals.items():
        writes.append(window_records.access_refusal_write(user_key(email), refusal))
        log(logger, logging.WARNING, "calendar access refused; the user waits for the next try",
            event="calendar_access_refused", user_key=user_key(email), reason=refusal.reason,
            attempts=refusal.attempts, retry_at=refusal.retry_at)  # fmt: skip
    writes.extend(_on_hosts(windows, {email: r.describe() for email, r in refusals.items()}))
    ctx.store.commit(writes)
    return refusals


def record_restored(ctx: PlanningContext, windows: Sequence[Window], emails: Iterable[str]) -> None:
    """Access works again for these users (each had a refusal streak): clear it everywhere."""
    restored = sorted(set(emails))
    if not restored:
        return
    writes = [window_records.access_refusal_write(user_key(email), None) for email in restored]
    writes.extend(_on_hosts(windows, dict.fromkeys(restored)))
    ctx.store.commit(writes)
    for email in restored:
        log(logger, logging.INFO, "calendar access works again", event="calendar_access_restored",
            user_key=user_key(email))  # fmt: skip


def _on_hosts(windows: Sequence[Window], problems: Mapping[str, str | None]) -> list[Write]:
    """The hosts of each affected user's windows get the problem as calendar_problem (None clears it)."""
    hosts: dict[int, str | None] = {}
    for window in windows:
        if window.user_email in problems:
            hosts.update(dict.fromkeys(window.host_ids, problems[window.user_email]))
    return [host_records.calendar_problem_write(host, problem) for host, problem in sorted(hosts.items())]
