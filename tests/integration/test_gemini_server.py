"""The Gemini stand-in as strict as Vertex AI, through google-genai and raw HTTP; and as the stack runs it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import pytest
import requests
from google import genai
from google.genai import errors, types

from infra.gemini_server import RunningGeminiServer
from maintenance_windows.adapters.gemini_explainer import GeminiExplainer
from maintenance_windows.config.settings import Settings
from maintenance_windows.domain.explanation import ExplanationRequest, FallbackReason, PolicyBrief

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_command_line_server_serves_its_mode_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.gemini_server", "--port", str(port), "--mode", "malformed", "--model", "x-1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert started["severity"] == "INFO"
        assert started["mode"] == "malformed"
        base_url = f"http://127.0.0.1:{port}/"
        settings = Settings.from_env({"MW_GEMINI_BASE_URL": base_url, "MW_GEMINI_TIMEOUT_SECONDS": "5"})
        request = ExplanationRequest(
            organization="Acme",
            window_local="Tuesday 12:00",
            deadline_local="Monday",
            policies=[PolicyBrief(policy_id=1, name="Firewall on")],
        )
        text = GeminiExplainer.from_settings(settings).explain(request)
        assert text.fallback_reason == FallbackReason.MALFORMED_JSON
        assert requests.get(f"{base_url}_admin/requests", timeout=5).json()["count"] == 1
        assert "x-1" in requests.get(f"{base_url}_admin/models", timeout=5).json()["models"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


MODEL = "gemini-3.6-flash"
USER_TURN = {"role": "user", "parts": [{"text": "hello"}]}


def client(server: RunningGeminiServer, location: str = "global") -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="p",
        location=location,
        credentials=google.oauth2.credentials.Credentials(token="local"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(base_url=server.base_url, timeout=5000),
    )


def generate(server: RunningGeminiServer, body: dict[str, Any], model: str = MODEL, location: str = "global") -> Any:
    url = f"{server.base_url}v1beta1/projects/p/locations/{location}/publishers/google/models/{model}:generateContent"
    return requests.post(url, json=body, headers={"Authorization": "Bearer local"}, timeout=5)


def test_models_get_answers_known_models_and_404_for_others(server: RunningGeminiServer) -> None:
    vertex = client(server)  # held: a collected client closes its connection pool
    found = vertex.models.get(model=MODEL)
    assert found.name == f"publishers/google/models/{MODEL}"
    with pytest.raises(errors.ClientError) as raised:
        vertex.models.get(model="gemini-9-flash")
    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")


def test_an_unknown_model_or_location_is_vertex_s_404(server: RunningGeminiServer) -> None:
    for model, location in (("gemini-9-flash", "global"), (MODEL, "us-central1")):  # 3.6 Flash: global, us, eu
        answer = generate(server, {"contents": [USER_TURN]}, model=model, location=location)
        assert answer.status_code == 404
        error = answer.json()["error"]
        assert error["status"] == "NOT_FOUND"
        assert "was not found or your project does not have access to it" in error["message"]
    assert generate(server, {"contents": [USER_TURN]}, location="eu").status_code == 200


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"topN": 3}, "generation_config.topN"),  # not a GenerationConfig field
        ({"responseFormat": {"text": {}}}, "generation_config.responseFormat"),  # google-genai only, not Vertex
        ({"maxOutputTokens": 65_537}, "generation_config.max_output_tokens"),
        ({"presencePenalty": 0.5}, "generation_config.presencePenalty"),  # refused by Gemini 3.6 Flash
        ({"thinkingConfig": {"thinkingLevel": "LOW", "thinkingBudget": 128}}, "generation_config.thinking_config"),
        ({"thinkingConfig": {"thinking_level": "ULTRA"}}, "generation_config.thinking_config.thinking_level"),
        ({"thinkingConfig": {"thinkingDepth": 3}}, "generation_config.thinking_config.thinkingDepth"),
    ],
)
def test_generation_config_is_checked_like_vertex(
    server: RunningGeminiServer, config: dict[str, Any], field: str
) -> None:
    answer = generate(server, {"contents": [USER_TURN], "generationConfig": config})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["fieldViolations"][0]["field"] == field


def test_per_model_rules(server: RunningGeminiServer) -> None:
    minimal = {"contents": [USER_TURN], "generationConfig": {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}}
    assert generate(server, minimal).status_code == 200
    assert generate(server, minimal, model="gemini-3.1-pro-preview").status_code == 400  # Pro: LOW..HIGH
    model_last = {"contents": [USER_TURN, {"role": "model", "parts": [{"text": "hi"}]}]}
    assert generate(server, model_last).status_code == 400
    assert generate(server, model_last, model="gemini-3.5-flash").status_code == 200


def test_thought_parts_and_thought_tokens(server: RunningGeminiServer) -> None:
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW, include_thoughts=True)
    )
    vertex = client(server)  # held: a collected client closes its connection pool
    response = vertex.models.generate_content(model=MODEL, contents="hello", config=config)
    candidate = response.candidates[0]  # type: ignore[index]
    parts = candidate.content.parts  # type: ignore[union-attr]
    assert [bool(part.thought) for part in parts] == [True, False]  # type: ignore[union-attr]
    assert candidate.finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None
    assert usage.thoughts_token_count == 400
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + 400  # type: ignore[operator]
    hidden = vertex.models.generate_content(model=MODEL, contents="hello")  # default MEDIUM, no thoughts
    assert all(not part.thought for part in hidden.candidates[0].content.parts)  # type: ignore[index, union-attr]
    assert hidden.usage_metadata.thoughts_token_count == 900  # type: ignore[union-attr]


@pytest.mark.parametrize(("mode", "finish"), [("max_tokens", "MAX_TOKENS"), ("recitation", "RECITATION")])
def test_finish_reason_modes(server: RunningGeminiServer, mode: str, finish: str) -> None:
    requests.post(f"{server.base_url}_admin/mode", json={"mode": mode}, timeout=5).raise_for_status()
    body = {"contents": [USER_TURN], "generationConfig": {"maxOutputTokens": 2000}}
    candidate = generate(server, body).json()["candidates"][0]
    assert candidate["finishReason"] == finish
    if mode == "max_tokens":
        text = candidate["content"]["parts"][-1]["text"]
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)  # cut where the budget ran out


def test_budget_shared_with_thinking_runs_out(server: RunningGeminiServer) -> None:
    requests.post(
        f"{server.base_url}_admin/mode", json={"mode": "normal", "thinking_tokens": {"HIGH": 1000}}, timeout=5
    ).raise_for_status()
    high = {"thinkingConfig": {"thinkingLevel": "HIGH"}, "maxOutputTokens": 1024}
    answer = generate(server, {"contents": [USER_TURN], "generationConfig": high}).json()
    assert answer["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert answer["usageMetadata"]["thoughtsTokenCount"] == 1000
