"""Serves one explanation per distinct set of policies and actions, however many windows need it.

The key (domain.explanation.explanation_cache_key) covers exactly what reaches the model, so 10,000 people
with the same failing policies cost one model call. Only AI text is stored: a template fallback is cheap to
rebuild and storing it would keep a later run from getting AI text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from maintenance_windows.domain.explanation import (
    PROMPT_VERSION,
    Explanation,
    ExplanationRequest,
    ExplanationSource,
    explanation_cache_key,
)
from maintenance_windows.observability import get_logger
from maintenance_windows.ports.explainer import Explainer, ExplanationCache

_logger = get_logger(__name__)


class _KeyedLocks:
    """One lock per key while anyone holds or waits for it; forgotten afterwards so the map stays small."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class CachingExplainer:
    """Explainer port: cache first, then one call per key at a time in this process."""

    def __init__(
        self,
        inner: Explainer,
        cache: ExplanationCache,
        model_id: str,
        *,
        prompt_version: str = PROMPT_VERSION,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._model_id = model_id
        self._prompt_version = prompt_version
        self._locks = _KeyedLocks()

    def explain(self, request: ExplanationRequest) -> Explanation:
        key = explanation_cache_key(request, model_id=self._model_id, prompt_version=self._prompt_version)
        cached = self._lookup(key)
        if cached is not None:
            return cached
        # Identical concurrent requests wait here for the first answer rather than each calling the model.
        with self._locks.hold(key):
            cached = self._lookup(key)
            if cached is not None:
                return cached
            explanation = self._inner.explain(request)
            if explanation.source is ExplanationSource.AI:
                self._store(key, explanation)
            return explanation

    def _lookup(self, key: str) -> Explanation | None:
        try:
            return self._cache.get(key)
        except Exception as error:  # noqa: BLE001  # whatever the backend raises, a cache outage costs a model call
            _logger.warning("explanation cache read failed", error_type=type(error).__name__)
            return None

    def _store(self, key: str, explanation: Explanation) -> None:
        try:
            self._cache.put(key, explanation)
        except Exception as error:  # noqa: BLE001  # whatever the backend raises, the text is still good
            _logger.warning("explanation cache write failed", error_type=type(error).__name__)
