"""Request bodies checked against the Graph v1.0 types in contract.json (extracted from Microsoft's CSDL).

An unknown property, a wrong JSON type, an enum value Graph does not define or a time zone Graph would not
read is refused with 400, as Graph refuses what its OData reader cannot bind (docs/graph-server.md).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from babel.core import get_global

from infra.graph_server.errors import GraphError

CONTRACT = Path(__file__).with_name("contract.json")
_SCALARS: dict[str, tuple[type, ...]] = {
    "Edm.String": (str,),
    "Edm.Boolean": (bool,),
    "Edm.Int32": (int,),
    "Edm.Int64": (int,),
    "Edm.Double": (int, float),
    "Edm.DateTimeOffset": (str,),
    "Edm.Guid": (str,),
}


@functools.cache
def types() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CONTRACT.read_text())["types"]
    return loaded


@functools.cache
def windows_zones() -> frozenset[str]:
    """The Windows time-zone names Graph uses (CLDR windowsZones, as Babel ships it), and UTC."""
    return frozenset(get_global("windows_zone_mapping")) | {"UTC"}


def check(type_name: str, body: Any, *, path: str = "") -> None:
    spec = types()[type_name]
    if not isinstance(body, dict):
        raise _refused(f"A value of type 'microsoft.graph.{type_name}' was expected at '{path or '/'}'.")
    members = {**spec["properties"], **spec["navigation"]}
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        if key not in members:
            raise _refused(
                f"The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. Make sure "
                "to only use property names that are defined by the type."
            )
        _check_value(members[key], value, f"{path}/{key}")
    if type_name == "dateTimeTimeZone":
        if not isinstance(body.get("dateTime"), str) or not isinstance(body.get("timeZone"), str):
            raise _refused(f"dateTime and timeZone are both required at '{path}'.")
        if body["timeZone"] not in windows_zones():
            raise GraphError(
                400,
                "TimeZoneNotSupportedException",
                f"A valid TimeZone value must be specified. The following TimeZone value is not "
                f"supported: '{body['timeZone']}'.",
            )


def _check_value(type_name: str, value: Any, path: str) -> None:
    if value is None:
        return
    if type_name.startswith("Collection("):
        if not isinstance(value, list):
            raise _refused(f"A collection was expected at '{path}'.")
        inner = type_name.removeprefix("Collection(").removesuffix(")")
        for index, item in enumerate(value):
            _check_value(inner, item, f"{path}/{index}")
        return
    if type_name in _SCALARS:
        allowed = _SCALARS[type_name]
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            raise _refused(f"Cannot convert the literal '{value}' to the expected type '{type_name}' at '{path}'.")
        return
    name = type_name.split(".", 1)[1] if "." in type_name else type_name
    spec = types().get(name)
    if spec is None:
        raise _refused(f"The stand-in has no contract for '{type_name}' at '{path}'.")
    if spec["kind"] == "enum":
        members = [member.lower() for member in spec["members"]]
        # Graph's enum reader is case-insensitive; flags enums (e.g. changeType) are comma-separated strings.
        if not isinstance(value, str) or any(part.strip().lower() not in members for part in value.split(",")):
            raise _refused(f"The value '{value}' is not a member of 'microsoft.graph.{name}' at '{path}'.")
        return
    check(name, value, path=path)


def _refused(message: str) -> GraphError:
    return GraphError(400, "RequestBodyRead", message)
