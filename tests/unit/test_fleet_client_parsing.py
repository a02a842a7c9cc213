"""The Fleet client reads Fleet's documented payloads unchanged, and its retry policy is what we claim."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import urllib3
import urllib3.connection
import urllib3.exceptions
from pydantic import SecretStr

from maintenance_windows.adapters.fleet_http import (
    FLEET_RETRY,
    READS,
    WEBHOOKS,
    WRITES,
    WRITES_RETRYING_5XX,
    FleetHttpClient,
    fleet_error_message,
    parse_device_mapping,
    parse_host,
    parse_host_list_ids,
    parse_mdm_command_receipt,
    parse_script_receipt,
    script_run_payload,
)
from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.domain.emails import choose_email
from maintenance_windows.ports.fleet import FleetError
from tests.support import FLEET_FIXTURES

FIXTURES = FLEET_FIXTURES / "api"
# The fixtures are part of every checkout (../shared): missing ones fail the run rather than skip it.
needs_fixtures = pytest.mark.usefixtures("fleet_fixtures")


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_bytes())
    return body


@needs_fixtures
def test_documented_host_parses_with_its_unicode_minus_sign() -> None:
    raw = (FIXTURES / "get_host_response.json").read_text(encoding="utf-8")
    assert "\u2212" in raw  # the file is the docs' own text, odd minus sign included
    host = parse_host(json.loads(raw))
    assert (host.host_id, host.uuid, host.platform, host.team_id) == (
        1,
        "309a4b7d-0000-0000-8e7f-26ae0815ede8",
        "rhel",
        None,
    )
    assert (host.display_name, host.hardware_serial) == ("23cfc9caacf0", "")
    assert [(p.policy_id, p.name, p.response) for p in host.policies] == [
        (2, "SomeQuery2", "fail"),
        (3, "SomeQuery3", ""),
        (1, "SomeQuery", "pass"),
    ]
    assert host.failing_policy_ids() == {2}
    assert host.labels == ("All Hosts", "CentOS Linux", "All Linux")  # HostDetail.Labels, by name


@needs_fixtures
def test_documented_device_mapping_parses_and_the_idp_source_wins() -> None:
    emails = parse_device_mapping(fixture("get_device_mapping_response.json"))
    assert [(e.email, e.source) for e in emails] == [
        ("user@example.com", "identity_provider"),
        ("user@example.com", "google_chrome_profiles"),
        ("user@example.com", "custom"),
    ]
    choice = choose_email(emails, ["example.com"])
    assert (choice.email, choice.source) == ("user@example.com", "identity_provider")


@needs_fixtures
def test_documented_action_answers_become_receipts() -> None:
    command = parse_mdm_command_receipt(fixture("run_mdm_command_response.json"))
    assert (command.kind, command.reference) == ("mdm_command", "a2064cef-0000-1234-afb9-283e3c1d487e")
    script = parse_script_receipt(fixture("run_script_response.json"))
    assert (script.kind, script.reference) == ("script", "e797d6c6-3aae-11ee-be56-0242ac120002")
    assert script.raw["host_id"] == 1227


def test_null_device_mapping_means_no_email() -> None:
    assert parse_device_mapping({"host_id": 3, "device_mapping": None}) == []


def test_host_without_display_name_falls_back_to_computer_name_and_null_policies() -> None:
    host = parse_host({"host": {"id": 5, "display_name": "", "computer_name": "mac-5", "policies": None}})
    assert (host.display_name, host.policies, host.team_id, host.uuid) == ("mac-5", (), None, "")


MALFORMED_HOSTS = [{}, {"host": None}, {"host": {"uuid": "x"}}, {"host": {"id": 1, "policies": [{}]}}]


@pytest.mark.parametrize("body", MALFORMED_HOSTS)
def test_malformed_host_is_a_fleet_error(body: dict[str, Any]) -> None:
    with pytest.raises(FleetError, match="unexpected host payload"):
        parse_host(body)


def test_host_list_ids() -> None:
    assert parse_host_list_ids({"hosts": [{"id": 4}, {"id": 9}]}) == [4, 9]
    assert parse_host_list_ids({"hosts": None}) == []


def test_fleet_error_body_becomes_one_line() -> None:
    body = {
        "message": "Validation Failed",
        "errors": [{"name": "script_id", "reason": "Only one of 'script_id' or 'team_id' is allowed."}],
        "uuid": "1c1b2ad8",
    }
    assert fleet_error_message(json.dumps(body).encode()) == (
        "Validation Failed; script_id: Only one of 'script_id' or 'team_id' is allowed."
    )
    reason = "Authentication required"
    base = {"message": reason, "errors": [{"name": "base", "reason": reason}]}
    assert fleet_error_message(json.dumps(base).encode()) == "Authentication required"
    assert fleet_error_message(b"<html>502 Bad Gateway</html>") == ""


def test_script_payload_never_sends_team_id_with_script_id() -> None:
    assert script_run_payload(7, script_id=3, script_name=None, team_id=2) == {"host_id": 7, "script_id": 3}
    assert script_run_payload(7, script_id=None, script_name="fix.sh", team_id=2) == {
        "host_id": 7,
        "script_name": "fix.sh",
        "team_id": 2,
    }
    assert script_run_payload(7, script_id=None, script_name="fix.sh", team_id=None) == {
        "host_id": 7,
        "script_name": "fix.sh",
    }
    with pytest.raises(ValueError, match="exactly one"):
        script_run_payload(7, script_id=3, script_name="fix.sh", team_id=None)
    with pytest.raises(ValueError, match="exactly one"):
        script_run_payload(7, script_id=None, script_name=None, team_id=None)


def test_reads_retry_transient_statuses_and_writes_only_429_by_default() -> None:
    assert all(READS.retries_status(status) for status in (429, 500, 502, 503, 504))
    assert not READS.retries_status(404)
    assert WRITES.retries_status(429)
    # A 503 on a write, Retry-After or not, may come after the action was applied: never sent again.
    assert not WRITES.retries_status(503)
    assert not WRITES.retries_status(500)
    assert WEBHOOKS.retries_status(429)
    assert not WEBHOOKS.retries_status(503)
    assert FLEET_RETRY.max_attempts == 5


def test_a_write_is_resent_only_when_it_never_left() -> None:
    pool = urllib3.HTTPConnectionPool("fleet.example.com")
    connection = urllib3.connection.HTTPConnection("fleet.example.com")
    never_connected = urllib3.exceptions.NewConnectionError(connection, "connection refused")
    refused = requests.ConnectionError(urllib3.exceptions.MaxRetryError(pool, "/x", never_connected))
    reset = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted."))
    timed_out = requests.ReadTimeout("read timed out")
    assert WRITES.retries_error(refused)
    assert WRITES.retries_error(requests.ConnectTimeout("connect timed out"))
    assert not WRITES.retries_error(reset)
    assert not WRITES.retries_error(timed_out)
    assert READS.retries_error(reset)
    assert READS.retries_error(timed_out)
    assert READS.retries_error(refused)
    assert not READS.retries_error(requests.exceptions.SSLError("bad certificate"))
    assert not READS.retries_error(ValueError("a bug"))


def test_writes_can_opt_into_5xx_retries() -> None:
    assert WRITES_RETRYING_5XX.retries_status(503)
    assert WRITES_RETRYING_5XX.retries_status(429)
    assert not WRITES_RETRYING_5XX.retries_error(requests.ReadTimeout("read timed out"))


def test_from_settings_needs_url_and_token() -> None:
    with pytest.raises(ConfigurationError, match="MW_FLEET_URL"):
        FleetHttpClient.from_settings(Settings.from_env({}))
    with pytest.raises(ConfigurationError, match="MW_FLEET_API_TOKEN"):
        FleetHttpClient.from_settings(Settings.from_env({"MW_FLEET_URL": "https://fleet.example.com"}))
    settings = Settings.from_env(
        {"MW_FLEET_URL": "https://fleet.example.com/api/v1/fleet/", "MW_FLEET_API_TOKEN": "s3cret"}
    )
    assert isinstance(settings.fleet_api_token, SecretStr)
    client = FleetHttpClient.from_settings(settings)
    assert client.stats() == {"calls": {}, "attempts": 0, "retries": 0, "failures": {}}
    client.close()


@pytest.mark.parametrize("url", ["fleet.example.com", "ftp://fleet.example.com", "https://"])
def test_base_url_must_be_http(url: str) -> None:
    with pytest.raises(ConfigurationError):
        FleetHttpClient(url, "token")
