"""Leases: exclusive, expiring ownership of a piece of work, claimed with an atomic create()."""

from __future__ import annotations

from datetime import datetime

from maintenance_windows.ports.store import DocumentStore, Write

LEASES = "leases"


def claim(store: DocumentStore, name: str, now: datetime, expires_at: datetime) -> bool:
    """True when we now hold the lease. An expired lease (its holder died) is taken over."""
    if store.create(LEASES, name, {"claimed_at": now, "expires_at": expires_at}):
        return True
    current = store.get(LEASES, name)
    if current is not None and current.get("expires_at") and current["expires_at"] > now:
        return False
    # Expired: delete and race for it again; create() lets exactly one contender win.
    store.commit([Write("delete", LEASES, name)])
    return store.create(LEASES, name, {"claimed_at": now, "expires_at": expires_at})


def release(store: DocumentStore, name: str) -> None:
    store.commit([Write("delete", LEASES, name)])
