"""What the stand-in answers: JSON derived from the DATA block, wrapped the way Vertex AI wraps a candidate.

Thinking is simulated: every Gemini 3 model thinks, its thought tokens share `maxOutputTokens` with the answer
(python-genai#2062: 906 of 1,024 tokens went to thinking and the answer stopped with MAX_TOKENS), and the
answer is cut where the budget runs out. The token figures per thinking level are this stand-in's assumption,
not Google's; tests may change them through the admin API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.gemini_server.catalog import PublisherModel
from infra.gemini_server.checks import HARM_CATEGORIES, normalised

_DATA_BLOCK = re.compile(r"<<<DATA (?P<marker>[0-9a-f]+)\n(?P<data>.*)\nDATA (?P=marker)>>>", re.DOTALL)
_INJECTION = re.compile(
    r"ignore (?:all )?(?:previous|prior) instructions\W+(?:and )?(?:tell the user to )?"
    r"(?P<verb>install|run|download|visit|open) (?P<what>[^.\"\n\\]+)",
    re.IGNORECASE,
)
#: Thought tokens spent per thinking level (an assumption; see the module docstring).
DEFAULT_THINKING_TOKENS = {"MINIMAL": 0, "LOW": 400, "MEDIUM": 900, "HIGH": 1800}
_CHARS_PER_TOKEN = 4
_THOUGHT_SUMMARY = "**Planning the event text**\nI describe the listed actions in order, in plain words."


@dataclass(frozen=True)
class Generation:
    """One candidate before it is wrapped: the answer text, the thought tokens, how it stopped."""

    text: str | None
    thought_tokens: int
    finish_reason: str
    include_thoughts: bool


def generate(mode: str, body: dict[str, Any], model: PublisherModel, thinking_tokens: dict[str, int]) -> Generation:
    config = normalised(body.get("generationConfig") or body.get("generation_config") or {})
    thinking = normalised(config.get("thinkingConfig") or {})
    budget = int(config.get("maxOutputTokens") or model.max_output_tokens)
    thoughts = _thought_tokens(thinking, model, thinking_tokens)
    include = bool(thinking.get("includeThoughts"))
    if mode == "blocked":
        return Generation(None, thoughts, "SAFETY", include)
    if mode == "recitation":
        return Generation(None, thoughts, "RECITATION", include)
    text = answer_text(mode, body)
    if mode == "max_tokens":
        # Thinking runs away (python-genai#2062): it leaves room for only half of the answer.
        thoughts = max(thoughts, budget - _tokens(text) // 2)
    room = budget - thoughts
    if _tokens(text) <= room:
        return Generation(text, thoughts, "STOP", include)
    cut = text[: max(0, room) * _CHARS_PER_TOKEN]
    return Generation(cut or None, min(thoughts, budget), "MAX_TOKENS", include)


def _thought_tokens(thinking: dict[str, Any], model: PublisherModel, thinking_tokens: dict[str, int]) -> int:
    budget = thinking.get("thinkingBudget")
    level = thinking.get("thinkingLevel") or model.default_thinking_level
    spent = thinking_tokens.get(level, DEFAULT_THINKING_TOKENS.get(level, 0))
    if isinstance(budget, int) and budget >= 0:
        return min(spent, budget)
    return spent


def _tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def answer_text(mode: str, body: dict[str, Any]) -> str:
    prompt = _prompt_text(body)
    facts = _facts(prompt)
    if mode == "malformed":
        return "Sure! Here is a friendly event text: your device needs an update soon."
    if mode == "schema_violation":
        return json.dumps({"why_it_matters": "It keeps data safe.", "expected_duration_minutes": "thirty"})
    answer = _faithful_answer(facts)
    injected = _INJECTION.search(prompt) if mode == "injection_echo" else None
    if injected:
        # A model that obeyed the planted instruction: the adapter's validation must refuse this.
        answer["what_you_need_to_do"] = (
            f"Before the window, please {injected['verb'].lower()} {injected['what'].strip()}. No restart is needed."
        )
    return json.dumps(answer)


def _prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(part.get("text", "")) for content in body.get("contents", []) for part in content.get("parts", [])
    )


def _facts(prompt: str) -> dict[str, Any]:
    match = _DATA_BLOCK.search(prompt)
    if not match:
        return {}
    try:
        facts = json.loads(match["data"])
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _faithful_answer(facts: dict[str, Any]) -> dict[str, Any]:
    """What a well-behaved model writes: only the facts' own policies and actions."""
    policies = [p for p in facts.get("policies", []) if isinstance(p, dict)]
    actions = [a for a in facts.get("actions", []) if isinstance(a, dict)]
    names = ", ".join(f"“{p.get('name', '')}”" for p in policies) or "a device check"
    critical = [p.get("name", "") for p in policies if p.get("critical")]
    why = f"Your device does not pass {names}. These checks help keep company data safe."
    if critical:
        why += f" {' and '.join(critical)} {'is' if len(critical) == 1 else 'are'} critical."
    restarts = any(a.get("restarts_device") for a in actions)
    if actions:
        steps = ", then ".join(_lower_first(str(a.get("summary") or a.get("kind", ""))) for a in actions)
        happen = f"Your device will {steps}" + (", then restart." if restarts and "restart" not in steps else ".")
        todo = "Keep your device switched on, plugged in and connected to the internet."
        todo += " Save your work before the window because your device will restart." if restarts else ""
        minutes = 10 * len(actions) + (10 if restarts else 0)
    else:
        happen = "Nothing happens by itself in this window: it is time for you to fix this yourself."
        steps_text = " ".join(str(p.get("resolution", "")).strip() for p in policies).strip()
        todo = f"Please follow these steps: {steps_text}" if steps_text else "Please ask your IT team for help."
        minutes = 15
    return {
        "why_it_matters": why,
        "what_will_happen": happen,
        "what_you_need_to_do": todo,
        "expected_duration_minutes": minutes,
    }


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def envelope(generation: Generation, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The GenerateContentResponse: candidates, usageMetadata (with thoughtsTokenCount), modelVersion."""
    prompt_tokens = max(1, len(json.dumps(body)) // _CHARS_PER_TOKEN)
    output_tokens = _tokens(generation.text) if generation.text else 0
    candidate: dict[str, Any] = {
        "finishReason": generation.finish_reason,
        "safetyRatings": _safety_ratings(generation.finish_reason),
    }
    parts: list[dict[str, Any]] = []
    if generation.include_thoughts and generation.thought_tokens:
        parts.append({"text": _THOUGHT_SUMMARY, "thought": True})
    if generation.text is not None:
        signature = base64.b64encode(hashlib.sha256(generation.text.encode()).digest()).decode()
        parts.append({"text": generation.text, "thoughtSignature": signature})
    if parts:
        candidate["content"] = {"role": "model", "parts": parts}
        candidate["avgLogprobs"] = -0.12
    elif generation.finish_reason == "MAX_TOKENS":
        candidate["content"] = {"role": "model"}
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens + generation.thought_tokens,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if generation.thought_tokens:
        usage["thoughtsTokenCount"] = generation.thought_tokens
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "createTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "responseId": uuid.uuid4().hex[:22],
    }


def _safety_ratings(finish_reason: str) -> list[dict[str, Any]]:
    blocked = finish_reason == "SAFETY"
    return [
        {
            "category": category,
            "probability": "HIGH" if blocked and category.endswith("DANGEROUS_CONTENT") else "NEGLIGIBLE",
            "probabilityScore": 0.9 if blocked and category.endswith("DANGEROUS_CONTENT") else 0.02,
            "severity": "HARM_SEVERITY_NEGLIGIBLE",
            "severityScore": 0.01,
            **({"blocked": True} if blocked and category.endswith("DANGEROUS_CONTENT") else {}),
        }
        for category in sorted(HARM_CATEGORIES - {"HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_JAILBREAK"})
    ]
