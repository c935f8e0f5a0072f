"""CSV (classification, regression, time series) and NPZ sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcli.config.data import CsvData, NpzData
from mlcli.data.raw import RawData, assemble_splits, check_labels, map_classes
from mlcli.data.sources.registry import SOURCES
from mlcli.data.table import Table, column, column_types, missing_mask, parse_numeric, read_csv, typed_table
from mlcli.errors import UserError


def _floats(values, name: str, path: Path) -> np.ndarray:
    out = parse_numeric(values, name, str(path))
    if np.isnan(out).any():
        raise UserError(f"{path}: column {name!r} has {int(np.isnan(out).sum())} missing values")
    return out


@SOURCES.register("csv")
def load_csv(cfg: CsvData, seed: int) -> RawData:
    path = Path(cfg.path)
    header, columns = read_csv(path)
    if cfg.task == "timeseries":
        name = cfg.value_column or header[-1]
        series = _floats(column(header, columns, name, path), name, path)
        needed = cfg.window + cfg.horizon
        n_test = int(len(series) * cfg.test_fraction)
        n_val = int(len(series) * cfg.val_fraction)
        n_train = len(series) - n_test - n_val
        if n_train < needed:
            raise UserError(
                f"{path}: window ({cfg.window}) + horizon ({cfg.horizon}) is longer than the "
                f"{n_train} training values of {name!r} ({len(series)} in all)"
            )
        return RawData(
            "series", "forecast", series[:n_train], series[n_train : n_train + n_val], series[n_train + n_val :],
            value_column=name,
        )  # fmt: skip
    if not cfg.label:
        raise UserError(f"{path}: data.label must name the label column (columns: {', '.join(header)})")
    features = cfg.features or [h for h in header if h != cfg.label]
    types = column_types(header, columns, features, dict(cfg.columns), path)
    others = [h for h in header if h not in types and h != cfg.label]

    def split(where: Path, head: list[str], cols: list) -> tuple[Table, tuple[str, ...]]:
        labels = column(head, cols, cfg.label, where)
        unlabelled = int(missing_mask(np.asarray(labels, dtype=str)).sum())
        if unlabelled:
            raise UserError(f"{where}: {unlabelled} row(s) have no value in the label column {cfg.label!r}")
        return typed_table(head, cols, types, where), labels

    x, labels = split(path, header, columns)
    held = {}
    for name in ("val", "test"):
        other = getattr(cfg, f"{name}_path")
        if other:  # columns are found by name, so their order may differ from the training file
            held[name] = split(Path(other), *read_csv(Path(other)))
    if cfg.task == "classification":
        class_names = sorted({v.strip() for v in labels})
        y = map_classes([v.strip() for v in labels], class_names, f"{path}: column {cfg.label!r}")
        check_labels(y, f"{path}: column {cfg.label!r}")
        held = {
            k: (hx, map_classes([v.strip() for v in hl], class_names, f"data.{k}_path: {getattr(cfg, f'{k}_path')}"))
            for k, (hx, hl) in held.items()
        }
    else:
        class_names = None
        y = _floats(labels, cfg.label, path)
        held = {k: (hx, _floats(hl, cfg.label, Path(getattr(cfg, f"{k}_path")))) for k, (hx, hl) in held.items()}
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    task = "classification" if cfg.task == "classification" else "regression"
    if list(types.values()) == ["text"]:  # a text,label CSV is a text dataset, exactly like a text folder
        text = next(iter(types))
        train, val, test = ((s[0].columns[text], s[1]) if s is not None else None for s in (train, val, test))
        return RawData("text", task, train, val, test, class_names=class_names, text_column=text)
    return RawData("table", task, train, val, test, class_names=class_names, table_columns=(types, others))


def _npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    if not path.is_file():
        raise UserError(f"{path}: no such .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read as .npz: {exc}") from None
    if "x" not in arrays:
        raise UserError(f"{path}: needs an array named 'x' (found: {', '.join(arrays) or 'none'})")
    x, y = arrays["x"], arrays.get("y")
    if y is not None and len(y) != len(x):
        raise UserError(f"{path}: 'x' has {len(x)} rows but 'y' has {len(y)}")
    if x.ndim == 3:
        x = x[..., None]
    return x, y


@SOURCES.register("npz")
def load_npz(cfg: NpzData, seed: int) -> RawData:
    path = Path(cfg.path)
    x, y = _npz_arrays(path)
    task = cfg.task
    if task == "auto":
        task = "generation" if y is None else ("classification" if np.issubdtype(y.dtype, np.integer) else "regression")
    if task in ("classification", "regression") and y is None:
        raise UserError(f"{path}: task {task!r} needs an array named 'y'")
    kind = "image" if x.ndim == 4 else "features"
    if kind == "image" and x.dtype != np.uint8:
        raise UserError(f"{path}: image arrays must be uint8 0-255 (got {x.dtype})")
    held = {k: _npz_arrays(Path(getattr(cfg, f"{k}_path"))) for k in ("val", "test") if getattr(cfg, f"{k}_path")}
    for name, (hx, hy) in held.items():
        if hx.shape[1:] != x.shape[1:] or (hy is None) != (y is None):
            raise UserError(f"data.{name}_path: its arrays do not match {path} (x {hx.shape[1:]} vs {x.shape[1:]})")
    class_names = None
    if task == "classification":
        y = y.astype(np.int32)
        check_labels(y, f"{path}: 'y'")
        class_names = [str(i) for i in range(int(y.max()) + 1)]
        held = {
            k: (hx, map_classes([str(v) for v in hy.astype(np.int64)], class_names, f"data.{k}_path"))
            for k, (hx, hy) in held.items()
        }
    elif y is not None:
        dtype = np.float32 if task == "regression" else np.int32
        y = y.astype(dtype)
        held = {k: (hx, None if hy is None else hy.astype(dtype)) for k, (hx, hy) in held.items()}
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    return RawData(kind, task, train, val, test, class_names=class_names)
