"""`mw check` against Fleet (the stand-in): policies, scripts and software titles per team, teams without rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from infra.fleet_server import serve_in_thread
from maintenance_windows.adapters.fleet_http import FleetHttpClient
from maintenance_windows.config.check import check_text
from maintenance_windows.config.fleet_check import fleet_findings
from tests.integration.fleet.conftest import FAST_RETRY, TOKEN

FLEET: dict[str, Any] = {
    "teams": [{"id": 1, "name": "Workstations"}, {"id": 2, "name": "Servers"}],
    "policies": [
        {"id": 1, "name": "Firewall on"},
        {"id": 10, "name": "Disk encrypted", "team_id": 1},
        {"id": 20, "name": "Agent running", "team_id": 2},
    ],
    "scripts": [{"id": 5, "name": "fix-firewall.sh", "team_id": 1}, {"id": 6, "name": "no-team.sh"}],
    "software_titles": [{"id": 30, "name": "Firefox.app", "team_ids": [1]}],
}

RULES = """\
defaults:
  actions:
    - policy_id: 1
      actions: [{type: script, script_name: no-team.sh}]
teams:
  "1":
    actions:
      - policy_id: 10
        actions:
          - {type: script, script_name: fix-firewal.sh}
          - {type: script, script_id: 5}
          - {type: software_install, software_title_id: 30}
      - policy_id: 20
        actions:
          - {type: software_install, software_title_id: 31}
  "9":
    name: Gone
"""


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetHttpClient]:
    with serve_in_thread(FLEET, token=TOKEN) as running:
        client = FleetHttpClient(running.url, TOKEN, retry=FAST_RETRY)
        yield client
        client.close()


def findings(fleet: FleetHttpClient, text: str) -> list[str]:
    checked = check_text(text)
    assert checked.errors == []
    return [
        f"{f.severity} {f.line} {f.path}: {f.message}" for f in fleet_findings(checked, yaml.safe_load(text), fleet)
    ]


def test_every_name_and_id_is_checked_for_its_team(fleet: FleetHttpClient) -> None:
    found = findings(fleet, RULES)
    assert (
        "error 10 teams.1.actions[0].actions[0].script_name: script 'fix-firewal.sh' is not saved for team 1 "
        "(Workstations); did you mean 'fix-firewall.sh'?" in found
    )
    assert "error 13 teams.1.actions[1].policy_id: policy 20 does not exist for team 1 (Workstations)" in found
    assert any(
        f.startswith("error 15 teams.1.actions[1].actions[0].software_title_id: software title 31") for f in found
    )
    assert any(f.startswith("error 16 teams.9: Fleet has no team 9 (it has: 1 Workstations, 2 Servers)") for f in found)
    assert "warning None teams: Fleet team 2 (Servers) has no rules here: it uses the defaults" in found


def test_the_defaults_are_checked_for_each_team_that_uses_them(fleet: FleetHttpClient) -> None:
    # Team 2 uses the defaults; no-team.sh is saved for hosts in no team only.
    found = findings(fleet, RULES)
    assert (
        "error 4 defaults.actions[0].actions[0].script_name: script 'no-team.sh' is not saved for team 2 "
        "(Servers)" in found
    )
    assert not any("hosts in no team" in f for f in found)


def test_rules_that_match_fleet_have_no_errors(fleet: FleetHttpClient) -> None:
    text = (
        "teams:\n  '1':\n    actions:\n      - policy_id: 10\n        actions: [{type: script, script_id: 5}]\n"
        "  '2': {name: Servers}\n"
    )
    assert [f for f in findings(fleet, text) if f.startswith("error")] == []
