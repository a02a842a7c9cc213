"""FleetHttpClient against the stand-in Fleet over loopback HTTP."""

from __future__ import annotations

import base64
import plistlib
import time
from urllib.parse import urlsplit

import pytest

from infra.fleet_server import FleetAdmin, RunningFleet
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.domain.emails import choose_email
from maintenance_windows.ports.fleet import FleetError, FleetNotFound, FleetUnavailable
from tests.integration.fleet.conftest import DISK_POLICY, FAST_RETRY, TOKEN

HOSTS = "/api/v1/fleet/hosts"
CALENDAR_PAYLOAD = {
    "timestamp": "2024-03-28T13:57:31.668954-05:00",
    "host_id": 1,
    "host_display_name": "Mac 1",
    "host_serial_number": "SERIAL1",
    "failing_policies": [{"id": DISK_POLICY, "name": "Disk encrypted"}],
}


def restart_command(command_uuid: str) -> str:
    plist = {"Command": {"RequestType": "RestartDevice"}, "CommandUUID": command_uuid}
    return base64.b64encode(plistlib.dumps(plist)).decode()


def test_get_host_reads_the_seeded_host(client: FleetHttpClient) -> None:
    host = client.get_host(3)
    assert (host.host_id, host.uuid, host.hardware_serial, host.platform, host.team_id, host.display_name) == (
        3,
        "uuid-3",
        "SERIAL3",
        "darwin",
        1,
        "Mac 3",
    )
    assert host.failing_policy_ids() == {DISK_POLICY}
    assert client.get_host(9).failing_policy_ids() == set()


def test_device_mapping_feeds_the_email_choice(client: FleetHttpClient) -> None:
    emails = client.device_mapping(4)
    assert {(e.email, e.source) for e in emails} == {
        ("user4@gmail.com", "google_chrome_profiles"),
        ("User4@Acme.com", "mdm_idp_accounts"),
    }
    assert choose_email(emails, ["acme.com"]).email == "user4@acme.com"


def test_unknown_host_is_not_found(client: FleetHttpClient) -> None:
    with pytest.raises(FleetNotFound, match="Host 404 was not found"):
        client.get_host(404)


def test_failing_hosts_are_paged_until_a_short_page(client: FleetHttpClient, admin: FleetAdmin) -> None:
    assert client.failing_host_ids(DISK_POLICY, team_id=1) == set(range(1, 9))
    pages = [r["query"]["page"] for r in admin.requests(path=HOSTS)]
    assert pages == ["0", "1", "2"]  # 3 + 3 + 2 hosts
    admin.clear_requests()

    assert client.failing_host_ids(DISK_POLICY) == {*range(1, 9), 21, 22}
    assert [r["query"]["page"] for r in admin.requests(path=HOSTS)] == ["0", "1", "2", "3"]
    assert client.failing_host_ids(DISK_POLICY, team_id=2) == {21, 22}


def test_reads_retry_server_errors_then_succeed(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.faults(fail_next=2, fail_next_status=503)
    assert client.get_host(1).host_id == 1
    assert [r["status"] for r in admin.requests(path=f"{HOSTS}/1")] == [503, 503, 200]
    assert client.stats()["retries"] == 2
    assert client.stats()["attempts"] == 3


def test_persistent_server_errors_raise_unavailable(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.faults(rate_5xx=1.0, status_5xx=502)
    with pytest.raises(FleetUnavailable) as raised:
        client.device_mapping(1)
    assert raised.value.status == 502
    assert len(admin.requests(path=f"{HOSTS}/1/device_mapping")) == FAST_RETRY.max_attempts


def test_rate_limited_write_is_retried_and_applied_once(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.faults(fail_next=2, fail_next_status=429, path_contains="/scripts/run")
    receipt = client.run_script(2, script_id=5)
    assert receipt.kind == "script"
    assert receipt.reference
    assert [r["status"] for r in admin.requests(path="/api/v1/fleet/scripts/run")] == [429, 429, 202]
    assert admin.actions_by_host()["2"] == {"script": 1}


def test_server_error_on_a_write_is_not_retried_by_default(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.faults(fail_next=1, fail_next_status=500, path_contains="/commands/run")
    with pytest.raises(FleetUnavailable, match="500"):
        client.run_mdm_command(restart_command("c-500"), ["uuid-1"])
    assert len(admin.requests(path="/api/v1/fleet/commands/run")) == 1
    assert admin.actions_by_host() == {}


def test_server_error_on_a_write_is_retried_when_the_caller_opts_in(fleet: RunningFleet, admin: FleetAdmin) -> None:
    client = FleetHttpClient(fleet.url, TOKEN, retry=FAST_RETRY, retry_writes_on_5xx=True)
    admin.faults(fail_next=1, fail_next_status=503, path_contains="/commands/run")
    receipt = client.run_mdm_command(restart_command("c-503"), ["uuid-1"])
    assert receipt.reference == "c-503"
    assert [r["status"] for r in admin.requests(path="/api/v1/fleet/commands/run")] == [503, 200]
    client.close()


def test_retry_after_is_respected(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.faults(fail_next=1, fail_next_status=429, retry_after=1)
    started = time.monotonic()
    client.get_host(1)
    assert time.monotonic() - started >= 0.9


def test_wrong_token_fails_at_once(fleet: RunningFleet, admin: FleetAdmin) -> None:
    client = FleetHttpClient(fleet.url, "not-the-token", retry=FAST_RETRY)
    with pytest.raises(FleetError) as raised:
        client.get_host(1)
    assert raised.value.status == 401
    assert "Authentication required" in str(raised.value)
    logged = admin.requests(path=f"{HOSTS}/1")
    assert [(r["status"], r["authorized"]) for r in logged] == [(401, False)]
    client.close()


def test_each_action_reaches_fleet_exactly_once(client: FleetHttpClient, admin: FleetAdmin) -> None:
    command = client.run_mdm_command(restart_command("c-once"), ["uuid-6"])
    script = client.run_script(6, script_name="encrypt.sh", team_id=1)
    install = client.install_software(6, 8)
    client.refetch(6)

    assert (command.kind, command.reference) == ("mdm_command", "c-once")
    assert (script.kind, install.kind, install.reference) == ("script", "software_install", None)
    posts = admin.requests(method="POST")
    assert [(r["path"], r["status"]) for r in posts] == [
        ("/api/v1/fleet/commands/run", 200),
        ("/api/v1/fleet/scripts/run", 202),
        ("/api/v1/fleet/hosts/6/software/8/install", 202),
        ("/api/v1/fleet/hosts/6/refetch", 200),
    ]
    assert posts[0]["body"] == {"command": restart_command("c-once"), "host_uuids": ["uuid-6"]}
    assert posts[1]["body"] == {"host_id": 6, "script_name": "encrypt.sh", "team_id": 1}
    assert admin.actions_by_host() == {"6": {"mdm_command": 1, "script": 1, "software_install": 1, "refetch": 1}}


def test_a_refetch_reports_only_after_the_host_checked_in(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.pass_on_action(7, DISK_POLICY, "script", reference=5)
    client.run_script(7, script_id=5)
    client.refetch(7)
    assert client.get_host(7).failing_policy_ids() == {DISK_POLICY}  # asked, not yet reported
    admin.check_in(7)  # the script runs, then the policies
    assert client.get_host(7).failing_policy_ids() == set()
    assert 7 not in client.failing_host_ids(DISK_POLICY, team_id=1)


def test_calendar_webhook_is_posted_without_the_fleet_token(client: FleetHttpClient, admin: FleetAdmin) -> None:
    client.post_calendar_webhook(admin.hook_url("tines"), CALENDAR_PAYLOAD)
    (received,) = admin.hook_requests("tines")
    assert received["body"] == CALENDAR_PAYLOAD
    assert received["content_type"] == "application/json"
    assert received["authorization_scheme"] is None


def test_calendar_webhook_retries_429_only(client: FleetHttpClient, admin: FleetAdmin) -> None:
    admin.hook_faults("busy", fail_next=2, status=429)
    client.post_calendar_webhook(admin.hook_url("busy"), CALENDAR_PAYLOAD)
    assert [r["answered"] for r in admin.hook_requests("busy")] == [429, 429, 200]

    admin.hook_faults("broken", fail_next=1, status=500)
    with pytest.raises(FleetUnavailable):
        client.post_calendar_webhook(admin.hook_url("broken"), CALENDAR_PAYLOAD)
    assert len(admin.hook_requests("broken")) == 1


def test_calendar_webhook_url_credentials_become_basic_auth(client: FleetHttpClient, admin: FleetAdmin) -> None:
    parts = urlsplit(admin.hook_url("secured"))
    url = parts._replace(netloc=f"flow:s3cret@{parts.netloc}").geturl()
    client.post_calendar_webhook(url, CALENDAR_PAYLOAD)
    assert admin.hook_requests("secured")[0]["authorization_scheme"] == "Basic"
