"""The seed file: what the stand-in Fleet knows at start (and after /_admin/reset).

The same models hold the live state, so the admin API and the Fleet API see one source of truth.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PolicyResponse = Literal["pass", "fail", ""]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedEmail(_Model):
    email: str
    source: str = "google_chrome_profiles"


class SeedHost(_Model):
    id: int = Field(gt=0)
    uuid: str = Field(min_length=1)
    hardware_serial: str = ""
    platform: str = "darwin"
    team_id: int | None = None
    display_name: str = ""
    hostname: str = ""
    emails: list[SeedEmail] = Field(default_factory=list)
    #: policy id → "pass" | "fail" | "" (not run yet). JSON keys are strings; pydantic makes them ints.
    policies: dict[int, PolicyResponse] = Field(default_factory=dict)
    mdm_enrolled: bool = True
    refetch_requested: bool = False

    @property
    def name(self) -> str:
        return self.display_name or self.hostname or f"host-{self.id}"


class SeedPolicy(_Model):
    id: int = Field(gt=0)
    name: str
    description: str = ""
    resolution: str = ""
    query: str = "SELECT 1;"
    platform: str = ""
    critical: bool = False
    team_id: int | None = None


class SeedScript(_Model):
    id: int = Field(gt=0)
    name: str
    team_id: int | None = None
    contents: str = "#!/bin/sh\necho done"
    exit_code: int = 0
    output: str = "done"


class SeedSoftwareTitle(_Model):
    id: int = Field(gt=0)
    name: str
    #: Teams with an installer for this title (None: installable everywhere). 0 stands for "no team".
    team_ids: list[int] | None = None


class Seed(_Model):
    hosts: list[SeedHost] = Field(default_factory=list)
    policies: list[SeedPolicy] = Field(default_factory=list)
    scripts: list[SeedScript] = Field(default_factory=list)
    software_titles: list[SeedSoftwareTitle] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Seed:
        for kind, ids in (
            ("host id", [h.id for h in self.hosts]),
            ("host uuid", [h.uuid for h in self.hosts]),
            ("policy id", [p.id for p in self.policies]),
            ("script id", [s.id for s in self.scripts]),
            ("software title id", [t.id for t in self.software_titles]),
        ):
            duplicates = _duplicates(ids)
            if duplicates:
                raise ValueError(f"duplicate {kind}: {', '.join(duplicates)}")
        return self


def _duplicates(values: Sequence[object]) -> list[str]:
    return sorted(str(value) for value, count in Counter(values).items() if count > 1)


class SeedError(Exception):
    pass


def parse_seed(data: dict[str, Any] | None) -> Seed:
    try:
        return Seed.model_validate(data or {})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in issue['loc'])}: {issue['msg']}" for issue in error.errors())
        raise SeedError(f"invalid seed: {problems}") from None


def load_seed_file(path: str | Path) -> Seed:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SeedError(f"cannot read seed file {path}: {error}") from None
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path} must hold a JSON object")
    return parse_seed(data)
