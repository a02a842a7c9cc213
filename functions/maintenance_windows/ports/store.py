"""The store port: a small document database, the subset of Firestore the product relies on.

Only features the local emulator implements faithfully are part of it (see docs/data-model.md):
single-document get, batched get, atomic create (our claim primitive), update of an existing document
(never creating one), batched writes of at most 500 (creates among them), and equality/range/`in` queries
streamed without cursors or offsets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Document = dict[str, Any]
Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "array_contains"]
MAX_WRITES_PER_COMMIT = 500


class DocumentExists(Exception):
    """A commit's `create` found its document already there; the commit failed.

    Firestore applies none of that commit's writes; the local emulator applies the ones before the failing
    create. A caller that must know which documents it created marks them (see repository/hosts.py).
    """

    def __init__(self, collection: str, doc_id: str | None = None) -> None:
        super().__init__(f"{collection}/{doc_id or '?'} already exists")
        self.collection = collection
        self.doc_id = doc_id


@dataclass(frozen=True)
class Write:
    """set: replace the document; merge: set the given fields (nested maps merged); create: set, but fail the
    commit with DocumentExists if the document exists; delete."""

    kind: Literal["set", "merge", "create", "delete"]
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
        """Apply the writes, in commits of at most MAX_WRITES_PER_COMMIT, each commit atomic.

        Raises DocumentExists when a `create` finds its document; later commits are then not attempted."""
        ...

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]: ...
