"""Leases: exclusive, expiring ownership of a piece of work (one planner run, one user's open window).

A lease is a claim (repository/claims.py) in `leases` that is claimed and released, never finished:
whoever holds it may do the work; an expired lease (its holder died) is taken over by exactly one
contender; a release by a former holder, after a takeover, does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from maintenance_windows.ports.store import DocumentStore
from maintenance_windows.repository.claims import ClaimBook, ClaimState, ClaimView, Holder

LEASES = "leases"
#: A lease's generation documents are kept this long after the claim (Firestore's TTL removes them), far
#: longer than any lease is held, so a probe never meets a gap where a recent generation was.
LEASE_RETENTION = timedelta(days=1)


def _book(store: DocumentStore) -> ClaimBook:
    # Heads are kept: one per user and one for the planner. A head that TTL removed while a lease was in
    # use would send a contender back to generation 0 beside the holder.
    return ClaimBook(store, LEASES, retention=LEASE_RETENTION, expire_heads=False)


def claim(store: DocumentStore, name: str, now: datetime, expires_at: datetime) -> Holder | None:
    """The lease, held until `expires_at`; None when someone else holds it."""
    claimed = _book(store).acquire(name, now, expires_at, {"lease": name})
    return claimed.holder if claimed.state is ClaimState.ACQUIRED else None


def release(store: DocumentStore, lease: Holder) -> bool:
    """False when the lease had run out and was taken over: then this changed nothing."""
    return _book(store).release(lease)


def inspect(store: DocumentStore, name: str) -> ClaimView:
    return _book(store).inspect(name)


def user_lease(user_key: str) -> str:
    """Whoever changes a user's open window (following a calendar change, or the planner) holds this."""
    return f"follow-{user_key}"


@contextmanager
def held_while(store: DocumentStore, name: str, now: datetime, ttl: timedelta) -> Iterator[bool]:
    """`with held_while(...) as held:` runs the block holding the lease when `held` is True."""
    lease = claim(store, name, now, now + ttl)
    try:
        yield lease is not None
    finally:
        if lease is not None:
            release(store, lease)
