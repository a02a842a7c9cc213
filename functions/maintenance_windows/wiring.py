"""Builds each function's dependencies once per instance (cold start), importing only what it needs."""

from __future__ import annotations

import functools

from maintenance_windows.config.settings import Settings
from maintenance_windows.handlers.fleet_webhook import WebhookSettings
from maintenance_windows.observability import configure_logging
from maintenance_windows.ports.store import DocumentStore


@functools.cache
def settings() -> Settings:
    configure_logging()
    return Settings.from_env()


@functools.cache
def store() -> DocumentStore:
    from maintenance_windows.adapters.firestore_store import FirestoreStore

    current = settings()
    return FirestoreStore.connect(current.project, current.firestore_database)


@functools.cache
def webhook() -> tuple[DocumentStore, WebhookSettings]:
    current = settings()
    return store(), WebhookSettings(secrets=current.webhook_secrets, max_body_bytes=current.max_body_bytes)


_WARMERS = {"fleet_webhook": webhook}


def warm(target: str | None) -> None:
    """Called at import by main.py so configuration errors stop the instance at cold start."""
    if target in _WARMERS:
        _WARMERS[target]()
