"""Arrows only point down (DESIGN.md): commands -> training/evaluation -> models/data -> config."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlcli"
FORBIDDEN = {
    "config": ("mlcli.data", "mlcli.models", "mlcli.training", "mlcli.evaluation", "mlcli.commands", "mlcli.runs"),
    "data": ("mlcli.models", "mlcli.training", "mlcli.evaluation", "mlcli.commands", "mlcli.runs"),
    "models": ("mlcli.data", "mlcli.training", "mlcli.evaluation", "mlcli.commands", "mlcli.runs"),
    "evaluation": ("mlcli.training", "mlcli.commands"),
    "training": ("mlcli.commands",),
}


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_nothing_above_it(room: str):
    files = sorted((PACKAGE / room).rglob("*.py"))
    assert files
    bad = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in imports(path)
        if name.startswith(FORBIDDEN[room])
    }
    assert not bad, sorted(bad)
