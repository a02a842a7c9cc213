"""CachingExplainer over the Gemini stand-in: one model call per distinct policy set, in memory and Firestore."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.gemini_server import RunningGeminiServer
from maintenance_windows.adapters.caching_explainer import CachingExplainer
from maintenance_windows.adapters.firestore_explanation_cache import COLLECTION, FirestoreExplanationCache
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.gemini_explainer import GeminiExplainer
from maintenance_windows.adapters.memory_explanation_cache import MemoryExplanationCache
from maintenance_windows.config.settings import Settings
from maintenance_windows.domain.explanation import (
    ActionBrief,
    Explanation,
    ExplanationRequest,
    ExplanationSource,
    FallbackReason,
    PolicyBrief,
    explanation_cache_key,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = "gemini-3.6-flash"
WINDOWS = 1000


def calls(server: RunningGeminiServer) -> int:
    count: int = requests.get(f"{server.base_url}_admin/requests", timeout=5).json()["count"]
    return count


def set_mode(server: RunningGeminiServer, mode: str, **options: Any) -> None:
    requests.post(f"{server.base_url}_admin/mode", json={"mode": mode, **options}, timeout=5).raise_for_status()


def gemini_explainer(server: RunningGeminiServer) -> GeminiExplainer:
    env = {"MW_GEMINI_BASE_URL": server.base_url, "MW_GEMINI_MODEL": MODEL, "MW_GEMINI_TIMEOUT_SECONDS": "5"}
    return GeminiExplainer.from_settings(Settings.from_env(env))


def window_request(n: int, **changes: object) -> ExplanationRequest:
    """The same policies and actions for everyone; the person, device, time and deadline differ."""
    fields: dict[str, object] = {
        "organization": "Acme",
        "window_local": f"Day {n % 5}, {9 + n % 8}:00 (Europe/Berlin)",
        "deadline_local": f"Monday {1 + n % 28} December",
        "host_names": [f"host-{n}"],
        "platforms": ["darwin"],
        "policies": [
            PolicyBrief(policy_id=3, name="macOS up to date", description="Checks the macOS version."),
            PolicyBrief(policy_id=9, name="Firewall on", description="Checks the firewall.", critical=True),
        ],
        "actions": [ActionBrief(kind="os_update", summary="install the macOS update", restarts_device=True)],
        "contact": f"helpdesk-{n}@acme.example",
    }
    return ExplanationRequest.model_validate(fields | changes)


def test_a_thousand_windows_cost_one_model_call(server: RunningGeminiServer) -> None:
    caching = CachingExplainer(gemini_explainer(server), MemoryExplanationCache(), MODEL)
    texts = {caching.explain(window_request(n)) for n in range(WINDOWS)}
    assert calls(server) == 1
    [text] = texts
    assert text.source is ExplanationSource.AI


def test_a_thousand_concurrent_windows_cost_one_model_call(server: RunningGeminiServer) -> None:
    set_mode(server, "slow", delay_seconds=0.3)  # keep the first call in flight while the others arrive
    caching = CachingExplainer(gemini_explainer(server), MemoryExplanationCache(), MODEL)
    with ThreadPoolExecutor(max_workers=32) as pool:
        texts = list(pool.map(caching.explain, (window_request(n) for n in range(WINDOWS))))
    assert calls(server) == 1
    assert len(texts) == WINDOWS
    assert {text.source for text in texts} == {ExplanationSource.AI}


def test_each_distinct_policy_set_and_language_is_one_call(server: RunningGeminiServer) -> None:
    caching = CachingExplainer(gemini_explainer(server), MemoryExplanationCache(), MODEL)
    other_policy = [PolicyBrief(policy_id=4, name="Screen lock", description="Checks the screen lock.")]
    for n in range(30):
        caching.explain(window_request(n))
        caching.explain(window_request(n, language="de"))
        caching.explain(window_request(n, policies=other_policy))
    assert calls(server) == 3


def test_template_fallbacks_are_not_cached(server: RunningGeminiServer) -> None:
    cache = MemoryExplanationCache()
    caching = CachingExplainer(gemini_explainer(server), cache, MODEL)
    set_mode(server, "malformed")
    assert caching.explain(window_request(1)).fallback_reason == FallbackReason.MALFORMED_JSON
    assert len(cache) == 0
    set_mode(server, "normal")
    assert caching.explain(window_request(2)).source is ExplanationSource.AI  # a later run gets AI text
    assert caching.explain(window_request(3)).source is ExplanationSource.AI
    assert calls(server) == 2
    assert len(cache) == 1


class BrokenCache:
    """An ExplanationCache whose backend is down."""

    def get(self, key: str) -> Explanation | None:  # noqa: ARG002  # the port's signature
        raise ConnectionError("cache down")

    def put(self, key: str, explanation: Explanation) -> None:  # noqa: ARG002  # the port's signature
        raise ConnectionError("cache down")


def test_a_broken_cache_costs_calls_not_events(server: RunningGeminiServer) -> None:
    caching = CachingExplainer(gemini_explainer(server), BrokenCache(), MODEL)
    assert caching.explain(window_request(1)).source is ExplanationSource.AI
    assert caching.explain(window_request(2)).source is ExplanationSource.AI
    assert calls(server) == 2


# --- Firestore ---------------------------------------------------------------------------------------------


@pytest.fixture
def firestore_client(store: FirestoreStore) -> Any:
    """The stack's Firestore emulator, wiped for this test (tests/conftest.py)."""
    return store.client


def test_firestore_cache_round_trip(firestore_client: Any) -> None:
    cache = FirestoreExplanationCache(firestore_client)
    text = Explanation(
        why_it_matters="Updates fix security holes.",
        what_will_happen="Your Mac will install the update, then restart.",
        what_you_need_to_do="Leave it on and plugged in.",
        expected_duration_minutes=40,
        source=ExplanationSource.AI,
    )
    assert cache.get("round-trip") is None
    cache.put("round-trip", text)
    assert cache.get("round-trip") == text
    stored = firestore_client.collection(COLLECTION).document("round-trip").get().to_dict()
    assert stored["created_at"] is not None
    assert stored["source"] == "ai"


def test_firestore_cache_treats_an_unreadable_document_as_a_miss(firestore_client: Any) -> None:
    firestore_client.collection(COLLECTION).document("old-shape").set({"text": "from an older version"})
    assert FirestoreExplanationCache(firestore_client).get("old-shape") is None


def test_firestore_cache_is_shared_across_instances(server: RunningGeminiServer, firestore_client: Any) -> None:
    """Two function instances (two CachingExplainers) share Firestore: the second makes no model call."""
    first = CachingExplainer(gemini_explainer(server), FirestoreExplanationCache(firestore_client), MODEL)
    second = CachingExplainer(gemini_explainer(server), FirestoreExplanationCache(firestore_client), MODEL)
    request = window_request(1, organization="Shared Corp")
    made = first.explain(request)
    assert second.explain(window_request(2, organization="Shared Corp")) == made
    assert calls(server) == 1
    key = explanation_cache_key(request, model_id=MODEL)
    assert firestore_client.collection(COLLECTION).document(key).get().exists
