"""The team configuration file (YAML), validated with pydantic at cold start.

    organization: Acme
    contact: "the IT help desk (#it-help or it@acme.example)"
    help_links: [https://help.acme.example/]   # the only web addresses event text may show
    defaults:            # TeamRules applied to every team
      domains: [acme.example]
    teams:
      "3":               # Fleet team id; these fields override the defaults, nested maps merged
        name: Workstations
        slots: {deadline_days: 5}

docs/configuration.md documents every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from maintenance_windows.config.settings import ConfigurationError
from maintenance_windows.domain import calendar_providers
from maintenance_windows.domain.caldav_server import CalDavServer
from maintenance_windows.domain.calendar_providers import ProviderChoice, ProviderClaim
from maintenance_windows.domain.input_problems import summary
from maintenance_windows.domain.rules import SlotRules, TeamRules


class TeamsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    organization: str = Field(default="Your organisation", min_length=1, max_length=100)
    contact: str = Field(default="your IT team", max_length=300)
    help_links: tuple[Annotated[str, Field(pattern=r"^https://[^\s/?#]+[^\s]*$", max_length=300)], ...] = ()
    defaults: TeamRules = Field(default_factory=TeamRules)
    teams: dict[int, TeamRules] = Field(default_factory=dict)

    def rules_for(self, team_id: int | None) -> TeamRules:
        """A team's rules; hosts in no team (or an unconfigured one) follow the defaults."""
        if team_id is not None and team_id in self.teams:
            return self.teams[team_id]
        return self.defaults

    def slot_rules_for(self, team_id: int | None, zone: str) -> SlotRules:
        """A team's slot rules for a person in ``zone``: its matching region's hours, lunch and holidays."""
        return self.rules_for(team_id).slots.for_zone(zone)

    def calendar_choice(self) -> ProviderChoice:
        """Which provider holds each person's calendar, by email domain (domain/calendar_providers.py)."""
        teams = [_claim(f"team {key}", rules) for key, rules in self.teams.items()]
        return calendar_providers.resolve(_claim("defaults", self.defaults), teams)

    @model_validator(mode="after")
    def _one_provider_per_domain(self) -> TeamsConfig:
        self.calendar_choice()  # a ValueError here names the domains two rule sets disagree on
        return self

    def caldav_server_for(self, email: str) -> CalDavServer | None:
        """The CalDAV server of a person on CalDAV: the rule set that gives their domain to caldav (an
        explicit calendar_domains entry first, then a team listing the domain), else the defaults'."""
        domain = email.rpartition("@")[2].strip().lower()
        rule_sets = [self.defaults, *self.teams.values()]
        explicit = [r for r in rule_sets if r.calendar_domains.get(domain) == "caldav" and r.caldav]
        listing = [r for r in self.teams.values() if r.calendar == "caldav" and domain in r.domains and r.caldav]
        return next((r.caldav for r in [*explicit, *listing]), self.defaults.caldav)

    @model_validator(mode="after")
    def _caldav_has_a_server(self) -> TeamsConfig:
        named = [("defaults", self.defaults), *((f"team {key}", rules) for key, rules in self.teams.items())]
        for source, rules in named:
            uses = rules.calendar == "caldav" or "caldav" in rules.calendar_domains.values()
            if uses and rules.caldav is None and self.defaults.caldav is None:
                raise ValueError(f"{source} uses calendar: caldav but no caldav server (caldav.url) is given")
        return self


def _claim(source: str, rules: TeamRules) -> ProviderClaim:
    return ProviderClaim(source, rules.calendar, tuple(rules.domains), dict(rules.calendar_domains))


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merged_team(defaults: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A team's rules as written, over the defaults (nested maps merged, lists replaced)."""
    return _deep_merge(defaults, override)


def parse_teams(raw: Any, source: str = "<config>") -> TeamsConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: the top level must be a mapping, not {type(raw).__name__}")
    defaults = raw.get("defaults") or {}
    teams = raw.get("teams") or {}
    if not isinstance(defaults, Mapping) or not isinstance(teams, Mapping):
        raise ConfigurationError(f"{source}: 'defaults' and 'teams' must be mappings")
    expanded = dict(raw)
    expanded["teams"] = {
        key: _deep_merge(defaults, value) if isinstance(value, Mapping) else value for key, value in teams.items()
    }
    try:
        return TeamsConfig.model_validate(expanded)
    except ValidationError as invalid:
        raise ConfigurationError(f"{source}: {summary(invalid)}") from None


def load_teams(path: str | None) -> TeamsConfig:
    """Read and validate the file; with no path, the documented defaults apply."""
    if not path:
        return TeamsConfig()
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: team configuration file not found") from None
    except yaml.YAMLError as problem:
        raise ConfigurationError(f"{path}: not valid YAML: {problem}") from None
    return parse_teams(raw, str(path))
