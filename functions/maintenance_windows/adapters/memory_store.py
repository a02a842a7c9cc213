"""DocumentStore in process memory, with Firestore's semantics for the subset the product uses.

For fast unit tests and for benchmarks whose figures must not include the emulator's own cost.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from maintenance_windows.ports.store import (
    MAX_WRITES_PER_COMMIT,
    Document,
    DocumentExists,
    Filter,
    StoreStats,
    Write,
)

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda left, right: left == right,
    "!=": lambda left, right: left is not None and left != right,
    "<": lambda left, right: left is not None and left < right,
    "<=": lambda left, right: left is not None and left <= right,
    ">": lambda left, right: left is not None and left > right,
    ">=": lambda left, right: left is not None and left >= right,
    "in": lambda left, right: left in right,
    "array_contains": lambda left, right: isinstance(left, list) and right in left,
}

_MISSING = object()


def _field(document: Document, path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _deep_merge(target: Document, changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and value and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class MemoryStore:
    def __init__(self) -> None:
        self._collections: dict[str, dict[str, Document]] = {}
        self._lock = threading.Lock()
        self.stats = StoreStats()

    def _collection(self, name: str) -> dict[str, Document]:
        return self._collections.setdefault(name, {})

    def get(self, collection: str, doc_id: str) -> Document | None:
        with self._lock:
            self.stats.rpcs += 1
            self.stats.reads += 1
            found = self._collection(collection).get(doc_id)
            return copy.deepcopy(found) if found is not None else None

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        with self._lock:
            self.stats.rpcs += 1
            self.stats.reads += len(doc_ids)
            documents = self._collection(collection)
            return {doc_id: copy.deepcopy(documents[doc_id]) for doc_id in doc_ids if doc_id in documents}

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        with self._lock:
            self.stats.rpcs += 1
            self.stats.commits += 1
            documents = self._collection(collection)
            if doc_id in documents:
                return False
            documents[doc_id] = copy.deepcopy(dict(data))
            self.stats.writes += 1
            return True

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        with self._lock:
            self.stats.rpcs += 1
            self.stats.commits += 1
            document = self._collection(collection).get(doc_id)
            if document is None:
                return False
            document.update(copy.deepcopy(dict(data)))
            self.stats.writes += 1
            return True

    def commit(self, writes: Sequence[Write]) -> None:
        for start in range(0, len(writes), MAX_WRITES_PER_COMMIT):
            chunk = writes[start : start + MAX_WRITES_PER_COMMIT]
            with self._lock:
                self.stats.rpcs += 1
                self.stats.commits += 1
                # Firestore checks every precondition before it applies anything: all or nothing.
                for write in chunk:
                    if write.kind == "create" and write.doc_id in self._collection(write.collection):
                        raise DocumentExists(write.collection, write.doc_id)
                self.stats.writes += len(chunk)
                for write in chunk:
                    self._apply(write)

    def _apply(self, write: Write) -> None:
        documents = self._collection(write.collection)
        if write.kind == "delete":
            documents.pop(write.doc_id, None)
        elif write.kind in ("set", "create") or write.doc_id not in documents:
            documents[write.doc_id] = copy.deepcopy(write.data)
        else:
            _deep_merge(documents[write.doc_id], write.data)

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        for condition in filters:
            # Firestore's emulator matches everything for `== None`; refuse it here too, so tests catch it.
            if condition.value is None:
                raise ValueError(f"refusing a null filter on {collection}.{condition.field}")
        with self._lock:
            self.stats.rpcs += 1
            matches = [
                (doc_id, copy.deepcopy(document))
                for doc_id, document in self._collection(collection).items()
                if all(self._matches(document, condition) for condition in filters)
            ]
        if order_by:
            # Firestore leaves out documents that lack the order_by field.
            matches = [m for m in matches if _field(m[1], order_by) is not _MISSING]
            matches.sort(key=lambda item: _field(item[1], order_by))
        else:
            matches.sort(key=lambda item: item[0])
        if limit is not None:
            matches = matches[:limit]
        self.stats.reads += len(matches)
        return matches

    @staticmethod
    def _matches(document: Document, condition: Filter) -> bool:
        value = _field(document, condition.field)
        if value is _MISSING:
            return False
        return _COMPARATORS[condition.op](value, condition.value)
