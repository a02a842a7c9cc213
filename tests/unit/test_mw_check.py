"""`mw check --offline`: the schema with did-you-mean and YAML lines, each error once, rules that cannot work,
and plan_windows refusing the same rules at cold start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maintenance_windows.cli.main import main as mw
from maintenance_windows.config.check import check_text, load_checked_teams, time_zone_problem
from maintenance_windows.config.settings import ConfigurationError

EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "local" / "teams.example.yaml"


def errors(text: str) -> list[str]:
    return [f"{f.line}: {f.path}: {f.message}" for f in check_text(text).errors]


def test_the_shipped_examples_pass() -> None:
    assert check_text(EXAMPLE.read_text()).findings == []


def test_a_misspelt_key_gets_did_you_mean_with_its_path_and_line() -> None:
    text = "defaults:\n  slots:\n    slot_minuts: 30\n"
    assert errors(text) == ["3: defaults.slots.slot_minuts: unknown key; did you mean 'slot_minutes'?"]


def test_a_misspelt_value_gets_did_you_mean() -> None:
    text = "defaults:\n  follow:\n    deadline_behaviour: enforc\n"
    assert errors(text) == [
        "3: defaults.follow.deadline_behaviour: 'enforc' is not one of keep, enforce; did you mean 'enforce'?"
    ]


def test_misspelt_rollout_rules_get_did_you_mean() -> None:
    text = (
        'defaults:\n  mode: previw\n  pilto: {emails: [a@acme.example]}\nteams:\n  "3":\n'
        "    exclude: {email: [b@acme.example], lables: [Kiosks]}\n    pilot: {}\n"
    )
    assert sorted(errors(text)) == [
        "2: defaults.mode: 'previw' is not one of live, preview; did you mean 'preview'?",
        "3: defaults.pilto: unknown key; did you mean 'pilot'?",
        "6: teams.3.exclude.email: unknown key; did you mean 'emails'?",
        "6: teams.3.exclude.lables: unknown key; did you mean 'labels'?",
        "7: teams.3.pilot: a pilot with no emails and no labels books nobody; remove `pilot:` to book everyone",
    ]


def test_pilot_and_exclude_entries_that_cannot_work_are_warnings() -> None:
    text = (
        "defaults:\n  domains: [acme.example]\n  exclude: {emails: [x@acme.example], labels: [Kiosks]}\n"
        "  pilot:\n    emails: [x@acme.example, y@other.example]\n    labels: [kiosks]\n"
    )
    warnings = sorted(f"{w.line}: {w.path}: {w.message}" for w in check_text(text).warnings)
    assert warnings == [
        "4: defaults.pilot: x@acme.example, kiosks: both in the pilot and excluded; excluded wins",
        "5: defaults.pilot.emails: y@other.example: not in the team's domains (acme.example), so never booked "
        "whatever this list says",
    ]
    assert check_text(text).errors == []


def test_a_misspelt_platform_is_an_error_where_it_is_written() -> None:
    text = (
        "teams:\n"
        "  '3':\n"
        "    actions:\n"
        "      - policy_id: 4\n"
        "        platforms: [darwin, windwos]\n"
        "        actions: [{type: refetch}]\n"
    )
    assert errors(text) == [
        "5: teams.3.actions[0].platforms[1]: 'windwos' is not a Fleet platform; did you mean 'windows'?"
    ]


def test_an_error_in_the_defaults_is_reported_once_not_for_every_team() -> None:
    text = "defaults:\n  slots: {fallback: double-book}\nteams:\n  '1': {name: A}\n  '2': {name: B}\n"
    found = errors(text)
    assert len(found) == 1
    assert found[0].startswith("2: defaults.slots.fallback:")


def test_a_team_that_overrides_a_bad_default_has_its_own_error_only() -> None:
    text = "defaults:\n  slots: {slot_minutes: 600}\nteams:\n  '1':\n    slots: {slot_minutes: 700}\n"
    assert [line.split(":")[1].strip() for line in errors(text)] == [
        "defaults.slots.slot_minutes",
        "teams.1.slots.slot_minutes",
    ]


def test_team_keys_must_be_fleet_team_ids() -> None:
    assert errors("teams:\n  workstations: {name: W}\n") == [
        "2: teams.workstations: team keys are Fleet team ids (numbers)"
    ]


@pytest.mark.parametrize(
    ("name", "pointer"), [("PST", "America/Los_Angeles"), ("UTC+1", "IANA"), ("Mars/Base", "IANA")]
)
def test_time_zones_that_are_not_iana_names_get_a_pointer(name: str, pointer: str) -> None:
    problem = time_zone_problem(name)
    assert problem is not None
    assert pointer in problem
    assert time_zone_problem("Europe/Berlin") is None


def test_a_time_zone_key_says_where_time_zones_come_from() -> None:
    (found,) = errors("defaults:\n  time_zone: PST\n")
    assert "calendar settings" in found
    assert "America/Los_Angeles" in found


def test_a_slot_longer_than_the_working_day_is_an_error() -> None:
    text = (
        "defaults:\n  slots:\n    slot_minutes: 120\n    preferences: {lunch: 0}\n    working_hours:\n"
        "      mon: {start: '07:00', end: '08:45'}\n"
    )
    (found,) = errors(text)
    assert found.startswith("3: defaults.slots.slot_minutes: a 120-minute slot is longer than every working day")


def test_a_slot_longer_than_some_days_is_a_warning() -> None:
    text = (
        "defaults:\n  slots:\n    slot_minutes: 120\n    working_hours:\n"
        "      mon: {start: '07:00', end: '08:45'}\n      tue: {start: '09:00', end: '17:00'}\n"
    )
    checked = check_text(text)
    assert checked.errors == []
    assert "does not fit in mon" in checked.warnings[0].message


def test_lunch_outside_working_hours_is_an_error_unless_lunch_is_switched_off() -> None:
    text = "defaults:\n  slots:\n    working_hours:\n      mon: {start: '06:00', end: '11:00'}\n"
    (found,) = errors(text)
    assert "defaults.slots.lunch: lunch 12:00-13:30 lies outside every working day" in found
    assert errors(text + "    preferences: {lunch: 0}\n") == []


def test_a_deadline_shorter_than_the_minimum_lead_is_an_error() -> None:
    text = "teams:\n  '4':\n    slots:\n      deadline_days: 1\n      min_lead_minutes: 2000\n"
    (found,) = errors(text)
    assert found.startswith("4: teams.4.slots.deadline_days: the deadline (1 days) is not after the minimum lead")


def test_not_yaml_is_an_error_with_its_line() -> None:
    (found,) = check_text("defaults:\n  slots: {slot_minutes: 30\n").errors
    assert found.message.startswith("not valid YAML")
    assert found.line == 3


def test_mw_check_exits_non_zero_on_errors_and_prints_each_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MW_STACK_FILE", raising=False)
    bad = tmp_path / "team.yaml"
    bad.write_text("defaults:\n  slots: {slot_minuts: 30}\nteams:\n  '1': {}\n  '2': {}\n")
    assert mw(["check", "--offline", "--config", str(bad)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"{bad}:2: error: defaults.slots.slot_minuts: unknown key; did you mean 'slot_minutes'?",
        f"{bad}: 1 errors, 0 warnings",
    ]
    good = tmp_path / "good.yaml"
    good.write_text(
        "defaults:\n  slots:\n    slot_minutes: 120\n    working_hours:\n"
        "      mon: {start: '07:00', end: '08:45'}\n      tue: {start: '09:00', end: '17:00'}\n"
    )
    assert mw(["check", "--offline", "--config", str(good), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == []
    assert report["warnings"][0]["path"] == "defaults.slots.slot_minutes"


def test_plan_windows_refuses_rules_that_fail_the_checks(tmp_path: Path) -> None:
    bad = tmp_path / "team.yaml"
    bad.write_text(
        "defaults:\n  slots:\n    slot_minutes: 120\n    working_hours:\n      mon: {start: '07:00', end: '08:45'}\n"
    )
    with pytest.raises(ConfigurationError, match=r"team rules refused \(2 errors, run `mw check`\): .*team.yaml:3"):
        load_checked_teams(str(bad))
    assert load_checked_teams(str(EXAMPLE)).organization
    with pytest.raises(ConfigurationError, match="not found"):
        load_checked_teams(str(tmp_path / "missing.yaml"))


def test_mw_slot_names_an_unconfigured_team_and_points_at_iana_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = tmp_path / "busy.json"
    busy.write_text("[]")
    base = ["slot", "--busy", str(busy), "--now", "2031-03-03T07:00:00Z", "--config", str(EXAMPLE)]
    assert mw([*base, "--tz", "Europe/Berlin", "--team", "9"]) == 0
    assert "team 9 is not in the configuration; it uses the defaults" in capsys.readouterr().err
    assert mw([*base, "--tz", "PST"]) == 1
    assert "America/Los_Angeles" in capsys.readouterr().err
