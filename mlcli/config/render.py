"""Human-facing views of the config: resolved YAML, and Rich tables of the registries."""

from __future__ import annotations

import types
import typing

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
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")
        rows.append((".".join(map(str, path)), text, doc.origin(path) or "default"))

    walk(cfg.model_dump(mode="json"), ())
    width = max(len(p) + len(v) for p, v, _ in rows) + 4
    return "".join(f"{f'{p}: {v}':<{width}}# {o}\n" for p, v, o in rows)


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


def _default(field: object) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "{...}"
    return repr(value)


def print_registry(title: str, registry: dict[str, type[BaseModel]], tag: str) -> None:
    console = Console()
    for name, cls in registry.items():
        table = Table(title=f"{title}: {name}", title_justify="left", show_lines=False)
        table.add_column("field", style="cyan")
        table.add_column("type")
        table.add_column("default", style="green")
        for field_name, field in cls.model_fields.items():
            if field_name == tag:
                continue
            table.add_row(field_name, _type_name(field.annotation), _default(field))
        console.print(table)


def print_builtin_datasets() -> None:
    table = Table(title="Builtin datasets (data.source: builtin, shipped, offline)", title_justify="left")
    for col in ("name", "task", "input", "classes", "size", "source"):
        table.add_column(col)
    for row in BUILTIN_DATASETS:
        table.add_row(*row)
    Console().print(table)
