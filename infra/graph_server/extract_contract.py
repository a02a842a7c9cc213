"""Extract the Graph types the stand-in checks from Microsoft's published v1.0 CSDL into contract.json.

    python -m infra.graph_server.extract_contract path/to/v1.0-Prod.csdl <metadata commit> > contract.json

The CSDL is microsoftgraph/msgraph-metadata's schemas/v1.0-Prod.csdl; the commit it came from is kept in the
output, so the contract can be regenerated and compared when Microsoft publishes a new one.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ElementTree
from typing import Any

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
#: The types the product sends or reads, and the ones they are made of.
ROOTS = ("event", "subscription", "mailboxSettings", "scheduleInformation", "dateTimeTimeZone")


def extract(csdl: bytes) -> dict[str, Any]:
    root = ElementTree.fromstring(csdl)  # noqa: S314 - Microsoft's published metadata, read by a developer
    types = _graph_types(root)
    wanted: dict[str, Any] = {}
    queue = list(ROOTS)
    while queue:
        name = queue.pop()
        if name in wanted or name not in types:
            continue
        wanted[name] = _describe(types[name], types)
        queue.extend(_referenced(wanted[name]))
    return wanted


def _graph_types(root: ElementTree.Element) -> dict[str, ElementTree.Element]:
    types: dict[str, ElementTree.Element] = {}
    for schema in root.iter(f"{EDM}Schema"):
        if schema.get("Namespace") == "microsoft.graph":
            for kind in ("EntityType", "ComplexType", "EnumType"):
                types.update({element.get("Name", ""): element for element in schema.findall(f"{EDM}{kind}")})
    return types


def _describe(element: ElementTree.Element, types: dict[str, ElementTree.Element]) -> dict[str, Any]:
    """An enum's members, or a type's properties and navigation properties with those of its base types."""
    if element.tag == f"{EDM}EnumType":
        return {"kind": "enum", "members": [m.get("Name") for m in element.findall(f"{EDM}Member")]}
    properties: dict[str, str] = {}
    navigation: dict[str, str] = {}
    base_chain: list[str] = []
    current: ElementTree.Element | None = element
    while current is not None:
        for prop in current.findall(f"{EDM}Property"):
            properties.setdefault(prop.get("Name", ""), prop.get("Type", ""))
        for prop in current.findall(f"{EDM}NavigationProperty"):
            navigation.setdefault(prop.get("Name", ""), prop.get("Type", ""))
        base = current.get("BaseType")
        current = types.get(base.removeprefix("graph.").removeprefix("microsoft.graph.")) if base else None
        if base:
            base_chain.append(base)
    kind = "entity" if element.tag == f"{EDM}EntityType" else "complex"
    return {"kind": kind, "properties": properties, "navigation": navigation, "base": base_chain}


def _referenced(described: dict[str, Any]) -> list[str]:
    names = []
    for type_name in [*described.get("properties", {}).values(), *described.get("navigation", {}).values()]:
        inner = type_name.removeprefix("Collection(").removesuffix(")")
        if inner.startswith(("graph.", "microsoft.graph.")):
            names.append(inner.split(".", 1)[1].removeprefix("graph."))
    return names


def main() -> None:
    path, commit = sys.argv[1], sys.argv[2]
    with open(path, "rb") as source:
        types = extract(source.read())
    json.dump(
        {
            "source": f"https://github.com/microsoftgraph/msgraph-metadata/blob/{commit}/schemas/v1.0-Prod.csdl",
            "commit": commit,
            "types": dict(sorted(types.items())),
        },
        sys.stdout,
        indent=1,
        sort_keys=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
