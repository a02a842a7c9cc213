"""`mw check`, offline part: the team configuration against its schema and against rules that cannot work.

Every finding names the path as the YAML reads it (`teams.3.slots.slot_minutes`) and its line. Teams
inherit the defaults, so a mistake in `defaults` would fail in every team too: it is reported once, at
`defaults`. plan_windows runs the same checks at cold start and refuses rules that have errors.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from maintenance_windows.config.settings import ConfigurationError
from maintenance_windows.config.teams import TeamsConfig, merged_team, parse_teams
from maintenance_windows.domain.remediation import LINUX_PLATFORMS
from maintenance_windows.domain.rules import TeamRules

Severity = Literal["error", "warning"]
PathPart = str | int

#: Fleet's platform names (server/fleet/hosts.go), "linux" for every distribution, and the macOS aliases.
KNOWN_PLATFORMS = frozenset({"darwin", "windows", "ios", "ipados", "chrome", "android", "macos", "mac"}) | (
    LINUX_PLATFORMS
)
_IANA_HINT = "use an IANA time zone name such as Europe/Berlin or America/Los_Angeles"
_ZONE_POINTERS = {
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "MST": "America/Denver",
    "CST": "America/Chicago",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "BST": "Europe/London",
    "CET": "Europe/Berlin",
    "CEST": "Europe/Berlin",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "AEST": "Australia/Sydney",
}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    path: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.severity}: {self.path or '(top level)'}: {self.message}"


@dataclass(frozen=True)
class CheckedConfig:
    findings: list[Finding]
    #: The parsed configuration, or None when the schema refused it.
    config: TeamsConfig | None
    root: yaml.Node | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def line_of(self, parts: Sequence[PathPart]) -> int | None:
        return node_line(self.root, parts)[0]


def check_text(text: str) -> CheckedConfig:
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return CheckedConfig([Finding("error", "", f"not valid YAML: {problem}", line)], None)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return CheckedConfig([Finding("error", "", "the top level must be a mapping", 1)], None, root)
    findings = _dedupe([*_schema_findings(raw, root), *_platform_findings(raw, root)])
    if any(f.severity == "error" for f in findings):
        return CheckedConfig(findings, None, root)
    config = parse_teams(raw)
    checked = CheckedConfig(findings, config, root)
    return CheckedConfig(_dedupe([*findings, *impossible_rules(checked, raw)]), config, root)


def time_zone_problem(name: str) -> str | None:
    """None for a valid IANA name, else what to write instead (PST, UTC+1 and the like are not IANA names)."""
    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        pass
    pointer = _ZONE_POINTERS.get(name.strip().upper())
    if pointer:
        return f"{name!r} is an abbreviation, not an IANA time zone name; use e.g. {pointer}"
    if re.fullmatch(r"(?i)(utc|gmt)\s*[+-]\s*\d{1,2}(:?\d\d)?", name.strip()):
        return f"{name!r} is a fixed offset, not an IANA time zone name (offsets miss summer time); {_IANA_HINT}"
    return f"{name!r} is not a known time zone; {_IANA_HINT}"


# -- schema ---------------------------------------------------------------------------------------


def _schema_findings(raw: Mapping[str, Any], root: yaml.Node | None) -> list[Finding]:
    defaults = raw.get("defaults") or {}
    teams = raw.get("teams") or {}
    top = {key: value for key, value in raw.items() if key not in ("defaults", "teams")}
    findings = _validate(TeamsConfig, top, (), root)
    if not isinstance(defaults, Mapping) or not isinstance(teams, Mapping):
        bad = "defaults" if not isinstance(defaults, Mapping) else "teams"
        return [*findings, Finding("error", bad, "must be a mapping", node_line(root, (bad,))[0])]
    inherited = _validate(TeamRules, defaults, ("defaults",), root)
    findings += inherited
    seen = {(f.path.removeprefix("defaults"), f.message) for f in inherited}
    for key, override in teams.items():
        prefix: tuple[PathPart, ...] = ("teams", str(key))
        if not _is_team_id(key):
            findings.append(
                Finding("error", f"teams.{key}", "team keys are Fleet team ids (numbers)", node_line(root, prefix)[0])
            )
            continue
        if not isinstance(override, Mapping):
            findings.append(Finding("error", f"teams.{key}", "must be a mapping", node_line(root, prefix)[0]))
            continue
        for finding in _validate(TeamRules, merged_team(defaults, override), prefix, root):
            relative = finding.path.removeprefix(f"teams.{key}")
            own = node_line(root, (*prefix, *_split(relative)))[1]
            if not own and (relative, finding.message) in seen:
                continue  # inherited from defaults, reported there
            findings.append(finding)
    return findings


def _is_team_id(key: object) -> bool:
    return isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit())


def _validate(
    model: type[BaseModel], value: Any, prefix: tuple[PathPart, ...], root: yaml.Node | None
) -> list[Finding]:
    try:
        model.model_validate(value)
    except ValidationError as invalid:
        return [_finding_of(issue, model, prefix, root) for issue in invalid.errors(include_url=False)]
    return []


def _finding_of(issue: Any, model: type[BaseModel], prefix: tuple[PathPart, ...], root: yaml.Node | None) -> Finding:
    parts, parent = _yaml_path(model, issue["loc"])
    full = (*prefix, *parts)
    message = str(issue["msg"]).removeprefix("Value error, ")
    kind = issue["type"]
    if kind == "extra_forbidden":
        message = "unknown key" + _did_you_mean(str(parts[-1]), _field_names(parent)) + _zone_hint(parts, issue)
    elif kind in ("literal_error", "enum"):
        expected = re.findall(r"'([^']*)'", str((issue.get("ctx") or {}).get("expected", "")))
        message = f"{issue['input']!r} is not one of {', '.join(expected)}" + _did_you_mean(
            str(issue["input"]), expected
        )
    return Finding("error", format_path(full), message, node_line(root, full)[0])


def _zone_hint(parts: Sequence[PathPart], issue: Any) -> str:
    if not re.search(r"zone|^tz$", str(parts[-1]), re.IGNORECASE):
        return ""
    hint = (
        "; each user's time zone comes from their calendar settings, not from this file; "
        "slots.fallback_time_zone only stands in for a calendar without one"
    )
    problem = time_zone_problem(str(issue["input"])) if isinstance(issue["input"], str) else None
    return hint + (f" (and {problem})" if problem else "")


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _field_names(annotation: Any) -> list[str]:
    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return sorted({name for m in models for name in m.model_fields})


def _yaml_path(model: type[BaseModel], loc: Sequence[PathPart]) -> tuple[list[PathPart], Any]:
    """The loc without pydantic's union tags, and the annotation holding its last part."""
    parts: list[PathPart] = []
    current: Any = model
    parent: Any = model
    for part in loc:
        members = _members(current)
        tagged = [m for m in members if _model_tag(m) == part]
        if tagged:
            current = tagged[0]
            continue
        parent = current
        parts.append(part)
        current = _child(members, part)
    return parts, parent


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _child(members: Sequence[Any], part: PathPart) -> Any:
    for member in members:
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and part in member.model_fields:
            return member.model_fields[str(part)].annotation
        if origin is list and isinstance(part, int):
            return typing.get_args(member)[0]
        if origin is dict:
            return typing.get_args(member)[1]
    return None


def _model_tag(member: Any) -> str | None:
    if not (isinstance(member, type) and issubclass(member, BaseModel)) or "type" not in member.model_fields:
        return None
    values = typing.get_args(member.model_fields["type"].annotation)
    return str(values[0]) if len(values) == 1 else None


def format_path(parts: Sequence[PathPart]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _split(path: str) -> list[PathPart]:
    return [int(p) if p.isdigit() and f"[{p}]" in path else p for p in re.findall(r"[^.\[\]]+", path)]


def node_line(root: yaml.Node | None, parts: Sequence[PathPart]) -> tuple[int | None, bool]:
    """The 1-based line of the deepest node the path reaches, and whether it reached the whole path."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in parts:
        found = _step(node, part)
        if found is None:
            return line, False
        node, line = found
    return line, True


def _step(node: yaml.Node | None, part: PathPart) -> tuple[yaml.Node, int] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


# -- platforms ------------------------------------------------------------------------------------


def _platform_findings(raw: Mapping[str, Any], root: yaml.Node | None) -> list[Finding]:
    """Lists are replaced, not merged, so each `actions:` is checked where it is written."""
    findings = []
    for prefix, rules in _written_rules(raw):
        actions = rules.get("actions")
        for index, entry in enumerate(actions if isinstance(actions, list) else []):
            platforms = entry.get("platforms") if isinstance(entry, Mapping) else None
            for position, name in enumerate(platforms if isinstance(platforms, list) else []):
                if str(name).strip().lower() in KNOWN_PLATFORMS:
                    continue
                path = (*prefix, "actions", index, "platforms", position)
                message = f"{name!r} is not a Fleet platform" + _did_you_mean(str(name), sorted(KNOWN_PLATFORMS))
                findings.append(Finding("error", format_path(path), message, node_line(root, path)[0]))
    return findings


def _written_rules(raw: Mapping[str, Any]) -> Iterator[tuple[tuple[PathPart, ...], Mapping[str, Any]]]:
    if isinstance(raw.get("defaults"), Mapping):
        yield ("defaults",), raw["defaults"]
    teams = raw.get("teams")
    for key, rules in teams.items() if isinstance(teams, Mapping) else ():
        if isinstance(rules, Mapping):
            yield ("teams", str(key)), rules


# -- rules that cannot work -----------------------------------------------------------------------


def impossible_rules(checked: CheckedConfig, raw: Mapping[str, Any]) -> list[Finding]:
    config = checked.config
    if config is None:
        return []
    inherited = set(_rule_problems(config.defaults))
    findings = [_at(checked, ("defaults",), key, severity, text) for key, severity, text in inherited]
    for key in raw.get("teams") or {}:
        for problem in _rule_problems(config.teams[int(key)]):
            if problem not in inherited:
                findings.append(_at(checked, ("teams", str(key)), *problem))
    return findings


def _at(checked: CheckedConfig, prefix: tuple[PathPart, ...], key: str, severity: Severity, text: str) -> Finding:
    parts = (*prefix, *key.split("."))
    return Finding(severity, format_path(parts), text, checked.line_of(parts))


def _rule_problems(rules: TeamRules) -> list[tuple[str, Severity, str]]:
    slots = rules.slots
    problems: list[tuple[str, Severity, str]] = []
    if not slots.working_hours:
        return [("slots.working_hours", "error", "no working day is set, so no window can ever be booked")]
    day_minutes = {day: _minutes(hours.start, hours.end) for day, hours in slots.working_hours.items()}
    short = sorted((d for d, length in day_minutes.items() if length < slots.slot_minutes), key=_weekday_order)
    if len(short) == len(day_minutes):
        longest = max(day_minutes.values())
        problems.append(
            (
                "slots.slot_minutes",
                "error",
                f"a {slots.slot_minutes}-minute slot is longer than every working day "
                f"(the longest is {longest} minutes)",
            )
        )
    elif short:
        problems.append(
            (
                "slots.slot_minutes",
                "warning",
                f"a {slots.slot_minutes}-minute slot does not fit in {', '.join(short)}: "
                "no window is booked on those days",
            )
        )
    lunch = slots.lunch
    if slots.preferences.lunch > 0 and not any(
        lunch.start < hours.end and hours.start < lunch.end for hours in slots.working_hours.values()
    ):
        problems.append(
            (
                "slots.lunch",
                "error",
                f"lunch {lunch.start:%H:%M}-{lunch.end:%H:%M} lies outside every working day; "
                "move it inside working_hours or set preferences.lunch to 0",
            )
        )
    if slots.deadline_days * 24 * 60 <= slots.min_lead_minutes:
        problems.append(
            (
                "slots.deadline_days",
                "error",
                f"the deadline ({slots.deadline_days} days) is not after the minimum lead "
                f"({slots.min_lead_minutes} minutes), so every window would be late",
            )
        )
    return problems + _rollout_problems(rules)


def _rollout_problems(rules: TeamRules) -> list[tuple[str, Severity, str]]:
    """Pilot and exclude entries that cannot do what they say."""
    problems: list[tuple[str, Severity, str]] = []
    domains = set(rules.domains)
    for key, audience in (("pilot", rules.pilot), ("exclude", rules.exclude)):
        outside = [e for e in (audience.emails if audience else []) if domains and e.split("@")[1] not in domains]
        if outside:
            problems.append(
                (
                    f"{key}.emails",
                    "warning",
                    f"{', '.join(outside)}: not in the team's domains "
                    f"({', '.join(sorted(domains))}), so never booked whatever this list says",
                )
            )
    if rules.pilot is not None:
        both = sorted(set(rules.pilot.emails) & set(rules.exclude.emails))
        labels = sorted({n.casefold() for n in rules.pilot.labels} & {n.casefold() for n in rules.exclude.labels})
        if both or labels:
            problems.append(
                ("pilot", "warning", f"{', '.join([*both, *labels])}: both in the pilot and excluded; excluded wins")
            )
    return problems


def _minutes(start: Any, end: Any) -> int:
    day = datetime(2000, 1, 1)
    return int((datetime.combine(day, end) - datetime.combine(day, start)) / timedelta(minutes=1))


def _weekday_order(day: str) -> int:
    return ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(day)


def load_checked_teams(path: str | None) -> TeamsConfig:
    """The file's rules, refused (ConfigurationError, every error on one line) when the checks find errors."""
    if not path:
        return TeamsConfig()
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: team configuration file not found") from None
    checked = check_text(text)
    if checked.errors or checked.config is None:
        problems = "; ".join(f.render(path) for f in checked.errors)
        raise ConfigurationError(f"team rules refused ({len(checked.errors)} errors, run `mw check`): {problems}")
    return checked.config
