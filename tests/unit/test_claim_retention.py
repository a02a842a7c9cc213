"""Claims carry expires_at, the field Terraform's Firestore TTL policy reads; without it they would pile up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.service.dispatch_context import CLAIM_RETENTION, CLAIMS, Claims

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_claims_and_takeover_markers_expire_long_after_any_retry() -> None:
    store = MemoryStore()
    claims = Claims(store, lease=timedelta(minutes=10))
    claims.acquire("c1", NOW, {"kind": "action"})
    claims.acquire("c1", NOW + timedelta(hours=1), {"kind": "action"})  # the first holder died: taken over
    documents = dict(store.query(CLAIMS))
    assert documents["c1"]["expires_at"] == NOW + CLAIM_RETENTION
    assert documents["c1.g1"]["expires_at"] == NOW + timedelta(hours=1) + CLAIM_RETENTION
    assert timedelta(days=7) <= CLAIM_RETENTION
