"""CSV (classification, regression, time series) and NPZ sources."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mlcli.config.data import CsvData, NpzData
from mlcli.data.raw import RawData, assemble_splits, check_labels, map_classes
from mlcli.data.registry import SOURCES
from mlcli.errors import UserError


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise UserError(f"{path}: no such CSV file")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise UserError(f"{path}: the CSV needs a header row and at least one data row")
    return [h.strip() for h in rows[0]], rows[1:]


def _column(header: list[str], rows: list[list[str]], name: str, path: Path) -> list[str]:
    if name not in header:
        raise UserError(f"{path}: no column named {name!r}; columns are: {', '.join(header)}")
    i = header.index(name)
    return [row[i].strip() for row in rows if len(row) > i]


def _floats(values: list[str], name: str, path: Path) -> np.ndarray:
    try:
        return np.array([float(v) for v in values], np.float32)
    except ValueError as exc:
        raise UserError(f"{path}: column {name!r} must be numeric: {exc}") from None


@SOURCES.register("csv")
def load_csv(cfg: CsvData, seed: int) -> RawData:
    path = Path(cfg.path)
    header, rows = _read_csv(path)
    if cfg.task == "timeseries":
        column = cfg.value_column or header[-1]
        series = _floats(_column(header, rows, column, path), column, path)
        needed = cfg.window + cfg.horizon
        n_test = int(len(series) * cfg.test_fraction)
        n_val = int(len(series) * cfg.val_fraction)
        n_train = len(series) - n_test - n_val
        if n_train < needed:
            raise UserError(
                f"{path}: window ({cfg.window}) + horizon ({cfg.horizon}) is longer than the "
                f"{n_train} training values of {column!r} ({len(series)} in all)"
            )
        return RawData(
            "series", "forecast", series[:n_train], series[n_train : n_train + n_val], series[n_train + n_val :]
        )
    if not cfg.label:
        raise UserError(f"{path}: data.label must name the label column (columns: {', '.join(header)})")
    features = cfg.features or [h for h in header if h != cfg.label]
    x, labels = _table(header, rows, features, cfg.label, path)
    held: dict[str, tuple] = {}
    for split in ("val", "test"):
        other = getattr(cfg, f"{split}_path")
        if other:  # columns are found by name, so their order may differ from the training file
            h, r = _read_csv(Path(other))
            held[split] = _table(h, r, features, cfg.label, Path(other))
    if cfg.task == "classification":
        class_names = sorted(set(labels))
        y = np.array([class_names.index(v) for v in labels], np.int32)
        check_labels(y, f"{path}: column {cfg.label!r}")
        held = {k: (hx, map_classes(hl, class_names, f"data.{k}_path: {getattr(cfg, f'{k}_path')}"))
                for k, (hx, hl) in held.items()}  # fmt: skip
    else:
        class_names = None
        y = _floats(labels, cfg.label, path)
        held = {k: (hx, _floats(hl, cfg.label, Path(getattr(cfg, f"{k}_path")))) for k, (hx, hl) in held.items()}
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    task = "classification" if cfg.task == "classification" else "regression"
    return RawData("features", task, train, val, test, class_names=class_names)


def _table(header: list[str], rows: list[list[str]], features: list[str], label: str, path: Path):
    """Numeric feature columns by name, and the label column as strings."""
    labels = _column(header, rows, label, path)
    x = np.stack([_floats(_column(header, rows, f, path), f, path) for f in features], axis=1)
    return x, labels


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
