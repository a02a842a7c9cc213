"""Leases: exclusive, expiring ownership of a piece of work, claimed with an atomic create()."""

from __future__ import annotations

from datetime import datetime, timedelta

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


def user_lease(user_key: str) -> str:
    """Whoever changes a user's open window (following a calendar change, or the planner) holds this."""
    return f"follow-{user_key}"


def held_while(store: DocumentStore, name: str, now: datetime, ttl: timedelta) -> _Held:
    """`with held_while(...) as held:` runs the block holding the lease when `held` is True."""
    return _Held(store, name, now, ttl)


class _Held:
    def __init__(self, store: DocumentStore, name: str, now: datetime, ttl: timedelta) -> None:
        self._store, self._name, self._now, self._ttl = store, name, now, ttl
        self._held = False

    def __enter__(self) -> bool:
        self._held = claim(self._store, self._name, self._now, self._now + self._ttl)
        return self._held

    def __exit__(self, *_: object) -> None:
        if self._held:
            release(self._store, self._name)
