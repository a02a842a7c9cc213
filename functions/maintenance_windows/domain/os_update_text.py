"""The event's "Your update" section: how the person starts an OS update, and when it happens anyway.

Self-contained and rendered around the explanation (like the window's time), because its facts are per
team and per person (Fleet's deadline in the person's time zone) and must never reach the model or split
its cache. Pure: every dynamic string is escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

_MAX_FIELD = 160


class OsUpdateNotice(BaseModel):
    """One kind of device in the window whose update the person starts (domain/os_updates.py: PERSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str  # "Mac", "iPad", "PC"
    product: str  # "macOS", "iPadOS", "Windows"
    steps: str  # "System Settings → General → Software Update → Update Now"
    target_version: str | None = None
    #: When Fleet makes the device install it, in the person's local time ("Tuesday 30 June 2027, 12:00 …").
    enforced_local: str | None = None
    #: Fleet's deadline comes before the window: it was the earliest free time (the slot reason says so too).
    enforced_before_window: bool = False
    windows_deadline_days: int | None = None
    windows_grace_period_days: int | None = None


def os_update_section_html(notices: Sequence[OsUpdateNotice]) -> str:
    """ "" without notices; else one <b>Your update</b> block (a line per kind of device)."""
    lines = [_line(notice) for notice in dict.fromkeys(notices)]
    if not lines:
        return ""
    return "<b>Your update</b><br>" + "<br>".join(lines) + "<br><br>"


def _line(notice: OsUpdateNotice) -> str:
    what = f"{notice.product} {notice.target_version}" if notice.target_version else f"the {notice.product} update"
    parts = [
        f"Start the update yourself during this window: {notice.steps}. Your {notice.device} restarts to "
        "finish it, so save your work first."
    ]
    if notice.enforced_local and notice.enforced_before_window:
        parts.append(
            f"Your {notice.device} installs {what} by itself on {notice.enforced_local}, which is "
            "sooner than any free time in your calendar: this window is the earliest we found."
        )
    elif notice.enforced_local:
        parts.append(
            f"If it is not installed by {notice.enforced_local}, your {notice.device} installs {what} "
            "by itself and restarts."
        )
    elif notice.windows_deadline_days is not None:
        grace = notice.windows_grace_period_days
        later = f", and restarts {grace} days after that if you have not restarted it" if grace is not None else ""
        parts.append(
            f"Windows installs required updates by itself {notice.windows_deadline_days} days after "
            f"they are offered to your PC{later}."
        )
    return html.escape(" ".join(_clip(part) for part in parts), quote=True)


def _clip(text: str) -> str:
    return text if len(text) <= 3 * _MAX_FIELD else text[: 3 * _MAX_FIELD - 1] + "…"
