"""Deterministic identifiers: the same inputs always name the same document, event or task.

This is what makes every handler idempotent: a retry computes the same id and finds its own work.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()


def user_key(email: str) -> str:
    """Stable, non-reversible key for a user, safe to put in document ids and logs."""
    return _digest("user", email.strip().lower()).hex()[:20]


def window_id(user: str, sequence: int) -> str:
    """The user's n-th window; a new one starts when the previous one ends."""
    return f"{user}-{sequence:04d}"


def event_id(window: str, booking: int) -> str:
    """A Google Calendar event id: base32hex (a–v, 0–9), 32 characters.

    A rebooking gets a new booking number, hence a new id: Google keeps deleted ids and answers 409.
    """
    return base64.b32hexencode(_digest("event", window, booking)[:20]).decode().lower()


def task_name(window: str, revision: int, purpose: str) -> str:
    """Cloud Tasks name: a hash prefix first (sequential names hurt the queue), then readable parts."""
    prefix = _digest("task", window, revision, purpose).hex()[:12]
    return f"{prefix}-{window}-r{revision}-{purpose}"


def claim_id(*parts: object) -> str:
    return _digest("claim", *parts).hex()[:32]


def webhook_delivery_id(policy_id: int, timestamp: str, host_ids: Sequence[int]) -> str:
    """One webhook delivery's content: Fleet's retry of the same payload gets the same id (and chunks)."""
    return _digest("delivery", policy_id, timestamp, ",".join(str(host) for host in host_ids)).hex()[:20]


def webhook_chunk_id(delivery: str, index: int) -> str:
    return f"{delivery}-{index:04d}"


def ingest_task_name(chunk_id: str) -> str:
    """The task that folds one stored webhook chunk in; a hash prefix first, as for window tasks."""
    return f"{_digest('task', 'ingest', chunk_id).hex()[:12]}-ingest-{chunk_id}"
