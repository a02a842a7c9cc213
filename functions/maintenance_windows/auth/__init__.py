"""Who may call our functions: shared secret, OIDC, channel tokens. Imports only observability.

- shared_secret: fleet_webhook (Fleet cannot sign requests; it embeds a secret in the webhook URL).
- oidc: plan_windows and dispatch_window (Cloud Scheduler and Cloud Tasks send Google-signed ID tokens).
- channel_tokens: calendar_notifications (Google echoes the token we chose when opening a watch channel).

Each module is imported on its own so that fleet_webhook does not pay for google-auth at cold start.
"""

from __future__ import annotations

from typing import Protocol


class AuthError(Exception):
    """A refused caller. `reason` is safe to log and to return: it never contains the credential."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class CallerVerifier(Protocol):
    """What a handler needs of a verifier (auth.oidc.OidcVerifier): raise AuthError or return the caller."""

    def verify(self, authorization_header: str | None, /) -> object: ...
