"""docs/configuration.md and infra/local/teams.example.yaml, held to the code they describe.

Fails when a setting or a team-rules field is added without documentation, when a documented default,
bound or choice drifts from the model, when the page's error and `mw slot` examples stop being what the
code prints, and when the full example stops loading or stops setting some field.

The page's tables are parsed as Markdown: a row's first code span names the variable or field path
(`slots.preferences.lunch`), and its Default cell holds the value as YAML in a code span.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import typing
from collections import defaultdict
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from maintenance_windows.cli.main import main as mw
from maintenance_windows.config.settings import ConfigurationError, Settings
from maintenance_windows.config.teams import TeamsConfig, load_teams, parse_teams
from maintenance_windows.domain.rules import (
    EventStyle,
    FollowRules,
    OsUpdateRules,
    Preferences,
    SlotRules,
    TeamRules,
    VerifyRules,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
EXAMPLE = ROOT / "infra" / "local" / "teams.example.yaml"
TERRAFORM = ROOT / "terraform"
LOCAL_STACK = ROOT / "infra" / "stack.py"

NOT_SET = "not set"
#: Models documented one row per field (maps in the file); other models are described in prose.
ROW_MODELS: tuple[type[BaseModel], ...] = (
    TeamRules,
    SlotRules,
    Preferences,
    EventStyle,
    FollowRules,
    VerifyRules,
    OsUpdateRules,
)
SETTING_FIELDS: dict[str, FieldInfo] = {field.alias: field for field in Settings.model_fields.values() if field.alias}

Row = dict[str, str]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


# -- reading the page ------------------------------------------------------------------------------------


@functools.cache
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = doc().index(f"\n## {heading}")
    end = doc().find("\n## ", start + 1)
    return doc()[start : end if end != -1 else None]


def fenced_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, offset) of every fenced code block."""
    return [(match.group(1), match.group(2), match.start()) for match in FENCE.finditer(text)]


def prose(text: str) -> str:
    return FENCE.sub("", text)


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row; a `|` inside a code span does not split."""
    cells: list[str] = []
    current: list[str] = []
    in_code = False
    for char in line.strip():
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    cells.append("".join(current).strip())
    return cells[1:-1]  # the text before the first and after the last pipe


@functools.cache
def tables() -> tuple[tuple[Row, ...], ...]:
    """Every table of the page as rows keyed by lower-cased header text."""
    lines = prose(doc()).splitlines()
    found: list[tuple[Row, ...]] = []
    index = 0
    while index < len(lines) - 1:
        if lines[index].lstrip().startswith("|") and re.fullmatch(r"\s*\|(\s*:?-{3,}:?\s*\|)+\s*", lines[index + 1]):
            header = [cell.lower() for cell in split_row(lines[index])]
            index += 2
            rows: list[Row] = []
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                rows.append(dict(zip(header, split_row(lines[index]), strict=False)))
                index += 1
            found.append(tuple(rows))
        else:
            index += 1
    return tuple(found)


def first_span(cell: str) -> str | None:
    spans = code_spans(cell)
    return spans[0] if spans else None


@functools.cache
def setting_rows() -> dict[str, Row]:
    """The environment-variable table, by variable name."""
    rows: dict[str, Row] = {}
    for table in tables():
        for row in table:
            name = first_span(row.get("variable", ""))
            if name and "terraform" in row:
                rows[name] = row
    return rows


@functools.cache
def field_rows() -> dict[str, Row]:
    """Rows of the team-file tables (those with Field and Default columns), by field path."""
    rows: dict[str, Row] = {}
    for table in tables():
        for row in table:
            path = first_span(row.get("field", ""))
            if path and "default" in row:
                assert path not in rows, f"{path} has two rows"
                rows[path] = row
    return rows


def numbers(text: str) -> set[float]:
    return {float(number) for number in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))}


def is_unset_cell(cell: str) -> bool:
    return cell.strip().lower().startswith("unset")


def is_yes_cell(cell: str) -> bool:
    return cell.strip().strip("*").lower().startswith("yes")


# -- the models --------------------------------------------------------------------------------------------


def models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """Every pydantic model inside a type: through unions, Annotated, lists, dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from models_in(argument)


def reachable_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    queue = [root]
    while queue:
        model = queue.pop(0)
        if model not in seen:
            seen.append(model)
            for field in model.model_fields.values():
                queue.extend(models_in(field.annotation))
    return seen


MODELS = reachable_models(TeamsConfig)
MODEL_FIELDS = [(model, name) for model in MODELS for name in model.model_fields]


def holds_secret(annotation: object) -> bool:
    return annotation is SecretStr or any(holds_secret(argument) for argument in typing.get_args(annotation))


def row_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """The field paths the tables must cover: every field of a ROW_MODEL, reached through map fields."""
    for name, field in model.model_fields.items():
        yield prefix + name
        for nested in ROW_MODELS:
            if field.annotation is nested:
                yield from row_paths(nested, f"{prefix}{name}.")


EXPECTED_ROWS = [*TeamsConfig.model_fields, *row_paths(TeamRules)]


def resolve(path: str) -> tuple[FieldInfo, Any]:
    """The field a documented path names, and its built-in default value."""
    segments = path.split(".")
    value: Any = TeamsConfig() if segments[0] in TeamsConfig.model_fields else TeamRules()
    field: FieldInfo | None = None
    for segment in segments:
        fields = type(value).model_fields
        assert segment in fields, f"{path}: {type(value).__name__} has no field {segment!r}"
        field, value = fields[segment], getattr(value, segment)
    assert field is not None
    return field, value


def read_as(field: FieldInfo, literal: str) -> Any:
    """A value written in the page (YAML), validated as the field's type, so `"12:00"` equals time(12)."""
    assert field.annotation is not None
    return TypeAdapter(field.annotation).validate_python(yaml.safe_load(literal))


def walk_instances(value: object) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
        for name in type(value).model_fields:
            yield from walk_instances(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from walk_instances(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from walk_instances(item)


# -- environment variables ---------------------------------------------------------------------------------


def test_the_environment_table_has_one_row_per_setting() -> None:
    assert sorted(setting_rows()) == sorted(SETTING_FIELDS)


@pytest.mark.parametrize("alias", sorted(SETTING_FIELDS))
def test_documented_setting_default_matches_the_code(alias: str) -> None:
    field, cell = SETTING_FIELDS[alias], setting_rows()[alias]["default"]
    if is_unset_cell(cell):
        assert field.default in (None, ()), f"{alias}: documented as unset, but defaults to {field.default!r}"
        return
    literal = first_span(cell)
    assert literal is not None, f"{alias}: the Default cell needs the value in backticks or 'unset'"
    assert read_as(field, literal) == field.default


@pytest.mark.parametrize("alias", sorted(SETTING_FIELDS))
def test_secret_column_matches_the_code(alias: str) -> None:
    assert is_yes_cell(setting_rows()[alias]["secret"]) == holds_secret(SETTING_FIELDS[alias].annotation)


@functools.cache
def terraform_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(TERRAFORM.glob("*.tf")))


@pytest.mark.parametrize("alias", sorted(SETTING_FIELDS))
def test_terraform_column_matches_terraform(alias: str) -> None:
    assigned = re.search(rf"^\s*{alias}\s*=", terraform_text(), re.MULTILINE) is not None
    documented = not setting_rows()[alias]["terraform"].startswith(NOT_SET)
    assert documented == assigned, f"{alias}: the page says Terraform sets it: {documented}; terraform/: {assigned}"


@pytest.mark.parametrize("alias", sorted(SETTING_FIELDS))
def test_local_stack_column_matches_the_stack(alias: str) -> None:
    assigned = f'"{alias}":' in LOCAL_STACK.read_text(encoding="utf-8")
    documented = not setting_rows()[alias]["local stack"].startswith(NOT_SET)
    assert documented == assigned, f"{alias}: the page says the local stack sets it: {documented}"


def test_local_only_settings_are_never_set_by_terraform_and_the_relay_is_refused_on_cloud_run() -> None:
    local_only = [alias for alias, row in setting_rows().items() if is_yes_cell(row["local only"])]
    assert "MW_LOCAL_TASKS_RELAY_URL" in local_only
    assert all(setting_rows()[alias]["terraform"].startswith(NOT_SET) for alias in local_only)
    with pytest.raises(ConfigurationError, match="MW_LOCAL_TASKS_RELAY_URL"):
        Settings.from_env({"MW_LOCAL_TASKS_RELAY_URL": "http://127.0.0.1:8506/", "K_SERVICE": "mw-dispatch-window"})


def test_no_setting_switches_dispatch_authentication_off() -> None:
    assert not any("UNAUTHENTICATED" in alias for alias in SETTING_FIELDS)
    assert "MW_LOCAL_UNAUTHENTICATED_TASKS" not in doc()


# -- the team configuration file ---------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "name"), MODEL_FIELDS, ids=[f"{m.__name__}.{n}" for m, n in MODEL_FIELDS])
def test_every_field_of_every_nested_model_is_documented(model: type[BaseModel], name: str) -> None:
    documented = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(code_spans(prose(doc())))))
    assert name in documented, f"{model.__name__}.{name} is not mentioned (in backticks) in {DOC.name}"


def test_the_field_tables_have_exactly_one_row_per_field() -> None:
    assert sorted(field_rows()) == sorted(EXPECTED_ROWS)


@pytest.mark.parametrize("path", EXPECTED_ROWS)
def test_documented_field_default_matches_the_model(path: str) -> None:
    field, default = resolve(path)
    literal = first_span(field_rows()[path]["default"])
    if literal is None:
        # Prose ("built-in slot rules", "see below") only for a section whose fields have rows of their own.
        assert field.annotation in ROW_MODELS, f"{path}: the Default cell needs the value in backticks"
        return
    documented = read_as(field, literal)
    assert documented == default, f"{path}: the page says {literal}, the model says {default!r}"


@pytest.mark.parametrize("path", EXPECTED_ROWS)
def test_documented_bounds_patterns_and_choices_match_the_model(path: str) -> None:
    field, _ = resolve(path)
    cell = field_rows()[path]["allowed"]
    for constraint in field.metadata:
        for attribute in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            bound = getattr(constraint, attribute, None)
            if bound is not None:
                assert float(bound) in numbers(cell), f"{path}: {attribute}={bound} is not in {cell!r}"
        pattern = getattr(constraint, "pattern", None)
        if pattern is not None:
            assert pattern in code_spans(cell), f"{path}: pattern {pattern} is not in {cell!r}"
    if isinstance(field.annotation, type) and issubclass(field.annotation, Enum):
        assert {member.value for member in field.annotation} <= set(code_spans(cell)), path


def test_team_overrides_merge_maps_and_replace_lists_as_documented() -> None:
    config = parse_teams(
        {
            "defaults": {"domains": ["a.example"], "slots": {"deadline_days": 5, "preferences": {"lunch": 1}}},
            "teams": {
                "3": {"domains": ["b.example"], "slots": {"preferences": {"sooner": 2}}},
                4: {"slots": {"working_hours": {"sat": {"start": "10:00", "end": "12:00"}}}},
            },
        }
    )
    team = config.rules_for(3)
    assert team.domains == ["b.example"]
    assert (team.slots.deadline_days, team.slots.preferences.lunch, team.slots.preferences.sooner) == (5, 1, 2)
    assert team.slots.preferences.day_start == Preferences().day_start
    assert list(config.rules_for(4).slots.working_hours) == ["sat"]  # merged with the file's defaults only
    assert config.rules_for(None) == config.rules_for(99) == config.defaults


def test_yaml_snippets_in_the_page_are_valid_configurations() -> None:
    errors_section = section("Errors at cold start")
    snippets = [body for language, body, _ in fenced_blocks(doc()) if language == "yaml" and body not in errors_section]
    assert snippets
    for snippet in snippets:
        parse_teams(yaml.safe_load(snippet), "snippet")


# -- the full example --------------------------------------------------------------------------------------


def test_the_full_example_loads_and_sets_every_field_of_every_model() -> None:
    config = load_teams(str(EXAMPLE))
    used: dict[type[BaseModel], set[str]] = defaultdict(set)
    for instance in walk_instances(config):
        used[type(instance)] |= instance.model_fields_set
    for model in MODELS:
        assert used[model], f"{EXAMPLE.name} sets no field of {model.__name__}"
        missing = set(model.model_fields) - used[model]
        assert not missing, f"{EXAMPLE.name} never sets {model.__name__}: {sorted(missing)}"
    assert "teams.example.yaml" in doc()


# -- examples of output ------------------------------------------------------------------------------------


def test_the_mw_check_examples_are_real_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = section("Errors at cold start")
    blocks = fenced_blocks(text)
    commands = re.findall(r"`mw check --offline --config ([\w.]+)` \(real output\)", text)
    assert len(commands) == 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MW_STACK_FILE", str(tmp_path / "no-stack.json"))
    for name in commands:
        offset = text.index(f"`mw check --offline --config {name}`")
        body = [b for language, b, at in blocks if language == "yaml" and at < offset][-1]
        printed = next(b for language, b, at in blocks if not language and at > offset)
        (tmp_path / name).write_text(body, encoding="utf-8")
        capsys.readouterr()
        assert mw(["check", "--offline", "--config", name]) == 1
        assert capsys.readouterr().out.strip() == printed.strip(), name


def slot_sessions(text: str) -> Iterator[tuple[list[str], str]]:
    """(argv, printed output) for each `$ mw slot …` line of the page's examples.

    A `…` stands for the arguments of the block's last command written out in full.
    """
    for language, body, _ in fenced_blocks(text):
        if language or "$ mw slot" not in body:
            continue
        full: list[str] = []
        for chunk in re.split(r"^\$ ", body.replace("\\\n", " "), flags=re.MULTILINE)[1:]:
            command, _, printed = chunk.partition("\n")
            argv = shlex.split(command)[1:]
            if "…" in argv:
                at = argv.index("…")
                argv = [*argv[:at], *full, *argv[at + 1 :]]
            else:
                full = argv[1:]
            yield [str(EXAMPLE) if arg.endswith("teams.example.yaml") else arg for arg in argv], printed


def test_the_mw_slot_examples_are_real_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = section("Previewing the slot rules: `mw slot`")
    for language, body, offset in fenced_blocks(text):
        if language == "json":
            name = re.findall(r"`([\w-]+\.json)`", text[:offset])[-1]
            (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    sessions = list(slot_sessions(text))
    assert len(sessions) >= 4
    for argv, printed in sessions:
        capsys.readouterr()
        assert mw(argv) == 0, argv
        shown = capsys.readouterr().out
        if "--json" in argv:
            assert json.loads(shown) == json.loads(printed), argv
        else:
            assert shown.strip() == printed.strip(), argv
