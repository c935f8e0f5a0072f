"""Arrows only point down (docs/ARCHITECTURE.md), over every module of the package, with no cycles:

ground (errors, fileio, registry, tfenv, metrics) <- spec, rundir (<- tracking), config <- data, models (models never
import data) <- evaluation, inference (never training) <- training <- commands, sweep <- cli.
`mlcli.*` imports sit at module top everywhere but cli.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlcli"
GROUND = {"__init__", "errors", "fileio", "registry", "tfenv", "metrics", "console"}
# each room and the rooms it may import (its own included)
MAY_IMPORT = {
    "ground": {"ground"},
    "spec": {"ground", "spec"},
    "rundir": {"ground", "rundir"},
    "tracking": {"ground", "rundir", "tracking"},
    "config": {"ground", "config"},
    "data": {"ground", "spec", "config", "data"},
    "models": {"ground", "spec", "config", "models"},
    "evaluation": {"ground", "spec", "config", "data", "evaluation"},
    "inference": {"ground", "spec", "rundir", "config", "data", "models", "inference"},
    "training": {"ground", "spec", "rundir", "tracking", "config", "data", "models", "evaluation", "inference",
                 "training"},  # fmt: skip
    "commands": {"ground", "spec", "rundir", "tracking", "config", "data", "models", "evaluation", "inference",
                 "training", "commands"},  # fmt: skip
    "sweep": {"ground", "spec", "rundir", "tracking", "config", "data", "models", "evaluation", "inference", "training",
              "sweep"},  # fmt: skip
    "cli": {"ground", "spec", "rundir", "tracking", "config", "data", "models", "evaluation", "inference", "training",
            "commands", "sweep", "cli"},  # fmt: skip
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "ground"
    top = parts[1]
    return "ground" if top in GROUND else "cli" if top == "__main__" else top


def mlcli_imports(path: Path) -> list[tuple[str, bool]]:
    """(imported mlcli module, whether the import is at module top)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    top |= {id(n) for stmt in tree.body if isinstance(stmt, (ast.If, ast.Try)) for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name == "mlcli" or name.startswith("mlcli."):
                out.append((name, id(node) in top))
    return out


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The module an import names (`from mlcli.data import pipeline` → mlcli.data.pipeline)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_every_module_is_in_a_room():
    assert {room(m) for m in MODULES} <= set(MAY_IMPORT), sorted({room(m) for m in MODULES} - set(MAY_IMPORT))
    assert len(MODULES) > 60  # the walk found the whole package, sub-packages included


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name: str):
    mine = room(name)
    bad = []
    for imported, at_top in mlcli_imports(MODULES[name]):
        target = resolve(imported)
        if target is None or target == name:
            continue
        if room(target) not in MAY_IMPORT[mine]:
            bad.append(f"{name} ({mine}) imports {target} ({room(target)})")
        if not at_top and mine != "cli":
            bad.append(f"{name} imports {target} inside a function (mlcli imports go at module top)")
    assert not bad, bad


def test_no_import_cycles():
    graph = {
        name: {resolve(i) for i, _ in mlcli_imports(path)} - {None, name}
        for name, path in MODULES.items()
        if name != "mlcli.cli"
    }
    # a package's __init__ importing its own modules is not a cycle with them
    for name in graph:
        graph[name] = {t for t in graph[name] if not (t.startswith(name + ".") and MODULES[name].name == "__init__.py")}
    cycle = find_cycle(graph)
    assert not cycle, " -> ".join(cycle)


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of `graph` (a path that returns to its start), or [] when it has none."""
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                path = [*stack, node]
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt, [*stack, node])
                if found:
                    return found
        state[node] = 2
        return []

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node, [])
            if found:
                return found
    return []


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) == []


def test_layering_rules_catch_an_upward_import(tmp_path: Path):
    """The checker itself: an upward import written into a model module is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from mlcli.data import load_dataset\n", encoding="utf-8")
    found = [resolve(i) for i, _ in mlcli_imports(bad)]
    assert room(found[0]) not in MAY_IMPORT["models"]
