"""The publisher models the stand-in serves, with the per-model rules Google documents for them.

Sources (docs/event-text.md lists them with the rule each one gives):
- Gemini 3.6 Flash model page and developer guide (docs.cloud.google.com/gemini-enterprise-agent-platform/
  models/gemini/3-6-flash and .../models/guides/gemini-3-6-flash): model id, launch stage, 65,536 output tokens,
  thinking levels MINIMAL/LOW/MEDIUM/HIGH (default MEDIUM), locations global and multi-region, custom
  temperature/topK/topP ignored, frequency/presence penalties refused, a last turn with role model refused.
- The same guide's comparison table: gemini-3.5-flash (GA, same levels, default MEDIUM) and
  gemini-3.1-pro-preview (preview, LOW/MEDIUM/HIGH, default HIGH, global only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

THINKING_LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class PublisherModel:
    model_id: str
    launch_stage: str
    thinking_levels: tuple[str, ...]
    default_thinking_level: str
    max_output_tokens: int = 65_536
    #: None: every location serves it.
    locations: frozenset[str] | None = None
    #: Gemini 3.6 Flash: custom temperature, topK and topP are accepted and ignored.
    ignores_sampling: bool = False
    #: Gemini 3.6 Flash: custom frequency and presence penalties are refused.
    refuses_penalties: bool = False
    #: Gemini 3.6 Flash: a request whose last turn has role "model" is refused.
    refuses_model_last_turn: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    def resource(self) -> dict[str, object]:
        """The PublisherModel resource publishers.models.get answers (the fields google-genai reads)."""
        return {
            "name": f"publishers/google/models/{self.model_id}",
            "versionId": "default",
            "openSourceCategory": "PROPRIETARY",
            "launchStage": self.launch_stage,
            "publisherModelTemplate": (
                f"projects/{{project}}/locations/{{location}}/publishers/google/models/{self.model_id}@default"
            ),
        }


_MULTI_REGION = frozenset({"global", "us", "eu"})

KNOWN_MODELS: dict[str, PublisherModel] = {
    model.model_id: model
    for model in (
        PublisherModel(
            "gemini-3.6-flash",
            "GA",
            THINKING_LEVELS,
            "MEDIUM",
            locations=_MULTI_REGION,
            ignores_sampling=True,
            refuses_penalties=True,
            refuses_model_last_turn=True,
        ),
        PublisherModel("gemini-3.5-flash", "GA", THINKING_LEVELS, "MEDIUM"),
        PublisherModel(
            "gemini-3.1-pro-preview",
            "PUBLIC_PREVIEW",
            ("LOW", "MEDIUM", "HIGH"),
            "HIGH",
            locations=frozenset({"global"}),
        ),
    )
}


def extra_model(model_id: str) -> PublisherModel:
    """A model registered by a test or the admin API: GA, every level, every location, no special rules."""
    return PublisherModel(model_id, "GA", THINKING_LEVELS, "MEDIUM")
