"""The store port: a small document database, the subset of Firestore the product relies on.

Only features the local emulator implements faithfully are part of it (see docs/data-model.md):
single-document get, batched get, atomic create (our claim primitive), update of an existing document
(never creating one), batched writes of at most 500, and equality/range/`in` queries streamed without
cursors or offsets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Document = dict[str, Any]
Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "array_contains"]
MAX_WRITES_PER_COMMIT = 500


@dataclass(frozen=True)
class Write:
    """set: replace the document; merge: set the given fields (nested maps merged); delete."""

    kind: Literal["set", "merge", "delete"]
    collection: str
    doc_id: str
    data: Document = field(default_factory=dict)


@dataclass(frozen=True)
class Filter:
    field: str
    op: Operator
    value: Any


@dataclass
class StoreStats:
    """What the store cost: counted because the emulator's wall time is not representative."""

    rpcs: int = 0
    commits: int = 0
    writes: int = 0
    reads: int = 0

    def snapshot(self) -> dict[str, int]:
        return {"rpcs": self.rpcs, "commits": self.commits, "writes": self.writes, "reads": self.reads}


class DocumentStore(Protocol):
    stats: StoreStats

    def get(self, collection: str, doc_id: str) -> Document | None: ...

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, Document]:
        """The documents that exist, by id, in one round trip per call."""
        ...

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        """Atomically create; False when the document already exists. This is how work is claimed."""
        ...

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> bool:
        """Replace the given top-level fields of an existing document, in one write; False, and nothing
        written, when the document does not exist.

        For fields written after a slow step, into a document someone else may delete meanwhile: a merge
        would create the document again with those fields alone.
        """
        ...

    def commit(self, writes: Sequence[Write]) -> None:
        """Apply the writes, in commits of at most MAX_WRITES_PER_COMMIT, each commit atomic."""
        ...

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]: ...
