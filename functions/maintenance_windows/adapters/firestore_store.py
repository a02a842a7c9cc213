"""DocumentStore on Cloud Firestore (or its emulator, through FIRESTORE_EMULATOR_HOST)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.api_core.exceptions import AlreadyExists, NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from maintenance_windows.ports.store import (
    MAX_WRITES_PER_COMMIT,
    Document,
    DocumentExists,
    Filter,
    StoreStats,
    Write,
)


class FirestoreStore:
    def __init__(self, client: firestore.Client) -> None:
        self._client = client
        self.stats = StoreStats()

    @classmethod
    def connect(cls, project: str, database: str = "(default)") -> FirestoreStore:
        return cls(firestore.Client(project=project, database=database))

    @property
    def client(self) -> firestore.Client:
        return self._client

    def get(self, collection: str, doc_id: str) -> Document | None:
        self.stats.rpcs += 1
        self.stats.reads += 1
        snapshot = self._client.collection(collection).document(doc_id).get()
        return snapshot.to_dict() if snapshot.exists else None

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        references = [self._client.collection(collection).document(doc_id) for doc_id in doc_ids]
        self.stats.rpcs += 1  # get_all is one BatchGetDocuments stream
        found: dict[str, Document] = {}
        for snapshot in self._client.get_all(references):
            self.stats.reads += 1
            if snapshot.exists:
                found[snapshot.id] = snapshot.to_dict() or {}
        return found

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        self.stats.rpcs += 1
        self.stats.commits += 1
        try:
            self._client.collection(collection).document(doc_id).create(dict(data))
        except AlreadyExists:
            return False
        self.stats.writes += 1
        return True

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        """DocumentReference.update: one write with an exists precondition, refused with NOT_FOUND for a
        missing document (the emulator honours it too: writeV1Document in @firestore-emulator/server).
        Its keys are field paths, so they must not contain dots; ours are plain field names."""
        if any("." in key for key in data):
            raise ValueError(f"update takes top-level field names, not paths: {sorted(data)}")
        self.stats.rpcs += 1
        self.stats.commits += 1
        try:
            self._client.collection(collection).document(doc_id).update(dict(data))
        except NotFound:
            return False
        self.stats.writes += 1
        return True

    def commit(self, writes: Sequence[Write]) -> None:
        for start in range(0, len(writes), MAX_WRITES_PER_COMMIT):
            batch = self._client.batch()
            for write in writes[start : start + MAX_WRITES_PER_COMMIT]:
                reference = self._client.collection(write.collection).document(write.doc_id)
                if write.kind == "delete":
                    batch.delete(reference)
                elif write.kind == "create":
                    batch.create(reference, write.data)
                else:
                    batch.set(reference, write.data, merge=write.kind == "merge")
            try:
                batch.commit()
            except AlreadyExists:
                self.stats.rpcs += 1
                self.stats.commits += 1
                raise DocumentExists(writes[start].collection) from None
            self.stats.rpcs += 1
            self.stats.commits += 1
            self.stats.writes += len(writes[start : start + MAX_WRITES_PER_COMMIT])

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        query: Any = self._client.collection(collection)
        for condition in filters:
            # The emulator matches everything for `== None`; callers never filter on null.
            if condition.value is None:
                raise ValueError(f"refusing a null filter on {collection}.{condition.field}")
            query = query.where(filter=FieldFilter(condition.field, condition.op, condition.value))
        if order_by:
            query = query.order_by(order_by)
        if limit is not None:
            query = query.limit(limit)
        self.stats.rpcs += 1
        results = [(snapshot.id, snapshot.to_dict() or {}) for snapshot in query.stream()]
        self.stats.reads += len(results)
        return results
