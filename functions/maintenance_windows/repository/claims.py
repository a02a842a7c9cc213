"""Claims: exclusive, expiring ownership of a piece of work, built on atomic create() alone.

The one conditional write the Firestore emulator honours that can take a claim is create(), which fails when
the document exists (update-time preconditions are ignored there and transactions are not isolated; update()'s
exists precondition is honoured, but only keeps a deleted document deleted). So a
claim is a chain of generation documents `<id>.g0`, `<id>.g1`, ...: each is created with create() by the
one contender that takes the claim at that generation, and written afterwards by that holder alone. The
newest generation is the claim's state:

- `claimed`, its `held_until` not passed: someone holds it, the answer is BUSY;
- `released` by its holder, or `claimed` past `held_until` (the holder died): a contender takes it over
  by creating the next generation, which exactly one contender can do;
- `finished`: the work is done, and no later generation is ever held.

A head document `<id>` carries a hint, the newest generation its writer knew, so that a contender need not
read the chain from the start, and a copy of the result once the claim is finished. Holders write it when
they release or finish. Its writes are unconditional, so the hint lags (while a claim is held; for good
when its holder died) and can even step back (a slow writer):
readers probe forward from it, a few generations per read, to the end of the chain. A probe that runs
long moves the hint forward before answering BUSY, so a stale hint costs reads, never a claim stuck BUSY.

release() and finish() take the Holder that acquire() returned. A former holder, whose claim expired and
was taken over, finds the next generation and does nothing, and is told so (False).

Finishing can race a takeover: the holder finishes just as its lease runs out and a contender takes over.
Both sides write, then read what the other wrote: the finisher marks its generation finished, then looks
for a successor; the successor creates its generation, then reads the one it displaced. One of them sees
the other. Either the successor sees `finished` and adopts the result (it never holds the claim), or the
finisher sees the successor and is told False: it held past its lease, so its work may be done again.
finish() answering True therefore means the work is never redone.

Every generation carries `expires_at`, `retention` after its claim, for Firestore's TTL policy; so does
the head, as long as the newest generation it names (unless the book keeps its heads: leases).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Final

from maintenance_windows.ports.store import Document, DocumentStore, Write

#: Generations read per round trip when probing forward from the head's hint (the hint is rarely behind).
PROBE_WINDOW = 4
#: Round trips one acquire() spends probing before it moves the hint forward and answers BUSY.
MAX_PROBES = 8


class ClaimStatus(StrEnum):
    """The status a generation document records."""

    CLAIMED = "claimed"
    RELEASED = "released"  # given back by its holder: the next contender takes it over at once
    FINISHED = "finished"  # the work is done: terminal for the whole claim


class ClaimState(StrEnum):
    """What acquire() means for its caller."""

    ACQUIRED = "acquired"  # the caller holds the claim now
    FINISHED = "finished"  # done before: never redo it
    BUSY = "busy"  # someone else holds it, and their lease has not run out


class _Unread(Enum):
    UNREAD = "unread"


#: acquire(head=UNREAD): the caller has not read the head; acquire() reads it.
UNREAD: Final = _Unread.UNREAD

#: Fields the protocol owns; a result copied from one document to another leaves them behind.
_PROTOCOL_FIELDS = frozenset(
    {"claim_id", "generation", "status", "holder", "claimed_at", "held_until", "expires_at", "adopted_from"}
)


@dataclass(frozen=True)
class Holder:
    """The proof that the caller holds a claim: release() and finish() require it."""

    claim_id: str
    generation: int
    token: str
    held_until: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Claim:
    claim_id: str
    state: ClaimState
    #: ACQUIRED: the caller's generation; FINISHED: the result; BUSY: the holder's generation, if read.
    document: Mapping[str, Any]
    holder: Holder | None = None


@dataclass(frozen=True)
class ClaimView:
    """A claim as it stands (for inspection and tests): its newest generation and the derived status."""

    claim_id: str
    generation: int | None  # None: never claimed
    status: ClaimStatus | None
    document: Mapping[str, Any]

    @property
    def doc_id(self) -> str | None:
        return None if self.generation is None else generation_id(self.claim_id, self.generation)


def generation_id(claim_id: str, generation: int) -> str:
    return f"{claim_id}.g{generation}"


@dataclass(frozen=True)
class _Chain:
    """What a probe read: the head, and the generations from the head's hint on, by number."""

    head: Document | None
    start: int
    generations: dict[int, Document]
    complete: bool  # reached the end of the chain

    @property
    def newest(self) -> int | None:
        return max(self.generations, default=None)

    def finished(self) -> Document | None:
        if self.head is not None and self.head.get("status") == ClaimStatus.FINISHED:
            return self.head
        done = [number for number, doc in self.generations.items() if doc.get("status") == ClaimStatus.FINISHED]
        return self.generations[max(done)] if done else None


def _new_token() -> str:
    return secrets.token_hex(8)


class ClaimBook:
    """The claims kept in one collection."""

    def __init__(
        self,
        store: DocumentStore,
        collection: str,
        *,
        retention: timedelta,
        expire_heads: bool = True,
        new_token: Callable[[], str] = _new_token,
    ) -> None:
        self._store = store
        self._collection = collection
        self._retention = retention
        self._expire_heads = expire_heads
        self._new_token = new_token

    def lookup(self, claim_ids: Sequence[str]) -> dict[str, Document]:
        """The heads that exist among `claim_ids`, in one read: acquire(head=...) then skips reads."""
        return self._store.get_many(self._collection, list(dict.fromkeys(claim_ids)))

    def acquire(
        self,
        claim_id: str,
        now: datetime,
        held_until: datetime,
        fields: Mapping[str, Any] | None = None,
        *,
        head: Mapping[str, Any] | _Unread | None = UNREAD,
    ) -> Claim:
        """Hold the claim until `held_until`, unless it is finished or someone else holds it.

        `head`: the head as lookup() read it; None when it did not exist (a fresh claim is likely, so its
        first generation is created straight away); UNREAD to have it read here.
        """
        extra = dict(fields or {})
        if head is UNREAD:
            head = self._store.get(self._collection, claim_id)
        if head is None:
            holder = self._holder(claim_id, 0, now, held_until)
            document = self._generation(holder, now, extra)
            if self._store.create(self._collection, generation_id(claim_id, 0), document):
                return Claim(claim_id, ClaimState.ACQUIRED, document, holder)
            head = self._store.get(self._collection, claim_id)
        if head is not None and head.get("status") == ClaimStatus.FINISHED:
            return Claim(claim_id, ClaimState.FINISHED, head)
        chain = self._probe(claim_id, dict(head) if head is not None else None)
        if not chain.complete:
            self._advance_hint(claim_id, chain)
            return Claim(claim_id, ClaimState.BUSY, chain.generations.get(chain.newest or 0, {}))
        return self._decide(claim_id, chain, now, held_until, extra)

    def release(self, holder: Holder, **fields: Any) -> bool:
        """Give the claim back (the next contender takes it over at once). False: not the holder any more."""
        if not self._still_holds(holder):
            return False
        mine = {**_result(fields), "status": ClaimStatus.RELEASED.value}
        self._store.commit([self._generation_write(holder, mine), self._head_write(holder)])
        return True

    def finish(self, holder: Holder, **result: Any) -> bool:
        """Mark the work done, with its result. True: never redone. False: a successor had taken over."""
        if not self._still_holds(holder):
            return False
        done = {**_result(result), "status": ClaimStatus.FINISHED.value}
        self._store.commit([self._generation_write(holder, done), self._head_write(holder, done)])
        # Written, then read: see the module docstring for why this settles a race with a takeover.
        successor = generation_id(holder.claim_id, holder.generation + 1)
        return self._store.get(self._collection, successor) is None

    def mark_once(self, claim_id: str, now: datetime, fields: Mapping[str, Any]) -> bool:
        """True the first time `claim_id` is marked: a record that something happened, never released."""
        marker = {**fields, "claimed_at": now, "expires_at": now + self._retention}
        return self._store.create(self._collection, claim_id, marker)

    def inspect(self, claim_id: str) -> ClaimView:
        """The claim's newest generation and status, read to the end of the chain."""
        head = self._store.get(self._collection, claim_id)
        chain = self._probe(claim_id, head)
        while not chain.complete:
            more = self._probe(claim_id, {"generation": chain.newest or 0})
            chain = _Chain(head, chain.start, {**chain.generations, **more.generations}, more.complete)
        newest = chain.newest
        finished = chain.finished()
        if newest is None:
            status = ClaimStatus.FINISHED if finished is not None else None
            return ClaimView(claim_id, None, status, finished or {})
        document = chain.generations[newest]
        status = ClaimStatus.FINISHED if finished is not None else ClaimStatus(document["status"])
        return ClaimView(claim_id, newest, status, document)

    # ---- the protocol ----------------------------------------------------------------------------------

    def _decide(
        self, claim_id: str, chain: _Chain, now: datetime, held_until: datetime, fields: dict[str, Any]
    ) -> Claim:
        finished = chain.finished()
        if finished is not None:
            return Claim(claim_id, ClaimState.FINISHED, finished)
        newest = chain.newest
        if newest is None:
            # The head names a generation that existed (only holders and probes write it), since removed
            # by TTL: never reuse its number.
            first = chain.start + 1 if chain.head is not None else 0
            return self._take_over(claim_id, first, None, now, held_until, fields)
        current = chain.generations[newest]
        if current.get("status") == ClaimStatus.CLAIMED and _held(current, now):
            return Claim(claim_id, ClaimState.BUSY, current)
        return self._take_over(claim_id, newest + 1, current, now, held_until, fields)

    def _take_over(
        self,
        claim_id: str,
        generation: int,
        displaced: Document | None,
        now: datetime,
        held_until: datetime,
        fields: dict[str, Any],
    ) -> Claim:
        holder = self._holder(claim_id, generation, now, held_until)
        document = self._generation(holder, now, fields)
        if not self._store.create(self._collection, generation_id(claim_id, generation), document):
            return Claim(claim_id, ClaimState.BUSY, displaced or {})  # another contender took this generation
        if displaced is not None and displaced.get("status") == ClaimStatus.CLAIMED:
            # Its holder's lease ran out, but it may be finishing right now: created, then read.
            seen = self._store.get_many(self._collection, [claim_id, generation_id(claim_id, generation - 1)])
            done = next((doc for doc in seen.values() if doc.get("status") == ClaimStatus.FINISHED), None)
            if done is not None:
                self._adopt(holder, done)
                return Claim(claim_id, ClaimState.FINISHED, done)
        # The head's hint stays one generation behind until our release or finish: probes read past it.
        return Claim(claim_id, ClaimState.ACQUIRED, document, holder)

    def _adopt(self, holder: Holder, done: Document) -> None:
        """Our generation records the result it found, so that it is never taken for a claim to redo."""
        result = {**_result(done), "status": ClaimStatus.FINISHED.value}
        adopted = {**result, "adopted_from": done.get("generation")}
        self._store.commit([self._generation_write(holder, adopted), self._head_write(holder, result)])

    def _still_holds(self, holder: Holder) -> bool:
        mine = generation_id(holder.claim_id, holder.generation)
        successor = generation_id(holder.claim_id, holder.generation + 1)
        found = self._store.get_many(self._collection, [mine, successor])
        document = found.get(mine)
        return (
            document is not None
            and document.get("holder") == holder.token
            and document.get("status") == ClaimStatus.CLAIMED
            and successor not in found
        )

    def _probe(self, claim_id: str, head: Document | None) -> _Chain:
        start = int(head.get("generation", 0)) if head is not None else 0
        found: dict[int, Document] = {}
        first = start
        for _ in range(MAX_PROBES):
            numbers = range(first, first + PROBE_WINDOW)
            read = self._store.get_many(self._collection, [generation_id(claim_id, n) for n in numbers])
            found.update({n: read[generation_id(claim_id, n)] for n in numbers if generation_id(claim_id, n) in read})
            if generation_id(claim_id, numbers[-1]) not in read:
                return _Chain(head, start, found, complete=True)
            first += PROBE_WINDOW
        return _Chain(head, start, found, complete=False)

    def _advance_hint(self, claim_id: str, chain: _Chain) -> None:
        newest = chain.newest
        if newest is None:
            return
        hint: Document = {"generation": newest}
        if self._expire_heads and "expires_at" in chain.generations[newest]:
            hint["expires_at"] = chain.generations[newest]["expires_at"]
        self._store.commit([Write("merge", self._collection, claim_id, hint)])

    # ---- documents -------------------------------------------------------------------------------------

    def _holder(self, claim_id: str, generation: int, now: datetime, held_until: datetime) -> Holder:
        return Holder(claim_id, generation, self._new_token(), held_until, now + self._retention)

    def _generation(self, holder: Holder, now: datetime, fields: Mapping[str, Any]) -> Document:
        return {
            **fields,
            "claim_id": holder.claim_id,
            "generation": holder.generation,
            "status": ClaimStatus.CLAIMED.value,
            "holder": holder.token,
            "claimed_at": now,
            "held_until": holder.held_until,
            "expires_at": holder.expires_at,
        }

    def _generation_write(self, holder: Holder, data: Mapping[str, Any]) -> Write:
        return Write("merge", self._collection, generation_id(holder.claim_id, holder.generation), dict(data))

    def _head_write(self, holder: Holder, extra: Mapping[str, Any] | None = None) -> Write:
        head: Document = {**(extra or {}), "generation": holder.generation}
        if self._expire_heads:
            head["expires_at"] = holder.expires_at
        return Write("merge", self._collection, holder.claim_id, head)


def _held(document: Mapping[str, Any], now: datetime) -> bool:
    held_until = document.get("held_until")
    return held_until is not None and held_until > now


def _result(fields: Mapping[str, Any]) -> Document:
    return {key: value for key, value in fields.items() if key not in _PROTOCOL_FIELDS}
