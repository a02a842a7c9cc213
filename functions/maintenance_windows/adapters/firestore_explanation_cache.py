"""ExplanationCache in Firestore: collection "explanations", one document per cache key.

Documents hold the Explanation's fields and created_at. A document that no longer parses (an older
Explanation shape) is a miss, so the next call rewrites it; Firestore's TTL policy on expires_at removes entries after
CACHE_LIFETIME.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.cloud import firestore
from pydantic import ValidationError

from maintenance_windows.domain.explanation import Explanation
from maintenance_windows.observability import get_logger

_logger = get_logger(__name__)

COLLECTION = "explanations"
CACHE_LIFETIME = timedelta(days=30)


class FirestoreExplanationCache:
    def __init__(self, client: firestore.Client, collection: str = COLLECTION) -> None:
        self._collection = client.collection(collection)

    def get(self, key: str) -> Explanation | None:
        snapshot = self._collection.document(key).get()
        if not snapshot.exists:
            return None
        stored = snapshot.to_dict() or {}
        fields = {name: stored[name] for name in Explanation.model_fields if name in stored}
        try:
            return Explanation.model_validate(fields)
        except ValidationError:
            _logger.warning("unreadable cached explanation ignored", cache_key=key)
            return None

    def put(self, key: str, explanation: Explanation) -> None:
        document = {
            **explanation.model_dump(mode="json"),
            "created_at": firestore.SERVER_TIMESTAMP,
            # Firestore's TTL policy removes it then, so model or policy-text improvements reach old policy sets.
            "expires_at": datetime.now(UTC) + CACHE_LIFETIME,
        }
        self._collection.document(key).set(document)
