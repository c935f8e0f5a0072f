"""CSV (classification, regression, time series) and NPZ sources."""

from __future__ import annotations

import os
import sys
import zipfile
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
        return _series(cfg, path, header, columns)
    if not cfg.label:
        raise UserError(f"{path}: data.label must name the label column (columns: {', '.join(header)})")
    if cfg.label not in header:
        raise UserError(f"{path}: no column named {cfg.label!r} (data.label); columns are: {', '.join(header)}")
    features = cfg.features or [h for h in header if h != cfg.label]
    types, typing = column_types(header, columns, features, dict(cfg.columns), path)
    others = [h for h in header if h not in types and h != cfg.label]
    dropped: dict[str, int] = {}

    def split(name: str, where: Path, head: list[str], cols: list) -> tuple[Table, tuple[str, ...]]:
        labels = np.asarray(column(head, cols, cfg.label, where), dtype=str)
        unlabelled = missing_mask(labels)
        if unlabelled.any():
            if cfg.missing_labels == "refuse":
                raise UserError(f"{where}: {int(unlabelled.sum())} row(s) have no value in the label column "
                                f"{cfg.label!r} (data.missing_labels: refuse)")  # fmt: skip
            dropped[name] = int(unlabelled.sum())
            keep = np.flatnonzero(~unlabelled)
            cols = [tuple(np.asarray(c, dtype=object)[keep]) for c in cols]
            labels = labels[keep]
        return typed_table(head, cols, types, where), tuple(labels)

    x, labels = split("train", path, header, columns)
    held = {}
    for name in ("val", "test"):
        other = getattr(cfg, f"{name}_path")
        if other:  # columns are found by name, so their order may differ from the training file
            held[name] = split(name, Path(other), *read_csv(Path(other)))
    for name, count in dropped.items():
        print(f"warning: {count} {name} row(s) have no {cfg.label!r} and were left out "
              "(data.missing_labels: refuse to stop instead)", file=sys.stderr)  # fmt: skip
    if cfg.task == "classification":
        labels = class_labels(labels)
        class_names = sorted(set(labels))
        y = map_classes(labels, class_names, f"{path}: column {cfg.label!r}")
        check_labels(y, f"{path}: column {cfg.label!r}")
        held = {
            k: (hx, map_classes(class_labels(hl), class_names, f"data.{k}_path: {getattr(cfg, f'{k}_path')}"))
            for k, (hx, hl) in held.items()
        }
    else:
        class_names = None
        y = _floats(labels, cfg.label, path)
        held = {k: (hx, _floats(hl, cfg.label, Path(getattr(cfg, f"{k}_path")))) for k, (hx, hl) in held.items()}
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    task = "classification" if cfg.task == "classification" else "regression"
    raw = RawData("table", task, train, val, test, class_names=class_names, table_columns=(types, others),
                  column_typing=typing)  # fmt: skip
    return as_text(raw) if list(types.values()) == ["text"] else raw


def as_text(raw: RawData) -> RawData:
    """A table whose only feature is a string column, as a text dataset exactly like a text folder."""
    types, _ = raw.table_columns
    (name,) = types
    splits = ((s[0].columns[name].astype(str), s[1]) if s is not None else None for s in (raw.train, raw.val, raw.test))
    return RawData("text", raw.task, *splits, class_names=raw.class_names, text_column=name,
                   column_typing=raw.column_typing)  # fmt: skip


def class_labels(values) -> list[str]:
    """Class names as written, except that numbers name the same class however they are written
    (`1`, `1.0` and ` 1 ` are class `1`)."""
    stripped = [v.strip() for v in values]
    try:
        numbers = [float(v) for v in stripped]
    except ValueError:
        return stripped
    if all(n == int(n) for n in numbers):
        return [str(int(n)) for n in numbers]
    return [repr(n) for n in numbers]


MAX_NPZ_BYTES = int(os.environ.get("MLCLI_MAX_NPZ_BYTES", 16 << 30))  # uncompressed, checked before reading


def _series(cfg: CsvData, path: Path, header: list[str], columns: list) -> RawData:
    """A series in time order. val_path / test_path are the values that follow (each the continuation of
    the one before); without them the last shares of the training file are held out."""
    name = cfg.value_column or header[-1]
    series = _floats(column(header, columns, name, path), name, path)
    held = {}
    for split in ("val", "test"):
        other = getattr(cfg, f"{split}_path")
        if other:
            other_header, other_columns = read_csv(Path(other))
            held[split] = _floats(column(other_header, other_columns, name, Path(other)), name, Path(other))
    n_test = 0 if "test" in held else int(len(series) * cfg.test_fraction)
    n_val = 0 if "val" in held else int(len(series) * cfg.val_fraction)
    n_train = len(series) - n_test - n_val
    if n_train < cfg.window + cfg.horizon:
        raise UserError(
            f"{path}: window ({cfg.window}) + horizon ({cfg.horizon}) is longer than the "
            f"{n_train} training values of {name!r} ({len(series)} in all)"
        )
    train = series[:n_train]
    val = held.get("val", series[n_train : n_train + n_val])
    test = held.get("test", series[n_train + n_val :])
    for split, values in held.items():
        if len(values) < cfg.horizon:
            raise UserError(f"data.{split}_path: {getattr(cfg, f'{split}_path')} has {len(values)} values of {name!r}; "
                            f"a forecast of {cfg.horizon} needs at least that many")  # fmt: skip
    return RawData("series", "forecast", train, val, test, value_column=name)


def _npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """x (and y) of an .npz, checked before and after reading: sizes, shapes, dtypes, finite values."""
    if not path.is_file():
        raise UserError(f"{path}: no such .npz file")
    try:
        with zipfile.ZipFile(path) as archive:  # the uncompressed size, before anything is inflated
            size = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path}: cannot read as .npz: {exc}") from None
    if size > MAX_NPZ_BYTES:
        raise UserError(f"{path}: inflates to {size / 2**30:.1f} GiB, above the limit of {MAX_NPZ_BYTES / 2**30:.0f} "
                        "GiB; set MLCLI_MAX_NPZ_BYTES to allow more")  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path}: cannot read as .npz: {exc}") from None
    if "x" not in arrays:
        raise UserError(f"{path}: needs an array named 'x' (found: {', '.join(arrays) or 'none'})")
    x, y = arrays["x"], arrays.get("y")
    if x.ndim < 2 or x.ndim > 4 or len(x) == 0:
        raise UserError(f"{path}: 'x' has shape {x.shape}; it needs one row per example: (n, features), "
                        "(n, height, width) or (n, height, width, channels)")  # fmt: skip
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
        raise UserError(f"{path}: 'x' holds {x.dtype} values; it needs numbers (integers or floats)")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise UserError(f"{path}: 'x' has {int((~np.isfinite(x)).sum())} NaN or infinite values; fill or drop them")
    if y is not None:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise UserError(f"{path}: 'y' has shape {y.shape}; it needs one label or value per example, shape (n,)")
        if len(y) != len(x):
            raise UserError(f"{path}: 'x' has {len(x)} rows but 'y' has {len(y)}")
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise UserError(f"{path}: 'y' has {int((~np.isfinite(y)).sum())} NaN or infinite values")
    if x.ndim == 3:
        x = x[..., None]
    return x, y


def _labels_task(y: np.ndarray | None) -> str:
    """auto: no y is generation; integers, booleans and strings are classes; floats are values."""
    if y is None:
        return "generation"
    if y.dtype == bool or np.issubdtype(y.dtype, np.integer) or y.dtype.kind in "US":
        return "classification"
    return "regression"


def _class_names(y: np.ndarray, path: Path) -> tuple[np.ndarray, list[str]]:
    """Labels as indices 0..K-1 and the class names: integers 0..K-1 stay themselves; any other set of
    integers, booleans or strings becomes classes in sorted order (said on screen), never a head of
    max(y) + 1 units or a silent int32 truncation."""
    booleans = y.dtype == bool
    if booleans:
        y = y.astype(np.int64)
    values = np.unique(y)
    names = [str(bool(v)) for v in values] if booleans else [str(v) for v in values]
    if not booleans and np.issubdtype(y.dtype, np.integer) and values[0] == 0 and values[-1] == len(values) - 1:
        return y.astype(np.int32), names
    index = {v: i for i, v in enumerate(values.tolist())}
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    print(f"note: {path}: the labels {{{shown}}} are {len(names)} classes, numbered 0..{len(names) - 1} in that order",
          file=sys.stderr)  # fmt: skip
    return np.array([index[v] for v in y.tolist()], np.int32), names


@SOURCES.register("npz")
def load_npz(cfg: NpzData, seed: int) -> RawData:
    path = Path(cfg.path)
    x, y = _npz_arrays(path)
    task = _labels_task(y) if cfg.task == "auto" else cfg.task
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
        y, class_names = _class_names(y, path)
        check_labels(y, f"{path}: 'y'")
        held = {
            k: (hx, map_classes([str(v) for v in (hy.astype(np.int64) if hy.dtype == bool else hy).tolist()],
                                class_names, f"data.{k}_path"))
            for k, (hx, hy) in held.items()
        }  # fmt: skip
    elif y is not None:
        if y.dtype.kind in "US":
            raise UserError(f"{path}: 'y' holds strings; a regression needs numbers (or set task: classification)")
        dtype = np.float32 if task == "regression" else np.int32
        y = y.astype(dtype)
        held = {k: (hx, None if hy is None else hy.astype(dtype)) for k, (hx, hy) in held.items()}
    if kind == "features":
        x = x.astype(np.float32)
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    return RawData(kind, task, train, val, test, class_names=class_names)
