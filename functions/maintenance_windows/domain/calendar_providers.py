"""Which calendar provider holds a person's calendar: Google Workspace, Microsoft 365 or a CalDAV server.

A mailbox lives with one provider, and which one follows from the address's domain (its mail is routed
there), so the choice is made per email domain, never per host or window: the same person always reaches
the same adapter. The team rules say it two ways (docs/configuration.md):

- `calendar: microsoft` on a team: the team's `domains` are on Microsoft 365;
- `calendar_domains: {contoso.example: microsoft}` (anywhere, usually in `defaults`): one domain, explicitly.

An explicit domain entry wins; then the teams that list the domain; then the defaults' `calendar`.
Two teams that list the same domain with different providers are a configuration error (`conflicts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

CalendarProvider = Literal["google", "microsoft", "caldav"]
PROVIDERS: tuple[CalendarProvider, ...] = ("google", "microsoft", "caldav")


@dataclass(frozen=True)
class ProviderClaim:
    """One rule set's say on providers: its own domains with its `calendar`, and its explicit entries."""

    source: str  # "defaults" or "team 3", for error messages
    provider: CalendarProvider
    domains: Sequence[str]
    explicit: Mapping[str, CalendarProvider]


@dataclass(frozen=True)
class ProviderChoice:
    """The resolved choice: email domain → provider, and the provider for every other domain."""

    by_domain: Mapping[str, CalendarProvider]
    default: CalendarProvider = "google"

    def provider_of(self, email: str) -> CalendarProvider:
        domain = email.rpartition("@")[2].strip().lower()
        return self.by_domain.get(domain, self.default)

    @property
    def in_use(self) -> frozenset[CalendarProvider]:
        return frozenset({self.default, *self.by_domain.values()})


def resolve(defaults: ProviderClaim, teams: Iterable[ProviderClaim]) -> ProviderChoice:
    """The choice the claims make; raises ValueError naming the domains two claims disagree on."""
    claims = [defaults, *teams]
    problems = conflicts(claims)
    if problems:
        raise ValueError("; ".join(problems))
    by_domain: dict[str, CalendarProvider] = {}
    for claim in claims:
        for domain in claim.domains:
            by_domain.setdefault(_normal(domain), claim.provider)
    for claim in claims:
        for domain, provider in claim.explicit.items():
            by_domain[_normal(domain)] = provider
    return ProviderChoice(by_domain, defaults.provider)


def conflicts(claims: Sequence[ProviderClaim]) -> list[str]:
    """Domains given two different providers, explicitly or through the teams that list them."""
    explicit: dict[str, dict[CalendarProvider, list[str]]] = {}
    listed: dict[str, dict[CalendarProvider, list[str]]] = {}
    for claim in claims:
        for domain, provider in claim.explicit.items():
            explicit.setdefault(_normal(domain), {}).setdefault(provider, []).append(claim.source)
        for domain in claim.domains:
            listed.setdefault(_normal(domain), {}).setdefault(claim.provider, []).append(claim.source)
    problems = [
        f"calendar_domains gives {domain} two providers ({_sources(providers)})"
        for domain, providers in sorted(explicit.items())
        if len(providers) > 1
    ]
    problems += [
        f"{domain} is listed by teams with different calendars ({_sources(providers)}); say which in calendar_domains"
        for domain, providers in sorted(listed.items())
        if len(providers) > 1 and domain not in explicit
    ]
    return problems


def _sources(providers: Mapping[CalendarProvider, list[str]]) -> str:
    return ", ".join(f"{provider}: {' and '.join(sources)}" for provider, sources in sorted(providers.items()))


def _normal(domain: str) -> str:
    return domain.strip().lower().lstrip("@")
