"""Every finish reason other than STOP is named, never read as text (Vertex AI's Candidate.FinishReason)."""

from __future__ import annotations

import json

import pytest
from google.genai import types

from maintenance_windows.adapters import gemini_explainer
from maintenance_windows.domain.explanation import ExplanationRequest, FallbackReason, PolicyBrief

ANSWER = json.dumps(
    {
        "why_it_matters": "Your device does not pass “Firewall on”. These checks help keep company data safe.",
        "what_will_happen": "Nothing happens by itself in this window: it is time for you to fix this yourself.",
        "what_you_need_to_do": "Please follow these steps: turn the firewall on in System Settings.",
        "expected_duration_minutes": 15,
    }
)
REQUEST = ExplanationRequest(
    organization="Acme",
    window_local="Tuesday 12:00",
    deadline_local="Monday",
    policies=[PolicyBrief(policy_id=1, name="Firewall on", resolution="Turn the firewall on in System Settings.")],
)


def response(finish: types.FinishReason | None, text: str | None = ANSWER) -> types.GenerateContentResponse:
    parts = [types.Part(text="thinking about it", thought=True)]
    if text is not None:
        parts.append(types.Part(text=text))
    candidate = types.Candidate(content=types.Content(role="model", parts=parts), finish_reason=finish)
    return types.GenerateContentResponse(candidates=[candidate])


def rejection(answer: types.GenerateContentResponse) -> gemini_explainer._Rejection:
    with pytest.raises(gemini_explainer._Rejection) as raised:
        gemini_explainer._accept(answer, REQUEST)
    return raised.value


def test_a_complete_answer_passes_and_its_thought_part_is_ignored() -> None:
    assert gemini_explainer._accept(response(types.FinishReason.STOP), REQUEST).expected_duration_minutes == 15


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        (types.FinishReason.MAX_TOKENS, FallbackReason.MAX_TOKENS),
        (types.FinishReason.RECITATION, FallbackReason.RECITATION),
        (types.FinishReason.SAFETY, FallbackReason.BLOCKED),
        (types.FinishReason.BLOCKLIST, FallbackReason.BLOCKED),
        (types.FinishReason.SPII, FallbackReason.BLOCKED),
        (types.FinishReason.OTHER, FallbackReason.UNFINISHED),
        (types.FinishReason.LANGUAGE, FallbackReason.UNFINISHED),
    ],
)
def test_other_finish_reasons_are_refused_even_with_text_that_parses(
    finish: types.FinishReason, reason: FallbackReason
) -> None:
    refused = rejection(response(finish))
    assert (refused.reason, refused.finish_reason) == (reason, finish.value)


def test_a_blocked_prompt_has_no_candidates() -> None:
    blocked = types.GenerateContentResponse(
        candidates=[],
        prompt_feedback=types.GenerateContentResponsePromptFeedback(block_reason=types.BlockedReason.SAFETY),
    )
    refused = rejection(blocked)
    assert refused.reason is FallbackReason.BLOCKED
    assert refused.finish_reason == "prompt_blocked:SAFETY"
