"""Load, override and validate a config; map every pydantic error back to its YAML node."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlcli.config.compose import load_composed
from mlcli.config.monitors import check_config as check_monitors
from mlcli.config.overrides import apply_overrides
from mlcli.config.schema import Config
from mlcli.config.yaml_positions import Located, load_located
from mlcli.errors import ConfigError

_DISCRIMINATORS = ("type", "source")


def _model_at(cls: Any, loc: tuple, data: Any) -> type[BaseModel] | None:
    """The pydantic class that validates the mapping at `loc`, to list its valid keys."""
    for part in loc:
        cls = _unwrap(cls, data)
        if cls is None:
            return None
        if isinstance(part, int):
            args = typing.get_args(cls)
            cls = args[0] if args else None
            data = data[part] if isinstance(data, list) and part < len(data) else None
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or part not in cls.model_fields:
            return None
        cls = cls.model_fields[part].annotation
        data = data.get(part) if isinstance(data, dict) else None
    cls = _unwrap(cls, data)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _unwrap(cls: Any, data: Any) -> Any:
    """Strip Annotated/Optional and pick the union member the data's tag selects."""
    while typing.get_origin(cls) is typing.Annotated:
        cls = typing.get_args(cls)[0]
    if typing.get_origin(cls) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        members = [a for a in typing.get_args(cls) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(models) == 1:
            return models[0]
        for m in models:
            for tag in _DISCRIMINATORS:
                field = m.model_fields.get(tag)
                if field and isinstance(data, dict) and data.get(tag) in typing.get_args(field.annotation):
                    return m
        return members[0] if len(members) == 1 else None
    return cls


def _data_loc(loc: tuple, data: Any) -> tuple:
    """Drop pydantic's union-tag and validator components so `loc` follows the document."""
    out: list = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if part < len(node) else None
        elif isinstance(node, dict) and any(node.get(t) == part for t in _DISCRIMINATORS):
            continue
        elif isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        elif node is not None and not isinstance(node, (dict, list)):
            break  # the rest names union members (`bool`, `literal['auto']`), not document keys
        elif last or isinstance(node, dict):
            out.append(part)
            node = None
    return tuple(out)


def _message(err: dict, loc: tuple, doc: Located) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        model = _model_at(Config, loc[:-1], doc.data)
        valid = sorted(model.model_fields) if model else []
        guess = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        msg = f"unknown key {loc[-1]!r}"
        msg += f"; did you mean `{guess[0]}`?" if guess else ""
        msg += f" (valid keys: {', '.join(valid)})" if valid else ""
    elif kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("discriminator", "").strip("'")
        expected = err.get("ctx", {}).get("expected_tags", "")
        got = err.get("ctx", {}).get("tag", "")
        valid = [t.strip().strip("'") for t in expected.split(",")]
        guess = difflib.get_close_matches(str(got), valid, n=1, cutoff=0.5)
        msg = f"unknown {tag} {got!r}" + (f"; did you mean `{guess[0]}`?" if guess else "")
        msg += f" Valid: {', '.join(valid)}"
    elif kind == "union_tag_not_found":
        tag = err.get("ctx", {}).get("discriminator", "").strip("'")
        msg = f"missing `{tag}`; it selects which kind of section this is"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind in ("int_type", "float_type") and isinstance(err.get("input"), bool):
        msg = f"Input should be a number, not a boolean ({str(err['input']).lower()})"
    return msg.replace("Value error, ", "")


def _merge_alternatives(messages: list[str]) -> str:
    """One field failing every member of a union: `Input should be a valid boolean or 'auto'`."""
    prefix = "Input should be "
    if len(messages) > 1 and all(m.startswith(prefix) for m in messages):
        return prefix + " or ".join(m[len(prefix) :].split(", unable")[0] for m in messages)
    return "; ".join(dict.fromkeys(messages))


def format_errors(exc: ValidationError, doc: Located) -> list[str]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for err in exc.errors():
        loc = _data_loc(tuple(err["loc"]), doc.data)
        if err["type"] in ("union_tag_invalid",):
            tag = err.get("ctx", {}).get("discriminator", "").strip("'")
            loc = loc + (tag,)
        prefer_key = err["type"] == "extra_forbidden"
        where_loc = loc[:-1] if err["type"] == "missing" else loc
        where = doc.locate(where_loc, prefer_key=prefer_key)
        dotted = ".".join(str(p) for p in loc) or "<root>"
        grouped.setdefault((where, dotted), []).append(_message(err, loc, doc))
    return [f"{where}: {dotted}: {_merge_alternatives(msgs)}" for (where, dotted), msgs in grouped.items()]


def cross_checks(cfg: Config) -> list[tuple[tuple, str]]:
    """Problems that span sections (data vs model), found without TensorFlow: each config class
    answers for itself (which inputs a family reads, what shape a source's images have)."""
    problems: list[tuple[tuple, str]] = []
    model, data = cfg.model, cfg.data
    if model.needs_images and not data.has_images():
        problems.append((("model", "type"), f"{model.type!r} needs image data, but `{data.source}` has no images"))
    shape = data.image_shape()
    if shape is not None:
        problems.extend((("model", *p), m) for p, m in model.check_input(shape))
    if model.task_override == "generation" and cfg.distribute.strategy == "multi_worker":
        problems.append((("distribute", "strategy"), "multi_worker does not support GANs yet; use none or mirrored"))
    if data.class_weight is not None and cfg.distribute.strategy == "multi_worker":
        problems.append((("data", "class_weight"), "multi_worker training does not weigh classes yet"))
    if cfg.training.reduce_lr_on_plateau and cfg.optimizer.schedule.name != "constant":
        problems.append(
            (
                ("training", "reduce_lr_on_plateau"),
                f"needs optimizer.schedule.name: constant (got {cfg.optimizer.schedule.name}); use one or the other",
            )
        )
    problems.extend(check_monitors(cfg))
    return problems


def default_name(source: str) -> str:
    """A run name from the config file's name (`experiments/small lr.yaml` → `small_lr`)."""
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "_", Path(source).stem).strip("._") if source else ""
    return stem[:100] or "run"


def validate_document(doc: Located) -> Config:
    """Validate; top-level `x-*` keys are ignored, so YAML anchors can live there (as in Compose), and a
    missing `name` is the config file's name."""
    data = {k: v for k, v in doc.data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    data.setdefault("name", default_name(doc.source))
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, doc)) from None
    problems = cross_checks(cfg)
    if problems:
        raise ConfigError([f"{doc.locate(path)}: {'.'.join(map(str, path))}: {msg}" for path, msg in problems])
    return cfg


def load_document(path: str | Path, overrides: list[str] | None = None) -> Located:
    """The YAML with its `base:` files merged in and `--set` applied, positions kept."""
    doc = load_composed(path)
    apply_overrides(doc, overrides or [])
    return doc


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """The one entry: read YAML with positions, apply `--set`, validate everything at once."""
    return validate_document(load_document(path, overrides))


def load_config_text(text: str, source: str = "<string>", overrides: list[str] | None = None) -> Config:
    doc = load_located(text, source)
    apply_overrides(doc, overrides or [])
    return validate_document(doc)
