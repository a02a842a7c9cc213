"""The stand-in's simulated hosts: everything Fleet queues runs at a check-in, and policies show then.

A hand-moved clock steps the hosts from one check-in to the next (every 5 s in these seeds).
"""

from __future__ import annotations

import base64
import json
import plistlib
from typing import Any

import pytest

from infra.fleet_server import create_app
from infra.fleet_server.clock import ManualClock
from tests.support.wsgi import LoopbackClient

TOKEN = "devices-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INTERVAL = 5.0
FIREWALL, OS_CURRENT = 1, 2

SEED: dict[str, Any] = {
    "settings": {"checkin_interval_seconds": INTERVAL, "policy_update_interval_seconds": 3600},
    "teams": [{"id": 1, "name": "Engineering"}],
    "hosts": [
        {"id": 1, "uuid": "mac-15", "team_id": 1, "os_version": "macOS 15.3", "policies": {"1": "fail"}},
        {"id": 2, "uuid": "mac-26", "team_id": 1, "os_version": "macOS 26.0", "timezone": "Europe/Berlin"},
        {"id": 3, "uuid": "mac-27", "team_id": 1, "os_version": "macOS 27.0"},
        {"id": 4, "uuid": "mac-13", "team_id": 1, "os_version": "macOS 13.6"},
        {"id": 5, "uuid": "away", "team_id": 1, "online": False, "policies": {"1": "fail"}},
        {"id": 6, "uuid": "ipad", "team_id": 1, "platform": "ipados", "os_version": "iPadOS 18.3"},
        {"id": 7, "uuid": "win", "team_id": 1, "platform": "windows"},
    ],
    "policies": [
        {"id": FIREWALL, "name": "Firewall on"},
        {"id": OS_CURRENT, "name": "macOS up to date", "platform": "darwin", "min_os_version": "15.4"},
    ],
    "scripts": [
        {"id": 10, "name": "Enable firewall", "team_id": 1},
        {"id": 11, "name": "Broken", "team_id": 1, "exit_code": 1, "output": "no"},
    ],
}


class Fleet:
    """The Fleet API and the admin API of one in-process stand-in, on a hand-moved clock."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self.clock = ManualClock()
        self.client: LoopbackClient = LoopbackClient(create_app(seed or SEED, token=TOKEN, clock=self.clock))

    def api(self, method: str, path: str, body: object = None, status: int | None = None) -> Any:
        data = None if body is None else json.dumps(body)
        response = self.client.open(f"/api/v1/fleet{path}", method=method, data=data, headers=AUTH)
        if status is not None:
            assert response.status_code == status, response.get_json()
        return response.get_json()

    def admin(self, method: str, path: str, body: object = None) -> Any:
        response = self.client.open(f"/_admin{path}", method=method, json=body)
        assert response.status_code < 300, response.get_json()
        return response.get_json()

    def host(self, host_id: int) -> dict[str, Any]:
        host: dict[str, Any] = self.api("GET", f"/hosts/{host_id}", status=200)["host"]
        return host

    def response(self, host_id: int, policy_id: int) -> str:
        return str(next(p["response"] for p in self.host(host_id)["policies"] if p["id"] == policy_id))

    def check_ins(self, count: int = 1) -> None:
        self.clock.advance(INTERVAL * count)

    def command(self, request_type: str, command_uuid: str, uuids: list[str], **fields: Any) -> Any:
        plist = {"Command": {"RequestType": request_type, **fields}, "CommandUUID": command_uuid}
        body = {"command": base64.b64encode(plistlib.dumps(plist)).decode(), "host_uuids": uuids}
        return self.api("POST", "/commands/run", body, status=200)

    def results(self, command_uuid: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.api("GET", f"/commands/results?command_uuid={command_uuid}").get(
            "results", []
        )
        return results


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


# -- refetch --------------------------------------------------------------------------------------------


def test_refetch_only_asks_and_the_next_check_in_reports(fleet: Fleet) -> None:
    before = fleet.host(1)
    fleet.admin("PUT", f"/hosts/1/policies/{FIREWALL}", {"response": "pass", "on_device_only": True})
    assert fleet.api("POST", "/hosts/1/refetch", status=200) == {}
    asked = fleet.host(1)
    assert asked["refetch_requested"] is True
    assert (asked["policy_updated_at"], fleet.response(1, FIREWALL)) == (before["policy_updated_at"], "fail")

    fleet.check_ins()
    reported = fleet.host(1)
    assert reported["refetch_requested"] is False
    assert reported["policy_updated_at"] > before["policy_updated_at"]
    assert fleet.response(1, FIREWALL) == "pass"


def test_without_a_refetch_policies_report_after_the_policy_interval(fleet: Fleet) -> None:
    fleet.admin("PUT", f"/hosts/1/policies/{FIREWALL}", {"response": "pass", "on_device_only": True})
    fleet.check_ins(10)
    assert fleet.response(1, FIREWALL) == "fail"
    fleet.clock.advance(3600)
    assert fleet.response(1, FIREWALL) == "pass"


def test_an_offline_host_reports_nothing_until_it_returns(fleet: Fleet) -> None:
    away = fleet.host(5)
    assert away["status"] == "offline"
    fleet.admin("POST", "/pass_on_action", {"host_id": 5, "policy_id": FIREWALL, "kind": "script"})
    receipt = fleet.api("POST", "/scripts/run", {"host_id": 5, "script_id": 10}, status=202)
    fleet.api("POST", "/hosts/5/refetch", status=200)
    fleet.check_ins(20)
    still = fleet.host(5)
    assert (still["seen_time"], still["refetch_requested"], fleet.response(5, FIREWALL)) == (
        away["seen_time"],
        True,
        "fail",
    )
    assert fleet.api("GET", f"/scripts/results/{receipt['execution_id']}")["exit_code"] is None

    fleet.admin("PUT", "/hosts/5/online", {"online": True})  # it checks in at once
    back = fleet.host(5)
    assert (back["status"], back["refetch_requested"], fleet.response(5, FIREWALL)) == ("online", False, "pass")
    assert fleet.api("GET", f"/scripts/results/{receipt['execution_id']}")["exit_code"] == 0


def test_a_host_taken_offline_stops_checking_in(fleet: Fleet) -> None:
    fleet.admin("PUT", "/hosts/1/online", {"online": False})
    seen = fleet.host(1)["seen_time"]
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.check_ins(3)
    assert (fleet.host(1)["status"], fleet.host(1)["seen_time"], fleet.host(1)["refetch_requested"]) == (
        "offline",
        seen,
        True,
    )


def test_check_in_now_runs_what_waits_at_once(fleet: Fleet) -> None:
    fleet.clock.advance(1)
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.clock.advance(0.1)
    snapshot = fleet.admin("POST", "/hosts/1/check_in")
    assert snapshot["refetch_requested"] is False
    with pytest.raises(AssertionError):
        fleet.admin("POST", "/hosts/5/check_in")  # offline


# -- fixes run at a check-in ------------------------------------------------------------------------------


def test_a_fix_shows_at_the_check_in_where_it_runs_when_a_refetch_is_pending(fleet: Fleet) -> None:
    fleet.admin("POST", "/pass_on_action", {"host_id": 1, "policy_id": FIREWALL, "kind": "script", "reference": 10})
    receipt = fleet.api("POST", "/scripts/run", {"host_id": 1, "script_id": 10}, status=202)
    pending = fleet.api("GET", f"/scripts/results/{receipt['execution_id']}")
    assert pending["exit_code"] is None
    assert pending["message"] == "Script is running or will run when the host comes online."
    fleet.api("POST", "/hosts/1/refetch", status=200)
    assert fleet.response(1, FIREWALL) == "fail"  # nothing ran yet

    fleet.check_ins()
    done = fleet.api("GET", f"/scripts/results/{receipt['execution_id']}")
    assert (done["exit_code"], done["output"], done["message"]) == (0, "done", "")
    assert fleet.response(1, FIREWALL) == "pass"


def test_a_fix_that_ran_shows_only_when_policies_run_again(fleet: Fleet) -> None:
    fleet.admin("POST", "/pass_on_action", {"host_id": 1, "policy_id": FIREWALL, "kind": "script"})
    fleet.api("POST", "/scripts/run", {"host_id": 1, "script_id": 10}, status=202)
    fleet.check_ins(3)
    assert fleet.response(1, FIREWALL) == "fail"  # fixed on the device, not reported: no refetch
    assert fleet.admin("GET", "/state")["hosts"]["1"]["device_policies"][str(FIREWALL)] == "pass"
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.check_ins()
    assert fleet.response(1, FIREWALL) == "pass"


def test_a_fix_that_needs_the_next_check_in(fleet: Fleet) -> None:
    rule = {
        "host_id": 1,
        "policy_id": FIREWALL,
        "kind": "mdm_command",
        "reference": "RestartDevice",
        "takes_effect": "next_check_in",
    }
    fleet.admin("POST", "/pass_on_action", rule)
    fleet.command("RestartDevice", "restart-1", ["mac-15"])
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.check_ins()
    assert fleet.response(1, FIREWALL) == "fail"
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.check_ins()
    assert fleet.response(1, FIREWALL) == "pass"


def test_a_failing_script_fixes_nothing(fleet: Fleet) -> None:
    fleet.admin("POST", "/pass_on_action", {"host_id": 1, "policy_id": FIREWALL, "kind": "script"})
    receipt = fleet.api("POST", "/scripts/run", {"host_id": 1, "script_id": 11}, status=202)
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.check_ins()
    assert fleet.api("GET", f"/scripts/results/{receipt['execution_id']}")["exit_code"] == 1
    assert fleet.response(1, FIREWALL) == "fail"


def test_a_script_can_run_again_once_the_last_run_finished(fleet: Fleet) -> None:
    fleet.api("POST", "/scripts/run", {"host_id": 1, "script_id": 10}, status=202)
    fleet.api("POST", "/scripts/run", {"host_id": 1, "script_id": 10}, status=409)
    fleet.check_ins()
    fleet.api("POST", "/scripts/run", {"host_id": 1, "script_id": 10}, status=202)


# -- MDM commands -----------------------------------------------------------------------------------------


def test_command_results_appear_when_the_device_answers(fleet: Fleet) -> None:
    fleet.command("RestartDevice", "restart-2", ["mac-15", "mac-26"])
    assert fleet.results("restart-2") == []  # Fleet lists only hosts that answered
    fleet.check_ins()
    results = {r["host_uuid"]: r for r in fleet.results("restart-2")}
    assert {u: r["status"] for u, r in results.items()} == {"mac-15": "Acknowledged", "mac-26": "Acknowledged"}
    answer = plistlib.loads(base64.b64decode(results["mac-15"]["result"]))
    assert (answer["Status"], answer["CommandUUID"], answer["UDID"]) == ("Acknowledged", "restart-2", "mac-15")


def test_a_windows_command_is_answered_with_a_syncml_status(fleet: Fleet) -> None:
    exec_command = (
        b"<Exec><CmdID>w-1</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/Reboot/RebootNow</LocURI>"
        b"</Target></Item></Exec>"
    )
    body = {"command": base64.b64encode(exec_command).decode(), "host_uuids": ["win"]}
    assert fleet.api("POST", "/commands/run", body, status=200)["platform"] == "windows"
    fleet.check_ins()
    assert [r["status"] for r in fleet.results("w-1")] == ["200"]


def test_macos_27_refuses_schedule_os_update_like_an_unknown_command(fleet: Fleet) -> None:
    fleet.admin("POST", "/pass_on_action", {"host_id": 3, "policy_id": FIREWALL, "kind": "mdm_command"})
    update = {"Updates": [{"ProductVersion": "27.1", "InstallAction": "InstallASAP"}]}
    fleet.command("ScheduleOSUpdate", "upd-27", ["mac-27"], **update)
    fleet.api("POST", "/hosts/3/refetch", status=200)
    fleet.check_ins()
    (result,) = fleet.results("upd-27")
    assert result["status"] == "Error"
    (error,) = plistlib.loads(base64.b64decode(result["result"]))["ErrorChain"]
    assert (error["ErrorCode"], error["ErrorDomain"]) == (12021, "MCMDMErrorDomain")
    assert error["USEnglishDescription"] == "“ScheduleOSUpdate” is not a valid request type."
    assert fleet.host(3)["os_version"] == "macOS 27.0"
    assert fleet.admin("GET", "/state")["rules"][0]["state"] == "armed"  # a refused command fixes nothing


def test_schedule_os_update_installs_on_older_macs(fleet: Fleet) -> None:
    assert fleet.response(1, OS_CURRENT) == "fail"  # macOS 15.3 < 15.4
    update = {"Updates": [{"ProductVersion": "15.4", "InstallAction": "InstallASAP"}]}
    fleet.command("ScheduleOSUpdate", "upd-15", ["mac-15"], **update)
    fleet.check_ins()
    assert [r["status"] for r in fleet.results("upd-15")] == ["Acknowledged"]
    assert fleet.host(1)["os_version"] == "macOS 15.3"  # downloading; installed at the next check-in
    fleet.check_ins()
    assert fleet.host(1)["os_version"] == "macOS 15.4"
    fleet.api("POST", "/hosts/1/refetch", status=200)
    fleet.check_ins()
    assert fleet.response(1, OS_CURRENT) == "pass"


# -- OS updates owned by Fleet ----------------------------------------------------------------------------


def set_macos_updates(fleet: Fleet, version: str, deadline: str) -> None:
    body = {"mdm": {"macos_updates": {"minimum_version": version, "deadline": deadline}}}
    fleet.api("PATCH", "/teams/1", body, status=200)


def test_update_now_installs_the_declared_version_at_the_next_check_in(fleet: Fleet) -> None:
    set_macos_updates(fleet, "26.1", "2026-04-01")
    fleet.check_ins()  # the declaration reaches macOS 14+ hosts
    state = fleet.admin("GET", "/state")["hosts"]
    assert state["2"]["declaration"] == ["26.1", "2026-04-01"]
    assert state["4"]["declaration"] is None  # macOS 13 takes no declaration

    fleet.admin("POST", "/hosts/2/update_now")
    assert fleet.host(2)["os_version"] == "macOS 26.0"
    fleet.check_ins()
    assert fleet.host(2)["os_version"] == "macOS 26.1"


def test_the_deadline_forces_the_update_at_noon_device_time(fleet: Fleet) -> None:
    # The clock starts on 2026-03-02 09:00 UTC; host 2 lives in Berlin (UTC+1 in March).
    set_macos_updates(fleet, "26.1", "2026-03-02")
    fleet.check_ins()
    fleet.clock.advance(60 * 60 * 1.5)  # 10:30 UTC = 11:30 in Berlin
    assert fleet.host(2)["os_version"] == "macOS 26.0"
    fleet.clock.advance(60 * 40)  # 11:10 UTC = 12:10 in Berlin
    assert fleet.host(2)["os_version"] == "macOS 26.1"


def test_schedule_os_update_is_ignored_where_a_declaration_manages_updates(fleet: Fleet) -> None:
    set_macos_updates(fleet, "26.1", "2026-04-01")
    fleet.check_ins()
    fleet.command(
        "ScheduleOSUpdate", "upd-26", ["mac-26"], Updates=[{"ProductVersion": "26.1", "InstallAction": "InstallASAP"}]
    )
    fleet.check_ins(2)
    assert [r["status"] for r in fleet.results("upd-26")] == ["Error"]
    assert fleet.host(2)["os_version"] == "macOS 26.0"


def test_update_now_needs_something_to_install(fleet: Fleet) -> None:
    response = fleet.client.post("/_admin/hosts/2/update_now", json={})
    assert response.status_code == 409
    assert fleet.client.post("/_admin/hosts/2/update_now", json={"version": "25.0"}).status_code == 409


# -- iPhones and iPads ------------------------------------------------------------------------------------


def test_an_ipad_refetch_goes_through_mdm_and_clears_at_its_check_in(fleet: Fleet) -> None:
    fleet.api("POST", "/hosts/6/refetch", status=200)
    assert fleet.admin("GET", "/state")["hosts"]["6"]["queued"]["mdm_commands"] == 2
    assert fleet.admin("GET", "/actions")["by_host"] == {"6": {"refetch": 1}}  # Fleet's own commands
    fleet.check_ins()
    assert fleet.host(6)["refetch_requested"] is False
    assert fleet.host(6)["orbit_version"] is None  # no fleetd on an iPad


def test_a_host_back_after_days_runs_its_overdue_policies_at_once(fleet: Fleet) -> None:
    stale = fleet.host(5)["policy_updated_at"]
    fleet.check_ins()
    fleet.admin("PUT", "/hosts/5/online", {"online": True})
    back = fleet.host(5)
    assert back["policy_updated_at"] > stale
    assert back["policy_updated_at"] == back["seen_time"]
