"""infra/stack.py without starting the stack: its secrets, the command lines it builds, its start-up errors.

A token from `secrets.token_urlsafe` starts with `-` about once in 64; passed as `--token VALUE` it made
argparse stop the stand-in Fleet ("expected one argument") and `make demo` fail at start-up.
"""

from __future__ import annotations

import argparse
import re
import socket
import stat
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infra import stack as local_stack
from infra.calendar_server.__main__ import _parse_args as calendar_args
from infra.fleet_server.__main__ import _arguments as fleet_args
from infra.fleet_server.__main__ import _token as fleet_token
from infra.gemini_server.__main__ import _parse_args as gemini_args
from infra.oidc_issuer.__main__ import _parse_args as oidc_args
from infra.scheduler import _parse_args as scheduler_args
from infra.tasks_emulator import _parse_args as tasks_args
from infra.tasks_relay.__main__ import _parse_args as relay_args

DASHED = {"webhook": "-rf-webhook-secret-0123456789abcdef", "fleet_api_token": "--token-0123456789abcdef"}
PARSERS: dict[str, Callable[[list[str]], argparse.Namespace]] = {
    "infra.oidc_issuer": oidc_args,
    "infra.fleet_server": fleet_args,
    "infra.calendar_server": calendar_args,
    "infra.gemini_server": gemini_args,
    "infra.scheduler": scheduler_args,
    "infra.tasks_emulator": tasks_args,
    "infra.tasks_relay": relay_args,
}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(local_stack, "state_dir", lambda profile: tmp_path / profile)
    return tmp_path


def test_generated_secrets_are_fresh_long_and_url_safe() -> None:
    drawn = [local_stack.generate_secrets() for _ in range(200)]
    values = [value for secrets in drawn for value in secrets.values()]
    assert {tuple(sorted(secrets)) for secrets in drawn} == {("caldav", "fleet_api_token", "webhook")}
    assert len(set(values)) == len(values)
    assert all(len(value) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", value) for value in values)


def test_the_secrets_file_is_readable_by_its_owner_only_even_when_it_existed_wider(state: Path) -> None:
    path = state / "test" / "secrets.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    local_stack.write_secrets("test", DASHED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_stack.describe("test")["secrets"] == DASHED


@pytest.mark.usefixtures("state")
def test_secrets_starting_with_a_dash_reach_no_command_line_and_every_command_parses() -> None:
    local_stack.write_secrets("test", DASHED)
    info = local_stack.describe("test")
    built = [(c.name, c.command, c.env) for c in local_stack.components("test", info)]
    built.append(("scheduler", local_stack.scheduler_command(info), {}))
    parsed = 0
    for name, command, _env in built:
        for secret in DASHED.values():
            assert not any(secret in word for word in command), f"{name}: a secret is on its command line"
        if command[1:2] == ["-m"] and command[2] in PARSERS:
            PARSERS[command[2]](command[3:])  # SystemExit if any value were read as an option
            parsed += 1
    assert parsed == len(PARSERS)
    fleet = next(env for name, _, env in built if name == "fleet")
    assert fleet_token(fleet) == DASHED["fleet_api_token"]
    dispatch = next(env for name, _, env in built if name == "dispatch_window")
    assert dispatch["MW_FLEET_API_TOKEN"] == DASHED["fleet_api_token"]
    assert dispatch["MW_WEBHOOK_SECRETS"] == DASHED["webhook"]


def test_a_value_starting_with_a_dash_survives_only_in_the_equals_form() -> None:
    with pytest.raises(SystemExit):
        fleet_args(["--seed", "-seed.json"])  # the failure the stack used to meet
    assert fleet_args([local_stack.option("seed", "-seed.json")]).seed == "-seed.json"
    assert oidc_args(["--port=0", local_stack.option("key-dir", "-keys")]).key_dir == "-keys"
    parsed = scheduler_args(
        [local_stack.option(name, "-x") for name in ("url", "issuer", "audience", "email")] + ["--interval-seconds=1"]
    )
    assert (parsed.url, parsed.issuer, parsed.audience, parsed.email) == ("-x", "-x", "-x", "-x")


def test_the_fleet_token_no_longer_exists_as_an_option() -> None:
    with pytest.raises(SystemExit):
        fleet_args(["--token=secret"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_component_that_exits_is_named_with_its_port_and_its_last_log_lines(tmp_path: Path) -> None:
    port = _free_port()
    script = "print('starting'); print('error: argument --token: expected one argument'); raise SystemExit(2)"
    component = local_stack.Component("fleet", [sys.executable, "-c", script], port)
    process = local_stack._spawn(component.name, component.command, {}, tmp_path)
    with pytest.raises(local_stack.StartFailed) as failed:
        local_stack.wait_ready(component, process, tmp_path / "fleet.log")
    message = str(failed.value)
    assert f"fleet exited with status 2 before answering (port {port})" in message
    assert "    error: argument --token: expected one argument" in message
    assert str(tmp_path / "fleet.log") in message


def test_a_component_that_never_answers_is_reported_at_its_deadline(tmp_path: Path) -> None:
    port = _free_port()
    script = "import time; print('still loading', flush=True); time.sleep(30)"
    component = local_stack.Component("calendar", [sys.executable, "-c", script], port, ready_timeout=1.0)
    process = local_stack._spawn(component.name, component.command, {}, tmp_path)
    try:
        with pytest.raises(local_stack.StartFailed, match=r"calendar did not answer within 1 s \(port \d+\)") as failed:
            local_stack.wait_ready(component, process, tmp_path / "calendar.log")
        assert "    still loading" in str(failed.value)
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_tasks_emulator_keeps_processing_when_a_listed_task_was_purged() -> None:
    """The library's queue thread died on a task purged between its listing and its turn (NotFound), and
    moved every task not yet due to the end of the queue ten times a second."""
    from google.api_core.exceptions import from_http_status

    from infra.tasks_emulator import PurgeSafeProcessor

    submitted: list[str] = []

    class State:
        def __init__(self) -> None:
            self._queues = {"q"}
            later = datetime.now(UTC) + timedelta(hours=1)
            self._queue_tasks = {
                "q": [
                    SimpleNamespace(name="purged", schedule_time=None),
                    SimpleNamespace(name="not due", schedule_time=later),
                    SimpleNamespace(name="kept", schedule_time=datetime.now(UTC)),
                ]
            }

        def queue(self, _name: str) -> Any:
            return SimpleNamespace(state=1)  # Queue.State.RUNNING

        def submit_task(self, name: str) -> None:
            submitted.append(name)
            if name == "purged":
                raise from_http_status(404, f"Task not found: {name}")  # type: ignore[no-untyped-call]
            processor._is_running.clear()  # one round is enough

    processor = PurgeSafeProcessor(State())
    processor._is_running.set()
    processor._process_queue("q")
    assert submitted == ["purged", "kept"]
