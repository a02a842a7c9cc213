"""Tokens for Calendar watch channels.

Google echoes the token we set on events.watch in every notification (X-Goog-Channel-Token). We store only
its digest, so a leaked Firestore export cannot be replayed against calendar_notifications.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_channel_token() -> str:
    """256 random bits, URL-safe (43 characters; Calendar allows up to 256)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(presented: str | None, stored_digest: str) -> bool:
    """Constant-time check of a notification's token against the stored digest."""
    if not presented or not stored_digest:
        return False
    return hmac.compare_digest(token_digest(presented).encode("ascii"), stored_digest.lower().encode("utf-8"))
