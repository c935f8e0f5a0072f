"""Human-facing views of the config: resolved YAML, and Rich tables of the registries."""

from __future__ import annotations

import os
import re
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from mlcli.config.schema import Config

BUILTIN_DATASETS = [
    # name, task, input shape, classes, samples, source
    ("digits", "classification", "8x8x1 uint8", "10", "1,437 train / 360 test", "UCI optdigits (scikit-learn copy)"),
    (
        "co2",
        "forecast",
        "window x 1 float32",
        "-",
        "2,284 weekly values (1958-2001)",
        "NOAA Mauna Loa (statsmodels copy)",
    ),
]


ORIGIN_COLUMN = 56  # `config show --origin` aligns origins here (longer lines just get two spaces)


def to_yaml(cfg: Config) -> str:
    """The resolved config as YAML, in field order, enough to rerun the same training."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, default_flow_style=None, width=100)


def with_origins(cfg: Config, doc) -> str:
    """One line per value: `dotted.path: value  # file:line:col`, `--set ...` or `default`."""
    rows: list[tuple[str, str, str]] = []

    def walk(value: object, path: tuple) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, (*path, key))
            return
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):  # model.blocks.0.filters, as --set spells it
                walk(item, (*path, i))
            return
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")
        rows.append((".".join(map(str, path)), text, _near(doc.origin(path)) or "default"))

    walk(cfg.model_dump(mode="json"), ())
    # align the origins of ordinary lines; a long value (a vocabulary, a long list) does not push every line out
    width = min(max(len(p) + len(v) for p, v, _ in rows), ORIGIN_COLUMN) + 4
    return "".join(f"{f'{p}: {v}':<{width - 2}}  # {o}\n" for p, v, o in rows)


def _near(origin: str | None) -> str | None:
    """`file:line:col` with the file relative to the current folder when it lies below it: a config named
    by its absolute path would otherwise push every origin off an 80- or 100-column terminal."""
    match = re.fullmatch(r"(.+)(:\d+:\d+)", origin or "")
    if not match or not os.path.isabs(match.group(1)):
        return origin
    try:
        return str(Path(match.group(1)).relative_to(Path.cwd())) + match.group(2)
    except ValueError:
        return origin


def _type_name(annotation: object) -> str:
    """A readable type: Literal choices spelled out, Annotated constraints dropped."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _compact(value: object) -> str:
    """A default as YAML would spell it, nested sections by the fields they set."""
    if isinstance(value, BaseModel):
        set_fields = {k: v for k, v in value.model_dump(mode="json").items()
                      if k not in ("type", "source") and v != type(value).model_fields[k].get_default(
                          call_default_factory=True)}  # fmt: skip
        return yaml.safe_dump(set_fields, default_flow_style=True, width=10**6).strip() if set_fields else "{}"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()


def _nested(annotation: object) -> type[BaseModel] | None:
    """The config section a field holds (directly, in a list, or optional), to list its fields too."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested(arg)
        if found is not None:
            return found
    return None


def registry_rows(cls: type[BaseModel], tag: str, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(field, type, default, description) for every field, nested sections expanded (`blocks[].filters`)."""
    rows = []
    for name, field in cls.model_fields.items():
        if name == tag:
            continue
        default = "(required)" if field.is_required() else _compact(field.get_default(call_default_factory=True))
        rows.append((prefix + name, _type_name(field.annotation), default, field.description or ""))
        nested = _nested(field.annotation)
        if nested is not None and prefix.count(".") < 2:
            many = typing.get_origin(field.annotation) is list or "list[" in _type_name(field.annotation)
            rows.extend(registry_rows(nested, tag, f"{prefix}{name}{'[]' if many else ''}."))
    return rows


def print_registry(title: str, registry: dict[str, type[BaseModel]], tag: str) -> None:
    console = Console()
    for name, cls in registry.items():
        doc = (cls.model_fields[tag].description or "").rstrip(".")
        table = Table(title=f"{title}: {name}" + (f" — {doc}" if doc else ""), title_justify="left")
        table.add_column("field", style="cyan", no_wrap=True)
        table.add_column("type", overflow="fold")
        table.add_column("default", style="green", overflow="fold")
        table.add_column("description", overflow="fold", ratio=1)
        for row in registry_rows(cls, tag):
            table.add_row(*row)
        console.print(table)


def print_builtin_datasets() -> None:
    table = Table(title="Builtin datasets (data.source: builtin, shipped, offline)", title_justify="left")
    for col in ("name", "task", "input", "classes", "size", "source"):
        table.add_column(col)
    for row in BUILTIN_DATASETS:
        table.add_row(*row)
    Console().print(table)
