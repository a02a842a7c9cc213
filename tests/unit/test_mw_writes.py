"""`mw replay` to a deployed URL asks first; --yes answers for scripts; no terminal and no --yes sends nothing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests

from maintenance_windows.cli.main import main as mw

URL = "https://fleet-webhook.example.run.app"


class Sent:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url: str, **options: Any) -> requests.Response:
        self.calls.append({"url": url, **options})
        response = requests.Response()
        response.status_code, response._content = 200, b'{"hosts_new": 1}'
        return response


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sent:
    recorder = Sent()
    monkeypatch.setattr(requests, "post", recorder)
    monkeypatch.setenv("MW_STACK_FILE", str(tmp_path / "no-stack.json"))
    monkeypatch.setenv("MW_WEBHOOK_SECRET", "s3cret")
    (tmp_path / "payload.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    return recorder


def test_without_a_terminal_and_without_yes_nothing_is_sent(sent: Sent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert mw(["replay", "payload.json", "--url", URL]) == 1
    assert sent.calls == []


def test_yes_sends_with_the_secret_from_the_environment(sent: Sent) -> None:
    assert mw(["replay", "payload.json", "--url", URL, "--yes"]) == 0
    assert [(call["url"], call["auth"]) for call in sent.calls] == [(URL, ("fleet", "s3cret"))]


def test_the_prompt_sends_only_on_yes(sent: Sent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda _: next(answers))
    assert mw(["replay", "payload.json", "--url", URL]) == 1
    assert mw(["replay", "payload.json", "--url", URL]) == 0
    assert len(sent.calls) == 1


def test_a_deployed_url_needs_the_secret(sent: Sent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MW_WEBHOOK_SECRET")
    assert mw(["replay", "payload.json", "--url", URL, "--yes"]) == 1
    assert sent.calls == []
