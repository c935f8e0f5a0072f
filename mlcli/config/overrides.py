"""`--set a.b.c=value` overrides, applied to the raw document before validation.

Values are parsed as YAML scalars (`true`, `1e-3`, `[32, 64]`), and each written path is
remembered so an error in it names the override instead of a line in the file.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlcli.config.yaml_positions import Located, parse_scalar
from mlcli.errors import ConfigError


def _parse_value(text: str, override: str) -> Any:
    try:
        return parse_scalar(text) if text.strip() else ""
    except yaml.YAMLError:
        raise ConfigError([f"--set {override}: cannot parse value {text!r} as YAML"]) from None


def _step(container: Any, key: str, override: str, path: tuple) -> tuple[Any, Any]:
    """Resolve one dotted component against a dict or list; list indices are integers."""
    if isinstance(container, list):
        if not key.lstrip("-").isdigit() or not -len(container) <= int(key) < len(container):
            raise ConfigError(
                [
                    f"--set {override}: {'.'.join(map(str, path))}: index {key!r} is out of range "
                    f"(the list has {len(container)} items)"
                ]
            )
        return int(key), container[int(key)]
    return key, container.get(key)


def apply_overrides(doc: Located, overrides: list[str]) -> None:
    """Write every `path=value` into `doc.data` in place; unknown keys are left to validation."""
    problems: list[str] = []
    for override in overrides:
        dotted, sep, raw = override.partition("=")
        parts = [p for p in dotted.strip().split(".")]
        if not sep or not dotted.strip() or any(not p for p in parts):
            problems.append(f"--set {override}: expected KEY.PATH=VALUE, e.g. training.epochs=5")
            continue
        value = _parse_value(raw, override)
        try:
            node: Any = doc.data
            path: tuple = ()
            for part in parts[:-1]:
                key, child = _step(node, part, override, path)
                if child is None:
                    child = {}
                    node[key] = child
                elif not isinstance(child, (dict, list)):
                    raise ConfigError(
                        [
                            f"--set {override}: {'.'.join(map(str, path + (key,)))} is a value, "
                            f"not a section, so it has no field {parts[len(path) + 1]!r}"
                        ]
                    )
                path += (key,)
                node = child
            key, _ = _step(node, parts[-1], override, path)
            node[key] = value
            doc.overrides[path + (key,)] = override
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
