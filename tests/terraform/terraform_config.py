"""Reads terraform/ with python-hcl2 and answers the questions the tests ask of it.

python-hcl2 parses HCL but evaluates nothing: literals keep their quotes ('"roles/x"') and expressions stay
text ('${local.functions}'). Terraform itself cannot run here (its providers cannot be downloaded), so this
module understands the few expression shapes the module uses for IAM grants and raises on any other
shape. A grant written in a new way therefore fails the tests loudly instead of passing unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"

_EXPRESSION = re.compile(r"^\$\{(?P<body>.*)\}$", re.DOTALL)


class UnsupportedExpression(AssertionError):
    """An expression shape this reader does not understand; extend the reader or simplify the HCL."""


@cache
def load(directory: Path = TERRAFORM_DIR) -> dict[str, list[Any]]:
    """All top-level blocks of every .tf file in directory, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            for block_type, entries in hcl2.load(handle).items():
                merged.setdefault(block_type, []).extend(entries)
    return merged


def unquote(value: Any) -> Any:
    """'"text"' -> 'text'; other values unchanged."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def expression(value: Any) -> str:
    """'${a.b}' -> 'a.b'; fails for a literal."""
    match = _EXPRESSION.match(value) if isinstance(value, str) else None
    if match is None:
        raise UnsupportedExpression(f"expected an expression, got {value!r}")
    return match.group("body").strip()


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    """Resource bodies of one type, by resource name."""
    found: dict[str, dict[str, Any]] = {}
    for entry in load().get("resource", []):
        for quoted_type, named in entry.items():
            if unquote(quoted_type) == resource_type:
                found.update({unquote(name): body for name, body in named.items()})
    return found


def all_resources() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for entry in load().get("resource", []):
        for quoted_type, named in entry.items():
            for name, body in named.items():
                yield unquote(quoted_type), unquote(name), body


def local(name: str) -> Any:
    for block in load().get("locals", []):
        if name in block:
            return block[name]
    raise KeyError(f"local.{name} is not defined")


def local_strings(name: str) -> list[str]:
    """A local that is a literal list of strings."""
    value = local(name)
    if not isinstance(value, list):
        raise UnsupportedExpression(f"local.{name} must be a literal list, got {value!r}")
    return [unquote(item) for item in value]


def local_map_keys(name: str) -> set[str]:
    value = local(name)
    if not isinstance(value, dict):
        raise UnsupportedExpression(f"local.{name} must be a literal map, got {value!r}")
    return {key for key in value if not key.startswith("__")}


def functions() -> dict[str, dict[str, Any]]:
    """local.functions: deployment settings per entry point."""
    return {key: value for key, value in local("functions").items() if not key.startswith("__")}


def function_secret_env(function: str) -> dict[str, str]:
    """Environment variable -> secret key, for one function."""
    secret_env = functions()[function]["secret_env"]
    return {env_var: unquote(secret) for env_var, secret in secret_env.items() if not env_var.startswith("__")}


def per_function_env_keys() -> set[str]:
    """Keys of local.function_env, a `for` expression that gives every function the same keys."""
    return set(re.findall(r"\b(MW_[A-Z0-9_]+)\s*=", local("function_env")))


# ------------------------------------------------------------------------------------------------------
# IAM grants
# ------------------------------------------------------------------------------------------------------

#: IAM resource types the reader resolves, and the attribute naming what the grant is on.
_SCOPE_ATTRIBUTE = {
    "google_project_iam_member": None,
    "google_service_account_iam_member": "service_account_id",
    "google_secret_manager_secret_iam_member": "secret_id",
    "google_cloud_run_v2_service_iam_member": "name",
    "google_iap_web_cloud_run_service_iam_member": "cloud_run_service_name",
}

_SCOPE_PATTERNS = (
    (re.compile(r"^google_service_account\.(\w+)\.name$"), "serviceAccount:{}"),
    (re.compile(r'^google_secret_manager_secret\.secret\["(\w+)"\]\.secret_id$'), "secret:{}"),
    (re.compile(r'^google_cloudfunctions2_function\.function\["(\w+)"\]\.name$'), "run:{}"),
    (re.compile(r"^google_cloud_run_v2_service\.(\w+)\.name$"), "run:{}"),
)
#: Google-managed service agents, granted by their address (status.tf): principal name by member text.
_SERVICE_AGENTS = {"serviceAccount:${local.iap_service_agent}": "iap_service_agent"}

_MEMBER_PATTERNS = (
    re.compile(r'^google_service_account\.function\["(\w+)"\]\.member$'),
    re.compile(r"^google_service_account\.(\w+)\.member$"),
)


@dataclass(frozen=True, order=True)
class Grant:
    principal: str  # a function key, another service account's resource name, or "allUsers"
    role: str
    scope: str  # "project", "serviceAccount:<name>", "secret:<key>" or "run:<function>"
    resource: str  # the Terraform address that grants it, for failure messages


def is_iam_resource(resource_type: str) -> bool:
    return re.search(r"_iam_(member|binding|policy)$", resource_type) is not None


def grants() -> list[Grant]:
    """Every IAM grant the module makes, one per for_each instance."""
    found: list[Grant] = []
    for resource_type, name, body in all_resources():
        if not is_iam_resource(resource_type):
            continue
        if resource_type not in _SCOPE_ATTRIBUTE:
            raise UnsupportedExpression(f"{resource_type}.{name}: unsupported IAM resource type")
        for each_key, each_value in _instances(body.get("for_each"), f"{resource_type}.{name}"):
            found.append(_grant(resource_type, name, body, each_key, each_value))
    return found


def _instances(for_each: Any, address: str) -> list[tuple[str | None, Mapping[str, str]]]:
    """(each.key, each.value) for every instance, values as HCL text to substitute."""
    if for_each is None:
        return [(None, {})]
    body = expression(for_each)
    if body == "google_service_account.function":
        return [(key, {"member": f'google_service_account.function["{key}"].member'}) for key in functions()]
    if match := re.fullmatch(r"toset\(local\.(\w+)\)", body):
        return [(key, {}) for key in local_strings(match.group(1))]
    if match := re.fullmatch(r"toset\(var\.(\w+)\)", body):
        # Principals chosen at deploy time: the grant is reported once, for the variable that names them.
        return [(f"var.{match.group(1)}", {})]
    if body == "local.function_secret_grants":
        return [
            (f"{function}/{secret}", {"function": f'"{function}"', "secret": f'"{secret}"'})
            for function in functions()
            for secret in function_secret_env(function).values()
        ]
    raise UnsupportedExpression(f"{address}: for_each {body!r}")


def _substitute(text: str, each_key: str | None, each_value: Mapping[str, str]) -> str:
    for attribute, replacement in each_value.items():
        text = text.replace(f"each.value.{attribute}", replacement)
    if each_key is not None:
        text = text.replace("each.key", f'"{each_key}"')
    return text


def _grant(
    resource_type: str, name: str, body: Mapping[str, Any], each_key: str | None, each_value: Mapping[str, str]
) -> Grant:
    address = f"{resource_type}.{name}" + (f'["{each_key}"]' if each_key else "")
    role = unquote(body["role"])
    if role.startswith("${"):
        raise UnsupportedExpression(f"{address}: role must be a literal, got {role!r}")
    return Grant(
        principal=_principal(body["member"], each_key, each_value, address),
        role=role,
        scope=_scope(resource_type, body, each_key, each_value, address),
        resource=address,
    )


def _principal(member: str, each_key: str | None, each_value: Mapping[str, str], address: str) -> str:
    literal = str(unquote(member))
    if literal in ("allUsers", "allAuthenticatedUsers"):
        return literal
    if literal in _SERVICE_AGENTS:
        return _SERVICE_AGENTS[literal]
    if expression(member) == "each.value" and each_key and each_key.startswith("var."):
        return each_key
    text = _substitute(expression(member), each_key, each_value)
    for pattern in _MEMBER_PATTERNS:
        if match := pattern.fullmatch(text):
            return str(match.group(1))
    raise UnsupportedExpression(f"{address}: member {member!r}")


def _scope(
    resource_type: str, body: Mapping[str, Any], each_key: str | None, each_value: Mapping[str, str], address: str
) -> str:
    attribute = _SCOPE_ATTRIBUTE[resource_type]
    if attribute is None:
        return "project"
    text = _substitute(expression(body[attribute]), each_key, each_value)
    for pattern, template in _SCOPE_PATTERNS:
        if match := pattern.fullmatch(text):
            return template.format(match.group(1))
    raise UnsupportedExpression(f"{address}: {attribute} {body[attribute]!r}")
