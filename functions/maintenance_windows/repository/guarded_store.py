"""The store path guard: every collection and document id is checked before it becomes a store path.

Handlers validate the ids that arrive from outside first; this is the last line, for any id a future code
path forgets to check. A bad id raises domain.document_ids.InvalidDocumentId (the handlers answer 400),
before anything is read or written, instead of whatever the store's client would raise (a ValueError from
Firestore's path parsing, a 500).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maintenance_windows.domain.document_ids import checked_document_id
from maintenance_windows.ports.store import Document, DocumentStore, Filter, StoreStats, Write


class GuardedStore:
    """A DocumentStore that checks every path, then delegates to `inner`."""

    def __init__(self, inner: DocumentStore) -> None:
        self.inner = inner
        self.stats: StoreStats = inner.stats  # the same counters: the guard costs no round trip

    def get(self, collection: str, doc_id: str) -> Document | None:
        return self.inner.get(_collection(collection), checked_document_id(collection, doc_id))

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        checked = [checked_document_id(collection, doc_id) for doc_id in doc_ids]
        return self.inner.get_many(_collection(collection), checked)

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        return self.inner.create(_collection(collection), checked_document_id(collection, doc_id), data)

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        return self.inner.update(_collection(collection), checked_document_id(collection, doc_id), data)

    def commit(self, writes: Sequence[Write]) -> None:
        # All of them before any: a commit with one bad path must not apply its first chunks.
        for write in writes:
            checked_document_id(_collection(write.collection), write.doc_id)
        self.inner.commit(writes)

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        return self.inner.query(_collection(collection), filters, order_by=order_by, limit=limit)


def _collection(name: str) -> str:
    """A top-level collection name: the same rules as a document id (our names are constants; this is cheap)."""
    return checked_document_id("collection name", name)
