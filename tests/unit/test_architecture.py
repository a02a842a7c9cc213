"""The package's layering, read from its import statements (parsed, never imported).

Every import counts: module level, under TYPE_CHECKING and inside functions (the lazy imports that keep
cold starts small), because each is a dependency someone has to understand.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import maintenance_windows

PACKAGE = "maintenance_windows"
ROOT = Path(maintenance_windows.__file__).parent
#: Libraries that talk to the outside world; the pure layers must not need them.
IO_LIBRARIES = frozenset(
    {
        "requests",
        "google",
        "googleapiclient",
        "flask",
        "functions_framework",
        "socket",
        "http",
        "urllib",
        "urllib3",
        "httplib2",
        "subprocess",
        "yaml",
    }
)


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (ROOT.parent / relative).with_suffix(".py").is_file() or (ROOT.parent / relative / "__init__.py").is_file()


def _imported_names(path: Path) -> Iterator[str]:
    """Absolute names of every module the file imports; `from pkg import mod` names pkg.mod."""
    module = _module_of(path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if _is_module(candidate) else base


@cache
def import_graph() -> dict[str, frozenset[str]]:
    graph: dict[str, frozenset[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        graph[_module_of(path)] = frozenset(_imported_names(path))
    return graph


def _inside(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _modules_in(layer: str) -> list[str]:
    return [module for module in import_graph() if _inside(module, f"{PACKAGE}.{layer}")]


def _offences(layer: str, allowed: tuple[str, ...], banned_libraries: frozenset[str]) -> list[str]:
    found = []
    for module in _modules_in(layer):
        for name in sorted(import_graph()[module]):
            ours = _inside(name, PACKAGE)
            if (ours and not _inside(name, *(f"{PACKAGE}.{a}" for a in allowed))) or (
                not ours and name.split(".")[0] in banned_libraries
            ):
                found.append(f"{module} imports {name}")
    return found


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.domain.windows" in graph
    assert f"{PACKAGE}.service.planner" in graph
    assert f"{PACKAGE}.domain.windows" in graph[f"{PACKAGE}.service.planner"]
    assert f"{PACKAGE}.domain.ids" in graph[f"{PACKAGE}.domain.windows"]


def test_domain_imports_nothing_outside_domain() -> None:
    assert _modules_in("domain")
    assert _offences("domain", ("domain",), IO_LIBRARIES) == []


def test_ports_know_only_the_domain() -> None:
    assert _offences("ports", ("ports", "domain"), IO_LIBRARIES) == []


def test_repository_knows_only_the_domain_the_store_port_and_the_log() -> None:
    assert _offences("repository", ("repository", "domain", "ports", "observability"), IO_LIBRARIES) == []


def test_adapters_implement_ports_without_reaching_into_use_cases() -> None:
    allowed = ("adapters", "ports", "domain", "config", "observability", "clock")
    assert _offences("adapters", allowed, frozenset()) == []


def test_the_service_layer_knows_nothing_of_http_or_adapters() -> None:
    allowed = ("service", "domain", "ports", "repository", "config", "auth", "observability", "clock")
    assert _offences("service", allowed, IO_LIBRARIES) == []


def test_handlers_reach_the_store_only_through_the_service_layer() -> None:
    allowed = ("handlers", "service", "domain", "ports", "config", "auth", "observability")
    assert _offences("handlers", allowed, frozenset({"requests", "google", "googleapiclient"})) == []


def test_the_status_page_reads_with_mws_views_and_talks_to_nothing_but_the_store() -> None:
    allowed = (
        "status",
        "cli.host_view",
        "domain",
        "ports",
        "repository",
        "service",
        "auth",
        "config",
        "observability",
        "clock",
    )
    assert _offences("status", allowed, frozenset({"requests", "google", "googleapiclient", "flask"})) == []


def test_no_import_cycles() -> None:
    internal = {module: {name for name in names if name in import_graph()} for module, names in import_graph().items()}
    try:
        graphlib.TopologicalSorter(internal).prepare()
    except graphlib.CycleError as cycle:
        raise AssertionError("import cycle: " + " → ".join(reversed(cycle.args[1]))) from None
