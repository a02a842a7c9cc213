"""`mw check`: the team rules against the schema, against rules that cannot work, against Fleet and Google.

Settings come from the local stack when one is running, else from the environment (MW_FLEET_URL,
MW_FLEET_API_TOKEN, MW_TEAM_CONFIG, MW_GEMINI_MODEL...), as the deployed functions read them.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import yaml

from maintenance_windows.cli.commands import EXTRA_COMMANDS, fail
from maintenance_windows.cli.stack_info import StackNotRunning, load_stack, use_stack_environment
from maintenance_windows.cli.tables import print_json
from maintenance_windows.config.check import CheckedConfig, Finding, check_text
from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.config.teams import TeamsConfig


def register(sub: Any) -> None:
    check = sub.add_parser("check", help="check the team rules before they bite (exit 1 on errors)")
    check.add_argument("--config", help="team configuration YAML (default: MW_TEAM_CONFIG)")
    check.add_argument("--offline", action="store_true", help="skip the Fleet and Google checks")
    check.add_argument("--user", help="a sample user whose calendar delegation is tried")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    with contextlib.suppress(StackNotRunning):  # deployed: the environment holds the settings
        use_stack_environment(load_stack())
    try:
        settings = Settings.from_env()
    except ConfigurationError as problem:
        return fail(str(problem))
    source = args.config or settings.team_config_path
    try:
        text = Path(source).read_text() if source else ""
    except OSError as problem:
        return fail(f"cannot read {source}: {problem}")
    checked = check_text(text)
    findings = list(checked.findings)
    if not args.offline:
        findings += online_findings(checked, text, settings, args.user)
    return report(findings, source or "(no file: the documented defaults)", args.json)


def online_findings(checked: CheckedConfig, text: str, settings: Settings, user: str | None) -> list[Finding]:
    found: list[Finding] = []
    if checked.config is not None and settings.fleet_url and settings.fleet_api_token:
        found += _fleet(checked, text, settings)
    elif checked.config is not None:
        found.append(Finding("warning", "fleet", "MW_FLEET_URL / MW_FLEET_API_TOKEN unset: Fleet not checked"))
    if settings.ai_enabled:
        found += _gemini(settings)
    if user:
        found += _delegation(settings, user, checked.config)
    return found


def _fleet(checked: CheckedConfig, text: str, settings: Settings) -> list[Finding]:
    from maintenance_windows.adapters.fleet_http import FleetHttpClient
    from maintenance_windows.config.fleet_check import fleet_findings
    from maintenance_windows.ports.fleet import FleetError

    client = FleetHttpClient.from_settings(settings)
    try:
        return fleet_findings(checked, yaml.safe_load(text) or {}, client)
    except FleetError as problem:
        return [Finding("error", "fleet", f"Fleet at {settings.fleet_url} cannot be read: {problem}")]
    finally:
        client.close()


def _gemini(settings: Settings) -> list[Finding]:
    from maintenance_windows.adapters.gemini_explainer import GeminiExplainer, GeminiModelUnavailable

    try:
        GeminiExplainer.from_settings(settings).verify_model()
    except GeminiModelUnavailable as problem:
        return [Finding("error", "MW_GEMINI_MODEL", str(problem))]
    except Exception as problem:  # noqa: BLE001  # any failure means the check could not run: not a rule error
        return [Finding("warning", "MW_GEMINI_MODEL", f"could not check the model: {type(problem).__name__}")]
    return []


def _delegation(settings: Settings, user: str, config: TeamsConfig | None) -> list[Finding]:
    """Read the user's time zone through their provider (the rules' calendar choice): Google's delegation
    or Microsoft 365's app access are what this proves."""
    from maintenance_windows.adapters.google_calendar import GoogleCalendarAdapter
    from maintenance_windows.adapters.microsoft_graph import GraphCalendarAdapter
    from maintenance_windows.ports.calendar import CalendarError, CalendarPort

    on_microsoft = config is not None and config.calendar_choice().provider_of(user) == "microsoft"
    try:
        calendar: CalendarPort = (
            GraphCalendarAdapter.from_settings(settings)
            if on_microsoft
            else GoogleCalendarAdapter.from_settings(settings)
        )
        zones = calendar.time_zones([user])
    except Exception as problem:  # noqa: BLE001  # every failure means the same here: delegation does not work
        return [Finding("error", "--user", f"cannot read {user}'s calendar: {type(problem).__name__}: {problem}")]
    if user not in zones:
        return [Finding("error", "--user", f"cannot read {user}'s calendar settings (see the log line above)")]
    if isinstance(zones[user], CalendarError):
        return [Finding("error", "--user", f"cannot read {user}'s calendar: {zones[user]}")]
    return []


def report(findings: list[Finding], source: str, as_json: bool) -> int:
    ordered = sorted(findings, key=lambda f: f.line or 0)
    errors = [f for f in ordered if f.severity == "error"]
    warnings = [f for f in ordered if f.severity == "warning"]
    if as_json:
        print_json(
            {
                "source": source,
                "errors": [vars(f) for f in errors],
                "warnings": [vars(f) for f in warnings],
            }
        )
    else:
        for finding in [*errors, *warnings]:
            print(finding.render(source))
        print(f"{source}: {len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


EXTRA_COMMANDS.append(register)
