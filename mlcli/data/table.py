"""CSV tables with typed columns: numeric, categorical (strings or integers) and free text.

Reading and typing only, without TensorFlow: types are inferred from the training file and can be
overridden per column (`columns:`). `mlcli.data.fit` learns each column's state on the training split
and `mlcli.spec.table` turns it into Keras layers inside the model, so raw rows go in at training,
evaluation, prediction and in every export alike.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.errors import UserError
from mlcli.spec.table import TableInput

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
INTEGER_CATEGORY_LIMIT = 10  # an integer column with at most this many values is read as categories
TEXT_MIN_WORDS = 3.0  # a string column averaging this many words per value is text, not a category
ONE_HOT_LIMIT = 32  # categories up to this count are one-hot; more get a learned embedding
TABLE_TEXT_TOKENS = 2000  # a text column inside a table is a bag of its most frequent tokens
COLUMN_TYPES = ("numeric", "categorical", "text", "ignore")


@dataclass
class Table:
    """Columns of equal length by name: float32 (NaN = missing) or str. Indexes like an array."""

    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, index: Any) -> Table:
        return Table({k: v[index] for k, v in self.columns.items()})


def model_batch(table: Table) -> dict[str, np.ndarray]:
    """A table as the model takes it: a dict keyed by input name, strings as str arrays."""
    keys = input_keys(list(table.columns))
    return {keys[k]: (v.astype(str) if v.dtype == object else v) for k, v in table.columns.items()}


def read_csv(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    """Header and columns (as tuples of str) of a UTF-8 CSV; a ragged row is exit 2 with its line."""
    if not path.is_file():
        raise UserError(f"{path}: no such CSV file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows = [row for row in reader if row]
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    if not header or not rows:
        raise UserError(f"{path}: the CSV needs a header row and at least one data row")
    duplicated = sorted(h for h, n in Counter(header).items() if n > 1)
    if duplicated:
        raise UserError(f"{path}: duplicate column names: {', '.join(duplicated)}")
    if {len(r) for r in rows} != {len(header)}:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise UserError(f"{path}: data row {bad + 1} has {len(rows[bad])} fields; the header has {len(header)}")
    return header, list(zip(*rows))


def column(header: list[str], columns: list[tuple[str, ...]], name: str, path: Path) -> tuple[str, ...]:
    if name not in header:
        raise UserError(f"{path}: no column named {name!r}; columns are: {', '.join(header)}")
    return columns[header.index(name)]


def missing_mask(values: np.ndarray) -> np.ndarray:
    return np.isin(np.char.lower(np.char.strip(values)), list(MISSING))


def parse_numeric(values: tuple[str, ...] | np.ndarray, name: str, where: str) -> np.ndarray:
    """Floats with NaN for missing cells; a cell that is not a number is exit 2 naming it."""
    text = np.asarray(values, dtype=str)
    missing = missing_mask(text)
    out = np.full(len(text), np.nan, np.float32)
    try:
        out[~missing] = text[~missing].astype(np.float64)
    except ValueError:
        bad = str(next(v for v in text[~missing] if not _is_number(v)))
        raise UserError(f"{where}: column {name!r} is numeric but has the value {bad!r}") from None
    if not np.isfinite(out[~missing]).all():
        raise UserError(f"{where}: column {name!r} has an infinite value")
    return out


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def infer_type(values: tuple[str, ...], name: str, where: str) -> str:
    """numeric, categorical or text, from the values alone (see the limits at the top)."""
    text = np.asarray(values, dtype=str)
    present = text[~missing_mask(text)]
    if len(present) == 0:
        raise UserError(f"{where}: column {name!r} has no values; drop it with `columns: {{{name}: ignore}}`")
    try:
        numbers = present.astype(np.float64)
    except ValueError:
        words = np.mean([len(v.split()) for v in present[:10000]])
        return "text" if words >= TEXT_MIN_WORDS else "categorical"
    integer = np.all(numbers == np.round(numbers))
    return "categorical" if integer and len(np.unique(numbers)) <= INTEGER_CATEGORY_LIMIT else "numeric"


def input_keys(names: list[str]) -> dict[str, str]:
    """Each column's input name in the model: the name itself when it is a plain identifier
    (SavedModel signatures allow nothing else), else a cleaned, de-duplicated version of it."""
    keys: dict[str, str] = {}
    for name in names:
        key = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "column"
        key = key if key[0].isalpha() else f"c_{key}"
        base, n = key, 2
        while key in keys.values():
            key, n = f"{base}_{n}", n + 1
        keys[name] = key
    return keys


def column_types(header: list[str], columns: list, features: list[str], overrides: dict, path: Path) -> dict:
    """Each feature's type: the override if given, else inferred from the training file."""
    unknown = sorted(set(overrides) - set(header))
    if unknown:
        raise UserError(f"data.columns: no column named {', '.join(map(repr, unknown))} in {path}")
    types = {}
    for name in features:
        kind = overrides.get(name) or infer_type(column(header, columns, name, path), name, str(path))
        if kind != "ignore":
            types[name] = kind
    if not types:
        raise UserError(f"{path}: no feature columns left (all are ignored or the label)")
    return types


def typed_table(header: list[str], columns: list, types: dict[str, str], where: Path | str) -> Table:
    """The feature columns parsed by type: numbers (NaN for missing) or stripped strings."""
    out = {}
    for name, kind in types.items():
        values = column(header, columns, name, Path(str(where)))
        if kind == "numeric":
            out[name] = parse_numeric(values, name, str(where))
        else:
            text = np.asarray(values, dtype=object)
            out[name] = np.array([v.strip() if kind == "categorical" else v for v in text], dtype=object)
    return Table(out)


def vocabulary(values: np.ndarray, limit: int = 100000) -> list[str]:
    """Most frequent first (ties alphabetical), as Keras' StringLookup.adapt orders it."""
    counts = Counter(values.tolist())
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]


def predict_rows(path: Path, table: TableInput, label: str | None) -> tuple[Table, dict[str, np.ndarray]]:
    """Raw rows for `predict`, columns found by name in any order (a missing or unknown one is exit 2),
    and the file's other columns (ids, the label) as they are, to be written next to the predictions."""
    header, columns = read_csv(path)
    names = [c.name for c in table.columns]
    absent = [n for n in names if n not in header]
    if absent:
        raise UserError(f"{path}: missing column(s) {', '.join(map(repr, absent))}; the model reads {names}")
    known = set(names) | set(table.other_columns) | {label}
    extra = [h for h in header if h not in known]
    if extra:
        raise UserError(f"{path}: unexpected column(s) {', '.join(map(repr, extra))}; the model reads {names}")
    passthrough = {h: np.asarray(columns[header.index(h)], dtype=object) for h in header if h not in names}
    return typed_table(header, columns, {c.name: c.type for c in table.columns}, path), passthrough
