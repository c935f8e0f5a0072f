"""What `predict` (and the server) read: files, folders and globs, as the run's training read its data.

Each input kind has one reader. A `.txt` file is one document, read exactly as a text folder is read
in training (`--lines` makes each line an example); an image file is decoded and resized with the
run's own resize; a CSV gives table rows by column name, the text column of a text run, or a series'
last window; an `.npz` gives its `x` array. A path that does not exist, is empty, or holds nothing
of the run's kind is exit 2 naming it; nothing is ever read as the text of its own path.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.data.files import IMAGE_SUFFIXES, TEXT_SUFFIXES, Files, plain, read_text_file, unreadable
from mlcli.data.table import column, model_batch, predict_rows, read_csv
from mlcli.errors import UserError
from mlcli.spec import DataSpec

BATCH = 64


@dataclass
class Examples:
    """Canonical examples in batches (by serving input name), a name for each, and for CSV inputs
    the file's other columns (ids, the label) to write next to the predictions."""

    batches: Any  # an iterable of {input name: array}
    names: list[str]
    passthrough: dict[str, np.ndarray] = field(default_factory=dict)


def expand(inputs: list[str], suffixes: set[str]) -> list[Path]:
    """Files, folders (every matching file below, sorted) and globs → files; anything else is exit 2."""
    found: list[Path] = []
    for text in inputs:
        path = Path(text)
        if any(ch in text for ch in "*?[") and not path.exists():
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            files = [p for p in matches if p.is_file() and p.suffix.lower() in suffixes]
            if not files:
                raise UserError(f"{text}: no {'/'.join(sorted(suffixes))} files match")
            found += files
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            if not files:
                raise UserError(f"{path}: no {'/'.join(sorted(suffixes))} files in this folder")
            found += files
        elif path.is_file():
            if path.suffix.lower() not in suffixes:
                raise UserError(f"{path}: not a {'/'.join(sorted(suffixes))} file, which is what this run reads")
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return found


def _batched(arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    n = len(next(iter(arrays.values())))
    return [{k: v[i : i + BATCH] for k, v in arrays.items()} for i in range(0, n, BATCH)]


def _dataset_batches(files: Files, name: str):
    """Files decoded by the training pipeline's own decoder, in batches; a file TensorFlow cannot decode
    (a TIFF named .png, a truncated stream) is exit 2 naming it."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(files.paths.astype(str)).map(plain(files.decode), num_parallel_calls=4)
    batches = iter(ds.batch(BATCH).prefetch(2))
    for start in range(0, len(files), BATCH):
        try:
            x = next(batches)
        except tf.errors.OpError:
            for path in files.paths[start : start + BATCH]:
                try:
                    files.decode(tf.constant(str(path)))
                except tf.errors.OpError as exc:
                    first = str(getattr(exc, "message", exc)).strip().splitlines()[0][:160]
                    raise UserError(f"{path}: TensorFlow cannot decode this image ({first})") from None
            raise
        yield {name: x.numpy()}


def _joined(parts: list[Examples]) -> Examples:
    """Several files' examples as one: batches in order, names and other columns concatenated."""
    batches = [b for p in parts for b in p.batches]
    columns = set.intersection(*(set(p.passthrough) for p in parts)) if parts else set()
    passthrough = {k: np.concatenate([p.passthrough[k] for p in parts]) for k in sorted(columns)}
    return Examples(batches, [n for p in parts for n in p.names], passthrough)


def _npz(path: Path, spec: DataSpec) -> Examples:
    try:
        with np.load(path, allow_pickle=False) as npz:
            x = npz["x"] if "x" in npz.files else npz[npz.files[0]]
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"{path}: cannot read as .npz: {exc}") from None
    if len(spec.input_shape) == 3 and x.ndim == 3:
        x = x[..., None]
    if x.ndim < 1 or len(x) == 0:
        raise UserError(f"{path}: the array 'x' holds no examples")
    raw = next(iter(spec.input.serving_inputs().values()))
    want = tuple(raw.shape[1:])
    if len(want) != x.ndim - 1 or any(w is not None and w != got for w, got in zip(want, x.shape[1:])):
        shown = tuple("any" if w is None else w for w in want)
        raise UserError(f"{path}: 'x' has examples of shape {tuple(x.shape[1:])}; this run reads {shown}")
    dtype = "float32" if raw.dtype in ("float32", "string") else raw.dtype
    return Examples(_batched({spec.input.input_name: x.astype(dtype)}), [f"{path}[{i}]" for i in range(len(x))])


def images(inputs: list[str], spec: DataSpec, lines: bool = False) -> Examples:
    if lines:
        raise UserError("--lines reads .txt files line by line; this run reads images")
    if all(i.lower().endswith(".npz") for i in inputs):
        return _joined([_npz(p, spec) for p in expand(inputs, {".npz"})])
    paths = expand(inputs, IMAGE_SUFFIXES)
    for path in paths:
        problem = unreadable(path, "image")
        if problem:
            raise UserError(f"{path}: {problem}")
    files = Files(np.array([str(p) for p in paths], dtype=object), "image", spec.input.images)
    return Examples(_dataset_batches(files, spec.input.input_name), [str(p) for p in paths])


def texts(inputs: list[str], spec: DataSpec, lines: bool = False) -> Examples:
    """Each `.txt` one document (or each line with `--lines`); a CSV's text column."""
    name = spec.input.input_name
    if all(i.lower().endswith(".csv") for i in inputs) and not lines:
        parts = []
        for path in expand(inputs, {".csv"}):
            header, columns = read_csv(path)
            wanted = spec.input.column or "text"
            values = np.array(column(header, columns, wanted, path), dtype=str)
            passthrough = {h: np.asarray(columns[i], dtype=object) for i, h in enumerate(header) if h != wanted}
            names = [f"{path}:{i + 2}" for i in range(len(values))]  # the line in the file (the header is 1)
            parts.append(Examples(_batched({name: values}), names, passthrough))
        return _joined(parts)
    paths = expand(inputs, TEXT_SUFFIXES)
    documents, names = [], []
    for path in paths:
        text = read_text_file(path)
        if lines:
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    documents.append(line)
                    names.append(f"{path}:{n}")
        else:
            documents.append(text)
            names.append(str(path))
    if not documents:
        raise UserError(f"{', '.join(inputs)}: no text to predict on")
    return Examples(_batched({name: np.array(documents, dtype=str)}), names)


def strings(values: list[str], spec: DataSpec) -> Examples:
    """`--text STRING`: strings typed on the command line."""
    return Examples(_batched({spec.input.input_name: np.array(values, dtype=str)}), list(values))


def tables(inputs: list[str], spec: DataSpec, lines: bool = False, label: str | None = None) -> Examples:
    """Table rows from CSV files (folders and globs of them): columns by name, in any order."""
    if lines:
        raise UserError("--lines reads .txt files line by line; this run reads table rows from .csv files")
    parts = []
    for path in expand(inputs, {".csv"}):
        table, passthrough = predict_rows(path, spec.input, label)
        names = [f"{path}:{i + 2}" for i in range(len(table))]  # the line in the file (the header is 1)
        parts.append(Examples(_batched(model_batch(table)), names, passthrough))
    return _joined(parts)


def series(inputs: list[str], spec: DataSpec, lines: bool = False) -> Examples:
    """A CSV's value column (or an .npz of windows): the forecast after its last window."""
    if lines:
        raise UserError("--lines reads .txt files line by line; this run reads series from .csv files")
    if all(i.lower().endswith(".npz") for i in inputs):
        return _joined([_npz(p, spec) for p in expand(inputs, {".npz"})])
    windows, names = [], []
    for path in expand(inputs, {".csv"}):
        header, columns = read_csv(path)
        name = spec.input.column or header[-1]
        try:
            values = np.array(column(header, columns, name, path), dtype=np.float64)
        except ValueError:
            raise UserError(f"{path}: column {name!r} must hold numbers") from None
        window = spec.input.window
        if len(values) < window:
            raise UserError(f"{path}: need at least {window} values of {name!r} to forecast, got {len(values)}")
        windows.append(values[-window:].astype(np.float32))
        names.append(f"{path} (after its last {window} values)")
    return Examples(_batched({spec.input.input_name: np.stack(windows)}), names)


def arrays(inputs: list[str], spec: DataSpec, lines: bool = False) -> Examples:
    """`x` of .npz files (folders and globs of them)."""
    if lines:
        raise UserError("--lines reads .txt files line by line; this run reads arrays from .npz files")
    return _joined([_npz(p, spec) for p in expand(inputs, {".npz"})])


READERS: dict[str, Callable[..., Examples]] = {
    "image": images, "text": texts, "table": tables, "series": series, "array": arrays,
}  # fmt: skip


def read(inputs: list[str], spec: DataSpec, *, lines: bool = False, label: str | None = None) -> Examples:
    """The examples of `inputs` for a run whose data is `spec` (its kind picks the reader)."""
    reader = READERS[spec.input.reads]
    if reader is tables:
        return tables(inputs, spec, lines, label)
    return reader(inputs, spec, lines)
