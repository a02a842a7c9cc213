"""A local stand-in for Google's OAuth 2.0 token endpoint, for domain-wide delegation's JWT-bearer grant.

google-auth's service-account credentials POST `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and a
signed JWT (iss, sub = the user, scope, aud = the token URI, iat, exp) and read `access_token` and `expires_in`
back. When Google refuses, the body is OAuth's error JSON and google-auth raises RefreshError. The refusals
come from Google's "Using OAuth 2.0 for Server to Server Applications" page (JWT error codes):

| User state (seeded) | Status | Body |
| --- | --- | --- |
| not seeded, or `unknown` | 400 | `invalid_grant` / "Invalid email or User ID" |
| `suspended` | 400 | `invalid_grant` / "Invalid email or User ID" (unconfirmed for suspended users) |
| `deleted` | 400 | `invalid_grant` / "The account has been deleted" |
| `not_delegated` | 401 | `unauthorized_client` / "Client is unauthorized to retrieve access tokens using this ..." |

The stand-in reads the JWT's claims but does not check its signature (it knows no keys); Google does.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/token"
#: Google's service-account guide: "When making an access token request this value is always
#: https://oauth2.googleapis.com/token" (whatever URL the request is sent to; google-auth does the same).
AUDIENCE = "https://oauth2.googleapis.com/token"
TOKEN_LIFETIME_SECONDS = 3599
MAX_ASSERTION_LIFETIME_SECONDS = 3600
#: Allowed clock difference between the JWT's iat/exp and this server (Google's exact skew is not published).
_CLOCK_SKEW_SECONDS = 300
_NOT_A_USER = "Invalid email or User ID"
_REFUSALS: dict[str, tuple[int, str, str]] = {
    "unknown": (400, "invalid_grant", _NOT_A_USER),
    "suspended": (400, "invalid_grant", _NOT_A_USER),
    "deleted": (400, "invalid_grant", "The account has been deleted"),
    "not_delegated": (
        401,
        "unauthorized_client",
        "Client is unauthorized to retrieve access tokens using this method, "
        "or client not authorized for any of the scopes requested.",
    ),
}


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, Any]
    subject: str | None = None

    @property
    def granted(self) -> bool:
        return self.status == 200


def refusal(state: str | None) -> tuple[int, str, str] | None:
    """(status, error, description) for a user whose token cannot be minted; None when it can."""
    if state is None:
        return _REFUSALS["unknown"]
    return _REFUSALS.get(state)


def grant(form: dict[str, str], delegation_state: Any, now: float | None = None) -> TokenAnswer:
    """Answer one token request; `delegation_state(email)` is the seeded user's state (None if unseeded)."""
    if form.get("grant_type") != JWT_BEARER:
        return _error(400, "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}")
    assertion = form.get("assertion")
    if not assertion:
        return _error(400, "invalid_request", "Missing required parameter: assertion")
    claims = _claims(assertion)
    if claims is None:
        return _error(400, "invalid_grant", "Invalid JWT Signature.")
    problem = _claim_problem(claims, time.time() if now is None else now)
    if problem is not None:
        return problem
    subject = str(claims["sub"])
    refused = refusal(delegation_state(subject))
    if refused is not None:
        return _error(*refused, subject=subject)
    return TokenAnswer(
        200,
        {"access_token": f"local:{subject}", "expires_in": TOKEN_LIFETIME_SECONDS, "token_type": "Bearer"},
        subject,
    )


def _claim_problem(claims: dict[str, Any], now: float) -> TokenAnswer | None:
    if not claims.get("iss"):
        return _error(400, "invalid_grant", "Invalid JWT: no issuer.")
    if claims.get("aud") != AUDIENCE:
        return _error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
    issued, expires = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(issued, int | float)
        or not isinstance(expires, int | float)
        or expires - issued > MAX_ASSERTION_LIFETIME_SECONDS
        or expires < issued
        or issued > now + _CLOCK_SKEW_SECONDS
        or expires < now - _CLOCK_SKEW_SECONDS
    ):
        return _error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
    if not str(claims.get("scope") or "").strip():
        return _error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    if not claims.get("sub"):
        # Without a subject the token would be the service account's own: no user calendar to act on here.
        return _error(400, "invalid_request", "Invalid impersonation \u201csub\u201d field.")
    return None


def _claims(assertion: str) -> dict[str, Any] | None:
    pieces = assertion.split(".")
    if len(pieces) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _error(status: int, error: str, description: str, subject: str | None = None) -> TokenAnswer:
    return TokenAnswer(status, {"error": error, "error_description": description}, subject)
