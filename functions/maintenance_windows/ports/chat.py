"""Where chat alerts go: an incoming webhook (Slack or Google Chat)."""

from __future__ import annotations

from typing import Any, Protocol


class ChatError(Exception):
    """The webhook refused the message or could not be reached; the alert is tried again next run."""


class ChatPort(Protocol):
    def post(self, body: dict[str, Any]) -> None:
        """Send one message body; raise ChatError when it was not accepted."""
        ...
