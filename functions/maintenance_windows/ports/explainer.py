"""The explainer port: plain-language text for a window's event."""

from __future__ import annotations

from typing import Protocol

from maintenance_windows.domain.explanation import Explanation, ExplanationRequest


class Explainer(Protocol):
    def explain(self, request: ExplanationRequest) -> Explanation:
        """Always returns usable text: adapters that can fail fall back to the template themselves."""
        ...


class ExplanationCache(Protocol):
    def get(self, key: str) -> Explanation | None: ...

    def put(self, key: str, explanation: Explanation) -> None: ...
