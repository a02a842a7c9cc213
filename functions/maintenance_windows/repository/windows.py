"""The `windows` and `users` collections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from typing import Any

from maintenance_windows.domain.calendar_access import AccessRefusal
from maintenance_windows.domain.windows import OPEN_STATES, HistoryEntry, Window, WindowState
from maintenance_windows.ports.store import Document, DocumentStore, Filter, Write

WINDOWS = "windows"
USERS = "users"
#: users/{key}.calendar_access: the user's current streak of refused calendar access, absent or null if none.
CALENDAR_ACCESS = "calendar_access"
_FIELDS = {field.name for field in fields(Window)}


def window_to_document(window: Window) -> Document:
    document = asdict(window)
    document["state"] = window.state.value
    document["host_ids"] = list(window.host_ids)
    document["policy_ids"] = list(window.policy_ids)
    document["history"] = [asdict(entry) for entry in window.history]
    return document


def window_from_document(document: Document) -> Window:
    values: dict[str, Any] = {key: value for key, value in document.items() if key in _FIELDS}
    values["state"] = WindowState(document["state"])
    values["host_ids"] = tuple(int(h) for h in document.get("host_ids", []))
    values["policy_ids"] = tuple(int(p) for p in document.get("policy_ids", []))
    values["history"] = tuple(HistoryEntry(**entry) for entry in document.get("history", []))
    return Window(**values)


def save(store: DocumentStore, windows: Iterable[Window]) -> None:
    store.commit([Write("set", WINDOWS, window.window_id, window_to_document(window)) for window in windows])


def load(store: DocumentStore, window_id: str) -> Window | None:
    document = store.get(WINDOWS, window_id)
    return window_from_document(document) if document else None


def load_many(store: DocumentStore, window_ids: Sequence[str]) -> dict[str, Window]:
    return {key: window_from_document(doc) for key, doc in store.get_many(WINDOWS, list(window_ids)).items()}


def open_windows(store: DocumentStore) -> list[Window]:
    states = sorted(state.value for state in OPEN_STATES)
    return [window_from_document(doc) for _, doc in store.query(WINDOWS, [Filter("state", "in", states)])]


def all_windows(store: DocumentStore) -> list[Window]:
    return [window_from_document(doc) for _, doc in store.query(WINDOWS)]


def users(store: DocumentStore, user_keys: Sequence[str]) -> dict[str, Document]:
    return store.get_many(USERS, list(user_keys))


def user_write(user_key: str, **fields_to_set: Any) -> Write:
    return Write("merge", USERS, user_key, fields_to_set)


def release_user(window: Window, **also: Any) -> Write:
    """The user's window ended: the next failure opens window number next_sequence."""
    sequence = int(window.window_id.rsplit("-", 1)[1]) + 1
    return Write("merge", USERS, window.user_key, {"open_window_id": None, "next_sequence": sequence, **also})


def access_refusal(user_document: Document) -> AccessRefusal | None:
    stored = user_document.get(CALENDAR_ACCESS)
    if not stored:
        return None
    return AccessRefusal(str(stored["reason"]), stored["since"], int(stored["attempts"]), stored["retry_at"])


def access_refusal_write(user_key: str, refusal: AccessRefusal | None) -> Write:
    """Store the user's refusal streak; None ends it."""
    return Write("merge", USERS, user_key, {CALENDAR_ACCESS: asdict(refusal) if refusal else None})
