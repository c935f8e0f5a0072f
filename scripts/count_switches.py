"""Count input-kind and task/model-type switches in mlcli/, outside the modules that own a kind.

A switch is a comparison or membership test on an input kind (`kind == "text"`, `spec.kind in (...)`),
a task (`task == "forecast"`, `is_classification`) or a model type (`model.type == "gan"`). Usage:
`python scripts/count_switches.py [--owners GLOB ...]`; prints the total and the count per file.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlcli"
KIND_WORDS = {"kind", "input_kind"}
TASK_WORDS = {"task", "type", "model_type"}
KINDS = {"image", "text", "tokens", "features", "series", "table", "pretrained"}
TASKS = {"classification", "regression", "forecast", "generation", "timeseries", "gan", "cnn", "mlp", "rnn",
         "transformer", "pretrained"}  # fmt: skip


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    return None


def _strings(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def switches(tree: ast.AST) -> tuple[int, int]:
    kinds = tasks = 0
    for node in ast.walk(tree):
        comparison = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], comparison):
            left, right = node.left, node.comparators[0]
            for a, b in ((left, right), (right, left)):
                name, values = _name(a), _strings(b)
                if name in KIND_WORDS and values & KINDS:
                    kinds += 1
                    break
                if name in TASK_WORDS and values & TASKS:
                    tasks += 1
                    break
        elif isinstance(node, ast.Attribute) and node.attr == "is_classification":
            tasks += 1
    return kinds, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--owners", nargs="*", default=[], help="globs (relative to mlcli/) of kind-owning modules")
    args = parser.parse_args()
    per_file: Counter = Counter()
    totals = [0, 0]
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if any(fnmatch.fnmatch(rel, g) for g in args.owners):
            continue
        k, t = switches(ast.parse(path.read_text(encoding="utf-8")))
        if k or t:
            per_file[rel] = (k, t)
            totals[0] += k
            totals[1] += t
    print(f"kind switches: {totals[0]} in {sum(1 for v in per_file.values() if v[0])} files; "
          f"task/model-type switches: {totals[1]} in {sum(1 for v in per_file.values() if v[1])} files")  # fmt: skip
    for rel, (k, t) in sorted(per_file.items()):
        print(f"  {rel}: {k} kind, {t} task/type")


if __name__ == "__main__":
    main()
