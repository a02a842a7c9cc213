"""The stand-in Fleet's own behaviour over HTTP: the CLI, the admin API, faults and the request log."""

from __future__ import annotations

import base64
import json
import os
import plistlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.fleet_server import FleetAdmin, RunningFleet, serve_in_thread
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from tests.integration.fleet.conftest import DISK_POLICY, FAST_RETRY, SEED, TOKEN

REPO = Path(__file__).resolve().parents[3]


def restart_command(command_uuid: str) -> str:
    plist = {"Command": {"RequestType": "RestartDevice"}, "CommandUUID": command_uuid}
    return base64.b64encode(plistlib.dumps(plist)).decode()


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


@pytest.mark.usefixtures("admin")
def test_invalid_fault_configuration_is_refused(fleet: RunningFleet) -> None:
    for bad in ({"rate_5xx": 2}, {"status_5xx": 404}, {"unknown": 1}):
        assert requests.put(f"{fleet.url}/_admin/faults", json=bad, timeout=5).status_code == 400


# -- the simulated hosts over HTTP ------------------------------------------------------------------------


def test_a_fix_counts_only_when_its_own_action_ran(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.pass_on_action(8, DISK_POLICY, "mdm_command", reference="EraseDevice")
    client.run_mdm_command(restart_command("c-restart"), ["uuid-8"])
    client.refetch(8)
    admin.check_in(8)
    assert admin.policy_response(8, DISK_POLICY) == "fail"  # RestartDevice is not the configured fix

    admin.pass_on_action(8, DISK_POLICY, "mdm_command", reference="RestartDevice")
    client.run_mdm_command(restart_command("c-restart-2"), ["uuid-8"])
    client.refetch(8)
    assert admin.policy_response(8, DISK_POLICY) == "fail"  # queued, not run
    admin.check_in(8)
    assert admin.policy_response(8, DISK_POLICY) == "pass"


def test_admin_can_take_a_host_offline_and_back(client: FleetHttpClient, admin: FleetAdmin) -> None:
    assert admin.set_online(2, False)["online"] is False
    client.refetch(2)
    assert admin.host(2)["refetch_requested"] is True
    with pytest.raises(requests.HTTPError):
        admin.check_in(2)
    back = admin.set_online(2, True)  # checks in at once
    assert (back["online"], back["refetch_requested"]) == (True, False)


def test_update_now_reports_the_new_os_version(admin: FleetAdmin) -> None:
    admin.update_now(3, "15.4")
    assert admin.host(3)["os_version"] != "macOS 15.4"
    admin.check_in(3)
    assert admin.host(3)["os_version"] == "macOS 15.4"


def test_hosts_check_in_on_their_own_interval() -> None:
    with serve_in_thread(SEED, token=TOKEN, checkin_interval=0.2) as running:
        client = FleetHttpClient(running.url, TOKEN, retry=FAST_RETRY)
        admin = FleetAdmin(running.url)
        client.refetch(1)
        deadline = time.monotonic() + 5
        while admin.host(1)["refetch_requested"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert admin.host(1)["refetch_requested"] is False
        client.close()
        admin.close()


def test_cli_takes_the_check_in_interval(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED), encoding="utf-8")
    command = [sys.executable, "-m", "infra.fleet_server", "--port=0", f"--seed={seed_file}", "--quiet"]
    process = subprocess.Popen(
        [*command, "--checkin-interval=7.5"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLEET_SERVER_TOKEN": TOKEN},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        host = requests.get(f"{url}/api/v1/fleet/hosts/1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert host.json()["host"]["distributed_interval"] == 8  # Fleet shows whole seconds
    finally:
        process.terminate()
        process.wait(timeout=10)
