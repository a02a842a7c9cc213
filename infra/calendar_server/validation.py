"""Request validation driven by the calendar.v3 discovery document bundled in googleapiclient.

The same document generates the client, so a request the client can build but the real API refuses
(unknown parameter, bad enum, wrong JSON type, missing required field) is refused here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any

import googleapiclient

from infra.calendar_server.errors import ApiError, bad_request, invalid, required

DISCOVERY_PATH = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"
_PARAM_PATTERN = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class ApiMethod:
    """One method of the discovery document, e.g. calendar.events.insert."""

    method_id: str
    http_method: str
    path_template: str
    path_regex: re.Pattern[str]
    parameters: Mapping[str, Mapping[str, Any]]
    request_schema: str | None

    @property
    def literal_segments(self) -> int:
        return sum(1 for segment in self.path_template.split("/") if "{" not in segment)


@dataclass(frozen=True)
class MatchedCall:
    method: ApiMethod
    path_params: dict[str, str]


class Discovery:
    """Routes and validates requests against the discovery document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._schemas: Mapping[str, Mapping[str, Any]] = document["schemas"]
        self._global_params: Mapping[str, Mapping[str, Any]] = document["parameters"]
        self._methods = sorted(_collect_methods(document["resources"]), key=lambda method: -method.literal_segments)

    def match(self, http_method: str, relative_path: str) -> MatchedCall | None:
        """Find the method for a path under /calendar/v3/ (path params are URL-decoded already)."""
        for method in self._methods:
            if method.http_method != http_method:
                continue
            found = method.path_regex.fullmatch(relative_path)
            if found:
                return MatchedCall(method, dict(found.groupdict()))
        return None

    def validate_query(self, method: ApiMethod, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Typed query parameters, or ApiError for what Google refuses."""
        typed: dict[str, Any] = {}
        for name, values in query.items():
            spec = method.parameters.get(name) or self._global_params.get(name)
            if spec is None or spec.get("location") == "path":
                raise bad_request(f"Invalid parameter: {name}", reason="badRequest", location=name)
            if len(values) > 1 and not spec.get("repeated"):
                raise invalid(f"Parameter {name} may not be repeated.", location=name)
            converted = [_convert_parameter(name, value, spec) for value in values]
            typed[name] = converted if spec.get("repeated") else converted[0]
        for name, spec in method.parameters.items():
            if spec.get("required") and spec.get("location") == "query" and name not in typed:
                raise required(f"Required parameter: {name}", location=name)
        return typed

    def validate_body(self, method: ApiMethod, body: object) -> None:
        """Check a JSON request body against the method's request schema."""
        if method.request_schema is None:
            return
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received. Expected an object.")
        self._check_object(body, self._schemas[method.request_schema], "resource", method.method_id)

    def validate_schema(self, schema_name: str, body: object, location: str = "resource") -> None:
        """Check a value against a named schema (used by admin seeding, without required fields)."""
        if not isinstance(body, dict):
            raise invalid(f"Invalid value at '{location}': expected an object.")
        self._check_object(body, self._schemas[schema_name], location, None)

    def _resolve(self, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        reference = spec.get("$ref")
        return self._schemas[reference] if reference else spec

    def _check_object(
        self, value: Mapping[str, Any], schema: Mapping[str, Any], location: str, method_id: str | None
    ) -> None:
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            spec = properties.get(key, extra)
            if spec is None:
                raise invalid(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{location}': Cannot find field.",
                    location=f"{location}.{key}",
                )
            if item is not None:
                self._check_value(item, spec, f"{location}.{key}", method_id)
        if method_id is None:
            return
        for key, spec in properties.items():
            needed_by = spec.get("annotations", {}).get("required", [])
            if method_id in needed_by and value.get(key) is None:
                raise required(f"Missing {key}.", location=f"{location}.{key}")

    def _check_value(self, value: object, spec: Mapping[str, Any], location: str, method_id: str | None) -> None:
        referenced = "$ref" in spec
        spec = self._resolve(spec)
        kind = spec.get("type")
        if kind == "object" or referenced:
            if not isinstance(value, dict):
                raise _wrong_type(location, "an object", value)
            self._check_object(value, spec, location, method_id)
        elif kind == "array":
            if not isinstance(value, list):
                raise _wrong_type(location, "a list", value)
            for index, item in enumerate(value):
                self._check_value(item, spec["items"], f"{location}[{index}]", method_id)
        elif kind == "string":
            _check_string(value, spec, location)
        elif kind in _SCALARS:
            type_name, accepted = _SCALARS[kind]
            # JSON booleans are ints in Python; Google rejects them for integer and number fields.
            if not isinstance(value, accepted) or (isinstance(value, bool) and accepted is not bool):
                raise _wrong_type(location, type_name, value)


#: Discovery's scalar types: the name Google's error gives each, and the Python types that pass.
_SCALARS: dict[str, tuple[str, type | UnionType]] = {
    "integer": ("TYPE_INT32", int),
    "number": ("TYPE_DOUBLE", int | float),
    "boolean": ("TYPE_BOOL", bool),
}


def _collect_methods(resources: Mapping[str, Any]) -> list[ApiMethod]:
    methods: list[ApiMethod] = []
    for resource in resources.values():
        for spec in resource.get("methods", {}).values():
            template = spec["path"]
            pattern = _PARAM_PATTERN.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", template)
            methods.append(
                ApiMethod(
                    method_id=spec["id"],
                    http_method=spec["httpMethod"],
                    path_template=template,
                    path_regex=re.compile(pattern),
                    parameters=spec.get("parameters", {}),
                    request_schema=(spec.get("request") or {}).get("$ref"),
                )
            )
        methods.extend(_collect_methods(resource.get("resources", {})))
    return methods


def _convert_parameter(name: str, raw: str, spec: Mapping[str, Any]) -> Any:
    kind = spec.get("type", "string")
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise invalid(f"Invalid boolean value: '{raw}'.", location=name)
        return lowered == "true"
    if kind == "integer":
        try:
            number = int(raw)
        except ValueError:
            raise invalid(f"Invalid value '{raw}'. Values must be integers.", location=name) from None
        if "minimum" in spec and number < int(spec["minimum"]):
            raise invalid(f"Invalid value '{raw}'. Values must be >= {spec['minimum']}.", location=name)
        if "maximum" in spec and number > int(spec["maximum"]):
            raise invalid(f"Invalid value '{raw}'. Values must be <= {spec['maximum']}.", location=name)
        return number
    enum = spec.get("enum")
    if enum is not None and raw not in enum:
        raise invalid(f"Invalid value '{raw}'. Allowed values: [{', '.join(enum)}]", location=name)
    if spec.get("format") == "date-time":
        return parse_date_time(raw, location=name)
    return raw


def _check_string(value: object, spec: Mapping[str, Any], location: str) -> None:
    if not isinstance(value, str):
        raise _wrong_type(location, "TYPE_STRING", value)
    value_format = spec.get("format")
    if value_format == "date-time":
        # Event times may omit the offset when a timeZone accompanies them; events.py checks that.
        parse_date_time(value, location=location, offset_required=False)
    elif value_format == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise invalid(f"Invalid value at '{location}': {value!r} is not a date.", location=location) from None
    elif value_format in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
        raise _wrong_type(location, "TYPE_INT64", value)
    enum = spec.get("enum")
    if enum is not None and value not in enum:
        raise invalid(f"Invalid value at '{location}': {value!r}", location=location)


def _wrong_type(location: str, expected: str, value: object) -> ApiError:
    shown = json.dumps(value)[:60]
    return invalid(f"Invalid value at '{location}' ({expected}), {shown}", location=location)


_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)


def parse_date_time(raw: str, *, location: str, offset_required: bool = True) -> datetime:
    """RFC 3339; timeMin/timeMax need an offset, event times may rely on their timeZone instead."""
    found = _RFC3339.fullmatch(raw)
    if not found or (offset_required and not found["offset"]):
        raise bad_request(f"Bad Request: invalid date-time value '{raw}' for {location}.", location=location)
    fraction = (found["fraction"] or "")[:6].ljust(6, "0")
    offset = (found["offset"] or "").upper().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(f"{found['base'].upper()}.{fraction}{offset}")
    except ValueError:
        raise bad_request(f"Bad Request: invalid date-time value '{raw}' for {location}.", location=location) from None


@cache
def load_discovery() -> Discovery:
    with DISCOVERY_PATH.open(encoding="utf-8") as handle:
        return Discovery(json.load(handle))
