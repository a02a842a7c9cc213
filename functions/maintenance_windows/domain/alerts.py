"""Chat alerts: which facts deserve one, their ids, and the message bodies Slack and Google Chat take.

One alert per fact, not per run: the id is derived from the fact (what, which host, why), so the planner's
next run computes the same id and the stored claim (`create()`) says it was sent already. A fact that
changes (another reason, a new pause) is a new fact and alerts again.

Message formats:
- Slack incoming webhooks take `{"text": ...}` with mrkdwn, links as `<url|label>`
  (https://api.slack.com/messaging/webhooks);
- Google Chat incoming webhooks take `{"text": ...}`, bold as `*text*`, links as `<url|label>`
  (https://developers.google.com/workspace/chat/quickstart/webhooks and
  https://developers.google.com/workspace/chat/format-messages).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

ChatFormat = Literal["slack", "google_chat"]
#: Slack shortens messages past 40,000 characters and Google Chat refuses past 4,096 bytes; alerts stay far below.
MAX_TEXT = 3000


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str
    text: str


def alert_id(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:24]
    return f"alert-{digest}"


def attention_alert(kind: str, host_id: int, user: str | None, reason: str, link: str | None) -> Alert:
    who = user or "no email"
    where = f"<{link}|host {host_id}>" if link else f"host {host_id}"
    return Alert(alert_id("attention", kind, host_id, reason), kind, f"*{kind}*: {where} ({who}): {reason}")


def pause_alert(team: str, since: datetime, reason: str, now: datetime, after: timedelta) -> Alert | None:
    """A team paused for longer than `after`: one alert per pause (its start time names it)."""
    if now - since < after:
        return None
    days = (now - since).days
    return Alert(
        alert_id("paused", team, since.isoformat()),
        "paused",
        f"*paused*: {team} has been paused for {days} days ({reason})",
    )


def digest_alert(day: str, lines: Sequence[str], link: str | None) -> Alert:
    head = f"*Maintenance windows, daily digest {day}*" + (f" · <{link}|status page>" if link else "")
    return Alert(alert_id("digest", day), "digest", "\n".join([head, *(f"• {line}" for line in lines)]))


def message(alert: Alert, chat_format: ChatFormat) -> dict[str, Any]:
    """The JSON body for the webhook. Both products take plain `text`; Slack also gets a mrkdwn section."""
    text = alert.text if len(alert.text) <= MAX_TEXT else alert.text[: MAX_TEXT - 1] + "…"
    if chat_format == "slack":
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    return {"text": text}
