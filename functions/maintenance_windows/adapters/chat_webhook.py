"""Posts chat alerts to an incoming webhook (Slack or Google Chat).

One attempt per alert and run: an alert the webhook did not take is released and sent by the next planning
run, so a retry loop here would only make the planner wait on a chat outage.
"""

from __future__ import annotations

from typing import Any

import requests

from maintenance_windows.ports.chat import ChatError

_TIMEOUT_SECONDS = 10.0


class ChatWebhook:
    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self._url = url
        self._session = session or requests.Session()

    def post(self, body: dict[str, Any]) -> None:
        # Google Chat documents the charset on its webhook's content type; Slack accepts it the same.
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        try:
            answer = self._session.post(self._url, json=body, headers=headers, timeout=_TIMEOUT_SECONDS)
        except requests.RequestException as problem:
            raise ChatError(f"chat webhook unreachable: {type(problem).__name__}") from None
        if answer.status_code != 200:
            # The webhook's URL is the credential: never put it in the error.
            raise ChatError(f"chat webhook answered {answer.status_code}: {answer.text[:200]}")
