"""Which of a host's device-mapping emails owns the host's calendar.

Fleet reports several emails per host, each with the source that found it. Since Dec 2025 Fleet ranks
the identity provider first, then Google Chrome profiles, then the rest; we do the same, and only
count emails in the team's Google Workspace domains, because a calendar outside them cannot be booked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class EmailMapping(Protocol):
    """What we read from a device-mapping row (ports.fleet.DeviceEmail satisfies it)."""

    @property
    def email(self) -> str: ...

    @property
    def source(self) -> str: ...


#: Source names in rank order; every name of one tuple shares its rank. Fleet has spelt the
#: identity-provider source three ways: "mdm_idp_accounts" (database), "identity_provider" (REST docs)
#: and "idp" (set by hand through PUT device_mapping).
SOURCE_RANKING: tuple[tuple[str, ...], ...] = (
    ("idp", "identity_provider", "mdm_idp_accounts"),
    ("google_chrome_profiles",),
    ("custom", "custom_installer", "custom_override"),
)
#: Fleet stores custom sources as "custom_<how>" and shows them as "custom".
_CUSTOM_PREFIX = "custom_"
_CUSTOM_RANK = 2
UNRANKED = len(SOURCE_RANKING)


def source_rank(source: str) -> int:
    """0 for the identity provider, 1 for Chrome profiles, 2 for custom, 3 for anything else."""
    normalized = source.strip().lower()
    for rank, names in enumerate(SOURCE_RANKING):
        if normalized in names:
            return rank
    if normalized.startswith(_CUSTOM_PREFIX):
        return _CUSTOM_RANK
    return UNRANKED


@dataclass(frozen=True)
class EmailChoice:
    """The chosen email (lower-cased) and its source, or None and a reason a person can read."""

    email: str | None
    source: str | None = None
    reason: str | None = None
    #: Every in-domain email in rank order, the chosen one first; more than one hints at a shared machine.
    candidates: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.email is not None


@dataclass(frozen=True)
class _Candidate:
    email: str
    source: str

    @property
    def sort_key(self) -> tuple[int, str, str]:
        # The source name breaks ties between unranked sources so the order never depends on Fleet's.
        return (source_rank(self.source), self.source, self.email)

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    def describe(self) -> str:
        return f"{self.email} ({self.source})"


def normalize_domains(domains: Iterable[str]) -> frozenset[str]:
    return frozenset(d.strip().lower().lstrip("@") for d in domains if d.strip().lstrip("@"))


def choose_email(mappings: Sequence[EmailMapping], domains: Sequence[str]) -> EmailChoice:
    """Pick the best-ranked email whose domain is one of `domains` (any domain if `domains` is empty)."""
    allowed = normalize_domains(domains)
    everything = _ranked_candidates(mappings)
    in_domain = [c for c in everything if not allowed or c.domain in allowed]
    if in_domain:
        best = in_domain[0]
        return EmailChoice(
            email=best.email,
            source=best.source,
            candidates=tuple(dict.fromkeys(c.email for c in in_domain)),
        )
    return EmailChoice(email=None, reason=_no_email_reason(everything, allowed))


def _ranked_candidates(mappings: Sequence[EmailMapping]) -> list[_Candidate]:
    unique: dict[tuple[str, str], _Candidate] = {}
    for mapping in mappings:
        email = mapping.email.strip().lower()
        source = mapping.source.strip().lower()
        if _looks_like_email(email):
            unique.setdefault((email, source), _Candidate(email, source))
    return sorted(unique.values(), key=lambda c: c.sort_key)


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain and " " not in value)


def _no_email_reason(everything: Sequence[_Candidate], allowed: frozenset[str]) -> str:
    if not everything:
        return "Fleet has no device-mapping email for this host"
    where = " or ".join(sorted(allowed))
    found = ", ".join(c.describe() for c in everything)
    return f"no device-mapping email in {where} (found: {found})"
