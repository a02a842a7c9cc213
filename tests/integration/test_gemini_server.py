"""`python -m infra.gemini_server` as the local stack runs it: a process on a loopback port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

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
        [sys.executable, "-m", "infra.gemini_server", "--port", str(port), "--mode", "malformed"],
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
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
