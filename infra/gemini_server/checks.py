"""What Vertex AI refuses in a generateContent request, checked the way it checks (400 INVALID_ARGUMENT).

Field lists come from Vertex AI's REST reference (v1beta1 GenerateContentRequest and GenerationConfig) and the
GenerationConfig google-genai sends for Vertex; per-model rules from the model's own page (catalog.py).
"""

from __future__ import annotations

from typing import Any

from infra.gemini_server.catalog import PublisherModel

_TOP_LEVEL = {"contents", "systemInstruction", "generationConfig", "safetySettings", "tools", "toolConfig"}
_TOP_LEVEL |= {"labels", "cachedContent"}
#: Vertex AI v1beta1 GenerationConfig: these names and no others (an unknown one is a 400, as proto JSON parsing
#: refuses it). google-genai's GenerationConfig also has response_format, translation_config and
#: audio_transcription_config, which Vertex's reference does not list: refused here until it does.
GENERATION_CONFIG_FIELDS = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "responseLogprobs",
        "logprobs",
        "presencePenalty",
        "frequencyPenalty",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "routingConfig",
        "modelConfig",
        "audioTimestamp",
        "responseModalities",
        "mediaResolution",
        "speechConfig",
        "thinkingConfig",
        "enableAffectiveDialog",
        "imageConfig",
    }
)
_THINKING_CONFIG_FIELDS = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
_MIME_TYPES = {"text/plain", "application/json", "text/x.enum"}
HARM_CATEGORIES = {
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
    "HARM_CATEGORY_JAILBREAK",
}
_THRESHOLDS = {
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
}
_SCHEMA_TYPES = {"OBJECT", "STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY"}


class BadRequest(Exception):
    def __init__(self, field_path: str, description: str) -> None:
        super().__init__(description)
        self.field_path = field_path
        self.description = description


def camel(key: str) -> str:
    """Proto JSON accepts field names in snake_case and lowerCamelCase alike; so does this stand-in."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def normalised(obj: dict[str, Any]) -> dict[str, Any]:
    return {camel(key): value for key, value in obj.items()}


def check_request(body: dict[str, Any], model: PublisherModel) -> None:
    body = normalised(body)
    _unknown_fields(body, _TOP_LEVEL, "")
    _check_contents(body.get("contents"), model)
    if "systemInstruction" in body:
        _check_content(body["systemInstruction"], "system_instruction", role_required=False)
    if "generationConfig" in body:
        _check_generation_config(body["generationConfig"], model)
    if "safetySettings" in body:
        _check_safety_settings(body["safetySettings"])


def _unknown_fields(obj: dict[str, Any], known: set[str] | frozenset[str], where: str) -> None:
    for key in obj:
        if key not in known:
            location = f" at '{where}'" if where else ""
            message = f'Invalid JSON payload received. Unknown name "{key}"{location}: Cannot find field.'
            raise BadRequest(f"{where}.{key}" if where else key, message)


def _check_contents(contents: Any, model: PublisherModel) -> None:
    if not isinstance(contents, list) or not contents:
        raise BadRequest("contents", "Unable to submit request because it has an empty contents field.")
    for index, content in enumerate(contents):
        _check_content(content, f"contents[{index}]", role_required=True)
    if model.refuses_model_last_turn and normalised(contents[-1]).get("role") == "model":
        raise BadRequest(
            f"contents[{len(contents) - 1}].role",
            f"{model.model_id} does not support requests whose last turn has the role model.",
        )


def _check_content(content: Any, where: str, *, role_required: bool) -> None:
    if not isinstance(content, dict):
        raise BadRequest(where, f"Invalid value at '{where}': expected an object.")
    content = normalised(content)
    _unknown_fields(content, {"role", "parts"}, where)
    role = content.get("role")
    if (role_required or role is not None) and role not in ("user", "model"):
        raise BadRequest(f"{where}.role", "Please use a valid role: user, model.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"{where}.parts", f"Unable to submit request because {where} has no parts.")
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(normalised(part).get("text"), str):
            raise BadRequest(f"{where}.parts[{index}]", "This stand-in accepts text parts only.")


def _check_generation_config(config: Any, model: PublisherModel) -> None:
    if not isinstance(config, dict):
        raise BadRequest("generation_config", "Invalid value at 'generation_config': expected an object.")
    config = normalised(config)
    _unknown_fields(config, GENERATION_CONFIG_FIELDS, "generation_config")
    temperature = config.get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise BadRequest("generation_config.temperature", "temperature must be between 0 and 2.")
    _check_max_output_tokens(config.get("maxOutputTokens"), model)
    _check_penalties(config, model)
    if "thinkingConfig" in config:
        _check_thinking_config(config["thinkingConfig"], model)
    _check_response_format(config)


def _check_penalties(config: dict[str, Any], model: PublisherModel) -> None:
    if not model.refuses_penalties:
        return
    for penalty in ("presencePenalty", "frequencyPenalty"):
        if config.get(penalty) not in (None, 0, 0.0):
            raise BadRequest(
                f"generation_config.{penalty}", f"{model.model_id} does not support custom values for {penalty}."
            )


def _check_response_format(config: dict[str, Any]) -> None:
    mime = config.get("responseMimeType", "text/plain")
    if mime not in _MIME_TYPES:
        raise BadRequest("generation_config.response_mime_type", f"Unsupported response mime type: {mime}.")
    has_schema, has_json_schema = "responseSchema" in config, "responseJsonSchema" in config
    if has_schema and has_json_schema:
        raise BadRequest("generation_config", "response_schema and response_json_schema cannot both be set.")
    if (has_schema or has_json_schema) and mime != "application/json":
        raise BadRequest(
            "generation_config.response_mime_type",
            "response_mime_type must be application/json when a response schema is set.",
        )
    if has_schema:
        _check_schema(config["responseSchema"], "generation_config.response_schema")


def _check_max_output_tokens(value: Any, model: PublisherModel) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= model.max_output_tokens:
        # Vertex AI's own wording for an out-of-range value.
        raise BadRequest(
            "generation_config.max_output_tokens",
            f"Unable to submit request because it has a maxOutputTokens value of {value} but the supported range "
            f"is from 1 (inclusive) to {model.max_output_tokens + 1} (exclusive). Update the value and try again.",
        )


def _check_thinking_config(thinking: Any, model: PublisherModel) -> None:
    where = "generation_config.thinking_config"
    if not isinstance(thinking, dict):
        raise BadRequest(where, f"Invalid value at '{where}': expected an object.")
    thinking = normalised(thinking)
    _unknown_fields(thinking, _THINKING_CONFIG_FIELDS, where)
    level = thinking.get("thinkingLevel")
    if level is not None and thinking.get("thinkingBudget") is not None:
        # Gemini 3 guide: thinking_level and the legacy thinking_budget in one request is a 400.
        raise BadRequest(where, "thinking_level and thinking_budget cannot both be set.")
    if level is not None and level not in model.thinking_levels:
        raise BadRequest(
            f"{where}.thinking_level",
            f"Thinking level {level} is not supported by {model.model_id}; "
            f"supported levels: {', '.join(model.thinking_levels)}.",
        )
    budget = thinking.get("thinkingBudget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < -1):
        raise BadRequest(f"{where}.thinking_budget", "thinking_budget must be -1 (dynamic) or a token count.")


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict) or str(schema.get("type", "")).upper() not in _SCHEMA_TYPES:
        raise BadRequest(where, f"Invalid value at '{where}.type': a schema needs a type.")
    for name, child in (schema.get("properties") or {}).items():
        _check_schema(child, f"{where}.properties[{name}]")


def _check_safety_settings(settings: Any) -> None:
    if not isinstance(settings, list):
        raise BadRequest("safety_settings", "Invalid value at 'safety_settings': expected a list.")
    for index, setting in enumerate(settings):
        setting = normalised(setting) if isinstance(setting, dict) else {}
        if setting.get("category") not in HARM_CATEGORIES:
            raise BadRequest(f"safety_settings[{index}].category", "Invalid harm category.")
        if setting.get("threshold") not in _THRESHOLDS:
            raise BadRequest(f"safety_settings[{index}].threshold", "Invalid harm block threshold.")
