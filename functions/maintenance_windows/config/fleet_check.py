"""`mw check` against Fleet: every policy, script and software title the actions name exists for its team.

A team configured here uses its own `actions:` or, when it has none, the defaults'; Fleet teams that are not
configured, and hosts in no team, use the defaults. So the defaults are checked against each of those.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from maintenance_windows.config.check import CheckedConfig, Finding, PathPart, format_path
from maintenance_windows.domain.remediation import PolicyActions, ScriptAction, SoftwareInstallAction
from maintenance_windows.ports.fleet import FleetCatalogPort, FleetError


@dataclass
class _TeamCatalog:
    """What Fleet defines for one team (None: hosts in no team), read once."""

    label: str
    policy_ids: set[int] = field(default_factory=set)
    script_ids: set[int] = field(default_factory=set)
    script_names: set[str] = field(default_factory=set)
    software_ids: set[int] = field(default_factory=set)


def fleet_findings(checked: CheckedConfig, raw: Mapping[str, Any], fleet: FleetCatalogPort) -> list[Finding]:
    config = checked.config
    if config is None:
        return []
    findings: list[Finding] = []
    configured = set(config.teams)
    try:
        fleet_teams = {team.team_id: team.name for team in fleet.list_teams()}
    except FleetError as problem:
        fleet_teams = {}
        findings.append(Finding("warning", "teams", f"cannot list Fleet's teams ({problem}); only no-team is checked"))
    for team_id in sorted(configured - set(fleet_teams)) if fleet_teams else ():
        path = ("teams", str(team_id))
        known = ", ".join(f"{i} {name}" for i, name in sorted(fleet_teams.items()))
        findings.append(
            Finding("error", format_path(path), f"Fleet has no team {team_id} (it has: {known})", checked.line_of(path))
        )
    for team_id in sorted(set(fleet_teams) - configured):
        name = fleet_teams[team_id]
        message = f"Fleet team {team_id} ({name}) has no rules here: it uses the defaults"
        findings.append(Finding("warning", "teams", message))
    for team_id in sorted(configured & set(fleet_teams)) if fleet_teams else sorted(configured):
        origin = _origin_of_actions(raw, team_id)
        label = f"team {team_id} ({fleet_teams.get(team_id, '?')})"
        findings += _checked_against(fleet, team_id, label, config.teams[team_id].actions, origin, checked)
    uses_defaults: list[int | None] = [None, *sorted(set(fleet_teams) - configured)]
    for default_team in uses_defaults:
        label = "hosts in no team" if default_team is None else f"team {default_team} ({fleet_teams[default_team]})"
        findings += _checked_against(fleet, default_team, label, config.defaults.actions, ("defaults",), checked)
    return list(dict.fromkeys(findings))


def _checked_against(
    fleet: FleetCatalogPort,
    team_id: int | None,
    label: str,
    entries: list[PolicyActions],
    origin: tuple[PathPart, ...],
    checked: CheckedConfig,
) -> list[Finding]:
    if not entries:
        return []
    try:
        catalog = _read(fleet, team_id, label)
    except FleetError as problem:
        return [Finding("warning", format_path(origin), f"cannot read what Fleet defines for {label}: {problem}")]
    return list(_entry_findings(entries, origin, catalog, checked))


def _origin_of_actions(raw: Mapping[str, Any], team_id: int) -> tuple[PathPart, ...]:
    for key, rules in (raw.get("teams") or {}).items():
        if str(key) == str(team_id) and isinstance(rules, Mapping) and "actions" in rules:
            return ("teams", str(key))
    return ("defaults",)


def _read(fleet: FleetCatalogPort, team_id: int | None, label: str) -> _TeamCatalog:
    catalog = _TeamCatalog(label)
    catalog.policy_ids = {p.policy_id for p in fleet.list_policies(team_id)}
    scripts = fleet.list_scripts(team_id)
    catalog.script_ids = {s.script_id for s in scripts}
    catalog.script_names = {s.name for s in scripts}
    catalog.software_ids = {t.title_id for t in fleet.installable_software(team_id or 0)}
    return catalog


def _entry_findings(
    entries: list[PolicyActions], origin: tuple[PathPart, ...], catalog: _TeamCatalog, checked: CheckedConfig
) -> Iterator[Finding]:
    for index, entry in enumerate(entries):
        here = (*origin, "actions", index)
        if entry.policy_id is not None and entry.policy_id not in catalog.policy_ids:
            yield _error(checked, (*here, "policy_id"), f"policy {entry.policy_id} does not exist for {catalog.label}")
        for position, action in enumerate(entry.actions):
            path = (*here, "actions", position)
            if isinstance(action, ScriptAction):
                yield from _script_findings(action, path, catalog, checked)
            if isinstance(action, SoftwareInstallAction) and action.software_title_id not in catalog.software_ids:
                yield _error(
                    checked,
                    (*path, "software_title_id"),
                    f"software title {action.software_title_id} is not available for install to {catalog.label}",
                )


def _script_findings(
    action: ScriptAction, path: tuple[PathPart, ...], catalog: _TeamCatalog, checked: CheckedConfig
) -> Iterator[Finding]:
    if action.script_id is not None and action.script_id not in catalog.script_ids:
        yield _error(checked, (*path, "script_id"), f"script {action.script_id} is not saved for {catalog.label}")
    if action.script_name is not None and action.script_name not in catalog.script_names:
        close = difflib.get_close_matches(action.script_name, sorted(catalog.script_names), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        yield _error(
            checked, (*path, "script_name"), f"script {action.script_name!r} is not saved for {catalog.label}{hint}"
        )


def _error(checked: CheckedConfig, parts: tuple[PathPart, ...], message: str) -> Finding:
    return Finding("error", format_path(parts), message, checked.line_of(parts))
