"""`base:` composition: a config names the files it extends, relative to itself; later ones win.

Maps deep-merge; lists and scalars replace. Every key and value keeps the file and line it was
written at, so validation errors (and `config show --origin`) point into the right file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mlcli.config.yaml_positions import Located, Path_, load_file
from mlcli.errors import ConfigError


def deep_merge(base: Any, child: Any) -> Any:
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = deep_merge(base[key], value) if key in base else value
        return out
    return copy.deepcopy(child)


def _value(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def merge_located(base: Located, child: Located) -> Located:
    """`child` over `base`, with each position still naming the file it came from."""
    out = Located(data=deep_merge(base.data, child.data), source=child.source)
    replaced = [p for p in child.value_positions if p and not isinstance(_value(child.data, p), dict)]

    def dropped(path: Path_) -> bool:  # under a value the child replaced wholesale
        return any(len(path) > len(r) and path[: len(r)] == r for r in replaced)

    for doc, keep in ((base, lambda p: not dropped(p)), (child, lambda p: True)):
        for table in ("key_positions", "value_positions"):
            for path, pos in getattr(doc, table).items():
                if keep(path):
                    getattr(out, table)[path] = pos
                    out.files[path] = doc.files.get(path, doc.source)
    return out


def _base_paths(doc: Located) -> list[str]:
    bases = doc.data.pop("base")
    for table in (doc.key_positions, doc.value_positions, doc.files):
        for path in [p for p in table if p[:1] == ("base",)]:
            table.pop(path)
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not bases or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError([f"{doc.source}: base: must be a file path or a list of file paths"])
    return bases


MAX_CHAIN = 32  # bases of bases of ...: a real setup has two or three


def load_composed(path: str | Path, chain: tuple[Path, ...] = ()) -> Located:
    """The config at `path` with its bases (and theirs) merged under it."""
    if len(chain) >= MAX_CHAIN:
        raise ConfigError([f"{chain[0]}: base: more than {MAX_CHAIN} configs deep (via {Path(path).name}); "
                           "flatten some of the bases"])  # fmt: skip
    resolved = Path(path).resolve()
    doc = load_file(path)
    if "base" not in doc.data:
        return doc
    where = doc.locate(("base",))
    merged: Located | None = None
    for name in _base_paths(doc):
        target = Path(path).parent / name
        if not target.is_file():
            raise ConfigError([f"{where}: base: no such file {name!r} (looked for {target})"])
        if target.resolve() in (*chain, resolved):
            cycle = " -> ".join(p.name for p in (*chain, resolved, target.resolve()))
            raise ConfigError([f"{where}: base: {name!r} makes a cycle of bases ({cycle})"])
        layer = load_composed(target, (*chain, resolved))
        merged = layer if merged is None else merge_located(merged, layer)
    return merge_located(merged, doc)
