"""A config loaded and checked as `validate` checks it: the YAML, the schema, the cross-checks, and the
data it names opened cheaply (paths, a CSV's header, class folders), every problem as file:line:col."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcli.config.loader import load_document, validate_document
from mlcli.data.inspect import check
from mlcli.errors import ConfigError


def load_checked(config: Path, overrides: list[str], data: bool = True) -> Any:
    """The validated config; ConfigError (exit 2) listing every problem, data problems included."""
    doc = load_document(config, overrides)
    cfg = validate_document(doc)
    problems = check(cfg) if data else []
    if problems:
        raise ConfigError([f"{doc.locate(path)}: {'.'.join(map(str, path))}: {msg}" for path, msg in problems])
    return cfg
