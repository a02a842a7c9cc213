"""Access to the local stack from tests: its description, a store on its emulator, and clean-up."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from maintenance_windows.adapters.firestore_store import FirestoreStore

#: Every collection the product writes; wiped between integration tests.
COLLECTIONS = (
    "hosts",
    "host_policies",
    "policies",
    "webhook_chunks",
    "users",
    "windows",
    "claims",
    "leases",
    "channels",
    "explanations",
    "follow_pending",
    "alerts",
)


def load(path: str | Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(path).read_text())
    return loaded


def firestore_store(stack: dict[str, Any]) -> FirestoreStore:
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack["firestore_emulator_host"]
    return FirestoreStore.connect(stack["project"])


def wipe(store: FirestoreStore) -> None:
    client = store.client
    for name in COLLECTIONS:
        batch = client.batch()
        pending = 0
        for snapshot in client.collection(name).stream():
            batch.delete(snapshot.reference)
            pending += 1
            if pending == 500:
                batch.commit()
                batch, pending = client.batch(), 0
        if pending:
            batch.commit()
