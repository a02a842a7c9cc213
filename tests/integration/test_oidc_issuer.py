"""The local OIDC issuer and the local scheduler as the stack runs them: processes on loopback ports."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import requests
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from infra.oidc_issuer import CERTS_PATH, MINT_PATH, LocalIssuer, create_app
from infra.scheduler import call_once
from infra.serving import BackgroundServer
from maintenance_windows.auth.oidc import OidcVerifier

REPO = Path(__file__).resolve().parents[2]
PLAN_AUDIENCE = "https://plan-windows.example.run.app"
SCHEDULER = "scheduler@local-project.iam.gserviceaccount.com"
START_TIMEOUT = 15.0


@dataclass
class Process:
    popen: subprocess.Popen[str]
    lines: list[dict[str, Any]] = field(default_factory=list)

    def read_until(self, message: str, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Collect JSON log lines until one has `message`; fails the test on timeout or exit."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.popen.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    break
                line = self.popen.stdout.readline()
                if not line:
                    break
                entry: dict[str, Any] = json.loads(line)
                self.lines.append(entry)
                if entry.get("message") == message:
                    return entry
        pytest.fail(f"no {message!r} log line; got {self.lines}; stderr: {self._stderr()}")

    def terminate(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=10)

    def _stderr(self) -> str:
        if self.popen.poll() is None or self.popen.stderr is None:
            return "(running)"
        return self.popen.stderr.read()


@contextmanager
def python_module(*args: str) -> Iterator[Process]:
    popen = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    process = Process(popen)
    try:
        yield process
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=10)
        for stream in (popen.stdout, popen.stderr):
            _close(stream)


def _close(stream: IO[str] | None) -> None:
    if stream is not None:
        stream.close()


@contextmanager
def issuer_process(key_dir: Path) -> Iterator[tuple[Process, str]]:
    with python_module("infra.oidc_issuer", "--port", "0", "--key-dir", str(key_dir)) as process:
        listening = process.read_until("oidc issuer listening")
        yield process, listening["url"]


class RecordingPlanServer:
    """Stands in for plan_windows: records each request and answers with the next scripted status."""

    def __init__(self, statuses: list[int]) -> None:
        self.requests: list[dict[str, Any]] = []
        self._statuses = statuses
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests.append({"headers": dict(request.headers), "body": request.get_json(silent=True)})
            status = self._statuses.pop(0) if self._statuses else 200
        return Response("{}", status=status, content_type="application/json")(environ, start_response)


def mint(issuer_url: str, audience: str = PLAN_AUDIENCE, email: str = SCHEDULER) -> str:
    response = requests.post(issuer_url + MINT_PATH, json={"audience": audience, "email": email}, timeout=5)
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def verifier_for(issuer_url: str) -> OidcVerifier:
    return OidcVerifier(PLAN_AUDIENCE, [SCHEDULER], certs_url=issuer_url + CERTS_PATH)


class TestIssuerProcess:
    def test_serves_google_shaped_certificates_and_verifiable_tokens(self, tmp_path: Path) -> None:
        with issuer_process(tmp_path / "keys") as (process, url):
            certs = requests.get(url + CERTS_PATH, timeout=5)
            token = mint(url)
            caller = verifier_for(url).verify(f"Bearer {token}")
            assert process.terminate() == 0
            assert process.read_until("oidc issuer stopped")["severity"] == "INFO"

        assert certs.status_code == 200
        assert certs.headers["Content-Type"].startswith("application/json")
        assert "max-age=3600" in certs.headers["Cache-Control"]
        body = certs.json()
        assert list(body) == [process.lines[0]["kid"]]
        assert next(iter(body.values())).startswith("-----BEGIN CERTIFICATE-----")
        assert caller.email == SCHEDULER

    def test_key_survives_restarts(self, tmp_path: Path) -> None:
        with issuer_process(tmp_path / "keys") as (first, first_url):
            token = mint(first_url)
            assert first.terminate() == 0
        with issuer_process(tmp_path / "keys") as (second, second_url):
            # A token minted before the restart still verifies against the restarted issuer's certificates.
            assert verifier_for(second_url).verify(f"Bearer {token}").email == SCHEDULER
            assert second.terminate() == 0
        assert first.lines[0]["kid"] == second.lines[0]["kid"]
        assert (tmp_path / "keys" / "signing-key.pem").stat().st_mode & 0o077 == 0

    def test_mint_validates_its_input_and_routes(self, tmp_path: Path) -> None:
        with issuer_process(tmp_path / "keys") as (process, url):
            no_email = requests.post(url + MINT_PATH, json={"audience": PLAN_AUDIENCE}, timeout=5)
            not_json = requests.post(url + MINT_PATH, data="audience=x", timeout=5)
            wrong_method = requests.get(url + MINT_PATH, timeout=5)
            certs_post = requests.post(url + CERTS_PATH, timeout=5)
            unknown = requests.get(url + "/oauth2/v3/tokeninfo", timeout=5)
            assert process.terminate() == 0
        assert (no_email.status_code, not_json.status_code) == (400, 400)
        assert (wrong_method.status_code, certs_post.status_code, unknown.status_code) == (405, 405, 404)


def test_mint_refuses_callers_off_loopback(tmp_path: Path) -> None:
    client = Client(create_app(LocalIssuer(tmp_path / "keys")))
    body = {"audience": PLAN_AUDIENCE, "email": SCHEDULER}
    remote = client.post(MINT_PATH, json=body, environ_overrides={"REMOTE_ADDR": "10.20.30.40"})
    local_v6 = client.post(MINT_PATH, json=body, environ_overrides={"REMOTE_ADDR": "::1"})
    assert remote.status_code == 403
    assert "token" not in remote.get_json()
    assert local_v6.status_code == 200
    assert local_v6.get_json()["token"].count(".") == 2


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    kids: list[str] = []
    threads = [threading.Thread(target=lambda: kids.append(LocalIssuer(tmp_path).kid)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kids) == 4
    assert len(set(kids)) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["signing-key.pem"]


class TestScheduler:
    def test_call_once_sends_a_verifiable_token_and_the_payload(self, tmp_path: Path) -> None:
        plan = RecordingPlanServer([202])
        with BackgroundServer(create_app(LocalIssuer(tmp_path))) as issuer, BackgroundServer(plan) as planner:
            issuer_url, plan_url = issuer.url, planner.url
            response = call_once(plan_url, issuer_url, PLAN_AUDIENCE, SCHEDULER, 5.0, payload={"lead_minutes": 3})
            received = plan.requests[0]
            caller = verifier_for(issuer_url).verify(received["headers"]["Authorization"])
        assert response.status_code == 202
        assert caller.email == SCHEDULER
        assert received["body"] == {"lead_minutes": 3}
        assert received["headers"]["X-Cloudscheduler"] == "true"

    def test_process_calls_on_its_cadence_survives_errors_and_stops_on_sigterm(self, tmp_path: Path) -> None:
        plan = RecordingPlanServer([500])
        with BackgroundServer(create_app(LocalIssuer(tmp_path))) as issuer, BackgroundServer(plan) as planner:
            issuer_url, plan_url = issuer.url, planner.url
            args = (
                "--url",
                plan_url,
                "--issuer",
                issuer_url,
                "--audience",
                PLAN_AUDIENCE,
                "--email",
                SCHEDULER,
            )
            with python_module("infra.scheduler", *args, "--interval-seconds", "0.2") as scheduler:
                scheduler.read_until("scheduler started")
                first = scheduler.read_until("scheduled call")
                second = scheduler.read_until("scheduled call")
                third = scheduler.read_until("scheduled call")
                stopped_at = time.monotonic()
                assert scheduler.terminate() == 0
                assert time.monotonic() - stopped_at < 5
                assert scheduler.read_until("scheduler stopped")["attempts"] >= 3
            verifier = verifier_for(issuer_url)
            callers = [verifier.verify(request["headers"]["Authorization"]) for request in plan.requests]

        assert (first["status"], first["severity"]) == (500, "WARNING")
        assert (second["status"], third["status"]) == (200, 200)
        assert second["severity"] == "INFO"
        assert {caller.email for caller in callers} == {SCHEDULER}
        assert all("Bearer" not in json.dumps(line) for line in scheduler.lines)

    def test_process_keeps_going_when_the_target_is_down(self, tmp_path: Path) -> None:
        with BackgroundServer(create_app(LocalIssuer(tmp_path))) as issuer:
            issuer_url = issuer.url
            args = ("--url", "http://127.0.0.1:9/plan", "--issuer", issuer_url, "--audience", PLAN_AUDIENCE)
            with python_module("infra.scheduler", *args, "--email", SCHEDULER, "--interval-seconds", "0.1") as p:
                failures = [p.read_until("scheduled call failed") for _ in range(2)]
                assert p.terminate() == 0
        assert [failure["severity"] for failure in failures] == ["ERROR", "ERROR"]
        assert failures[0]["error"] == "ConnectionError"
