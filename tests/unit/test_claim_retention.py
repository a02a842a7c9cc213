"""Claims carry expires_at, the field Terraform's Firestore TTL policy reads; without it they would pile up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.service.dispatch_context import CLAIM_RETENTION, CLAIMS, Claims

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def test_claims_and_takeovers_expire_long_after_any_retry_and_the_head_outlives_them() -> None:
    store = MemoryStore()
    claims = Claims(store, lease=timedelta(minutes=10))
    claims.acquire("c1", NOW, {"kind": "action"})
    claims.acquire("c1", LATER, {"kind": "action"})  # the first holder died: taken over
    claims.finish("c1", "sent")
    documents = dict(store.query(CLAIMS))
    assert documents["c1.g0"]["expires_at"] == NOW + CLAIM_RETENTION
    assert documents["c1.g1"]["expires_at"] == LATER + CLAIM_RETENTION
    assert documents["c1"]["expires_at"] == LATER + CLAIM_RETENTION
    assert timedelta(days=7) <= CLAIM_RETENTION


def test_finished_and_released_claims_keep_their_expiry() -> None:
    store = MemoryStore()
    claims = Claims(store, lease=timedelta(minutes=10))
    claims.acquire("sent", NOW, {"kind": "action"})
    claims.finish("sent", "sent", reference="r")
    claims.acquire("outage", NOW, {"kind": "action"})
    claims.release("outage", NOW, "Fleet answered 503")
    claims.mark_first("dispatch", NOW, {"kind": "dispatch"})
    documents = dict(store.query(CLAIMS))
    assert set(documents) == {"sent", "sent.g0", "outage", "outage.g0", "dispatch"}
    for doc_id, document in documents.items():
        assert document["expires_at"] == NOW + CLAIM_RETENTION, doc_id
