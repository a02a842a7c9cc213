"""The stand-in Fleet's own behaviour over HTTP: the CLI, the admin API, faults and the request log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.fleet_server import FleetAdmin, RunningFleet
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from tests.integration.fleet.conftest import DISK_POLICY, FAST_RETRY, SEED, TOKEN

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def process_url(tmp_path: Path) -> Iterator[str]:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED), encoding="utf-8")
    command = [sys.executable, "-m", "infra.fleet_server", "--port=0", f"--seed={seed_file}", "--quiet"]
    env = {**os.environ, "FLEET_SERVER_TOKEN": TOKEN}  # never on the command line
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("fleet-server listening on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_serves_the_seed_file(process_url: str) -> None:
    assert requests.get(f"{process_url}/healthz", timeout=5).status_code == 200
    client = FleetHttpClient(process_url, TOKEN, retry=FAST_RETRY)
    assert client.get_host(21).team_id == 2
    client.close()


def test_cli_refuses_a_bad_seed_file(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"hosts": [{"id": 0, "uuid": "x"}]}), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "infra.fleet_server", "--port", "0", "--seed", str(seed_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "hosts.0.id" in result.stderr


def test_latest_path_is_logged_under_v1(fleet: RunningFleet, admin: FleetAdmin) -> None:
    response = requests.get(
        f"{fleet.url}/api/latest/fleet/hosts/2", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert response.json()["host"]["id"] == 2
    (logged,) = admin.requests(path_contains="/hosts/2")
    assert (logged["path"], logged["raw_path"]) == ("/api/v1/fleet/hosts/2", "/api/latest/fleet/hosts/2")


def test_request_log_filters(client: FleetHttpClient, admin: FleetAdmin) -> None:
    client.get_host(1)
    client.refetch(1)
    first, second = admin.requests()
    assert (first["method"], second["method"]) == ("GET", "POST")
    assert admin.requests(method="post") == [second]
    assert admin.requests(since=first["seq"]) == [second]
    assert admin.requests(status=200, path=first["path"]) == [first]


def test_admin_can_flip_a_policy_and_reset(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.set_policy(1, DISK_POLICY, "pass")
    assert client.get_host(1).failing_policy_ids() == set()
    admin.reset()
    assert client.get_host(1).failing_policy_ids() == {DISK_POLICY}
    assert len(admin.requests()) == 1  # reset cleared the log too


def test_admin_can_replace_the_seed(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.seed({"hosts": [{"id": 500, "uuid": "u-500", "policies": {"1": "fail"}}]})
    try:
        assert client.failing_host_ids(1) == {500}
        admin.reset()  # a replaced seed is the one reset returns to
        assert client.get_host(500).host_id == 500
        with pytest.raises(requests.HTTPError):
            admin.seed({"hosts": [{"id": "not a number", "uuid": "u"}]})
    finally:
        admin.seed(SEED)


def test_latency_is_injected(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.faults(latency_ms=300)
    started = time.monotonic()
    client.get_host(1)
    assert time.monotonic() - started >= 0.29
    admin.clear_faults()
    started = time.monotonic()
    client.get_host(1)
    assert time.monotonic() - started < 0.29


def test_random_fault_rates_are_seeded_and_counted(fleet: RunningFleet, admin: FleetAdmin) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def statuses() -> list[int]:
        admin.faults(rate_5xx=0.3, rate_429=0.2, seed=7)
        return [
            requests.get(f"{fleet.url}/api/v1/fleet/hosts/1", headers=headers, timeout=5).status_code for _ in range(40)
        ]

    first, second = statuses(), statuses()
    assert first == second
    assert {200, 429, 503} == set(first)
    assert requests.get(f"{fleet.url}/_admin/faults", timeout=5).json()["injected"] == 2 * sum(s != 200 for s in first)


def test_invalid_fault_configuration_is_refused(fleet: RunningFleet, admin: FleetAdmin) -> None:
    for bad in ({"rate_5xx": 2}, {"status_5xx": 404}, {"unknown": 1}):
        assert requests.put(f"{fleet.url}/_admin/faults", json=bad, timeout=5).status_code == 400
