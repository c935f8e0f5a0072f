"""CSV tables with typed columns: numeric, categorical (strings or integers) and free text.

Reading and typing only, without TensorFlow: types are inferred from the training file and can be
overridden per column (`columns:`). `mlcli.data.fit` learns each column's state on the training split
and `mlcli.spec.table` turns it into Keras layers inside the model, so raw rows go in at training,
evaluation, prediction and in every export alike.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.errors import UserError
from mlcli.spec.table import MISSING_MARKERS, TableInput

MISSING = set(MISSING_MARKERS)  # compared lower-cased and stripped
MISSING_TOKEN = ""  # a missing category is a category of its own, the empty string (the model maps every spelling)
CODE_LIMIT = 32  # integer columns with at most this many values, not a run like 1..10, are codes (categories)
ID_MIN_ROWS = 20  # a column unique in every row of at least this many is an identifier, not a feature
ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid)$|^(id|uuid|guid)([_\s-]|$)", re.IGNORECASE)
MAX_CELL = int(os.environ.get("MLCLI_MAX_CSV_CELL", 16 << 20))  # characters in one cell (a long document is fine)
MAX_TABLE_COLUMNS = int(os.environ.get("MLCLI_MAX_TABLE_COLUMNS", 1000))
TEXT_MIN_WORDS = 3.0  # a string column averaging this many words per value is text, not a category
ONE_HOT_LIMIT = 32  # categories up to this count are one-hot; more get a learned embedding
TABLE_TEXT_TOKENS = 2000  # a text column inside a table is a bag of its most frequent tokens
COLUMN_TYPES = ("numeric", "categorical", "text", "ignore")


@dataclass
class Typed:
    """How one column was typed, and why (shown by `mlcli inspect` and at the start of training)."""

    name: str
    type: str
    why: str
    missing: float  # share of missing cells
    distinct: int
    warning: str | None = None


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
    csv.field_size_limit(MAX_CELL)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows, lines = [], []  # blank lines are skipped; errors name the line in the file (the header is 1)
            for row in reader:
                if row:
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise UserError(f"{path}: line {reader.line_num}: {exc} (cells up to {MAX_CELL:,} characters; set "
                        "MLCLI_MAX_CSV_CELL to allow longer ones)") from None  # fmt: skip
    if not header or not rows:
        raise UserError(f"{path}: the CSV needs a header row and at least one data row")
    duplicated = sorted(h for h, n in Counter(header).items() if n > 1)
    if duplicated:
        raise UserError(f"{path}: duplicate column names: {', '.join(duplicated)}")
    if {len(r) for r in rows} != {len(header)}:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise UserError(f"{path}: line {lines[bad]} has {len(rows[bad])} fields; the header has {len(header)}")
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


def infer_type(values: tuple[str, ...], name: str, where: str) -> Typed:
    """numeric, categorical, text or ignore (an identifier), from the values alone, with the reason."""
    text = np.asarray(values, dtype=str)
    missing = missing_mask(text)
    present = text[~missing]
    share = float(missing.mean()) if len(text) else 0.0
    if len(present) == 0:
        raise UserError(f"{where}: column {name!r} has no values; drop it with `columns: {{{name}: ignore}}`")
    distinct = len(np.unique(present))
    unique_per_row = distinct == len(present) and len(present) >= ID_MIN_ROWS
    numbers = np.array([_number(v) for v in present])
    bad = np.isnan(numbers)  # "nan" itself is a missing marker, never present
    typed = lambda kind, why, warning=None: Typed(name, kind, why, share, distinct, warning)  # noqa: E731
    if ID_NAME.search(name.strip()) and (unique_per_row or not bad.all()):
        return typed("ignore", "named like an identifier")
    if not bad.any():
        integer = bool(np.all(numbers == np.round(numbers)))
        if integer and unique_per_row:
            return typed("ignore", "an integer unique in every row: an identifier")
        if integer and distinct <= 2:
            return typed("categorical", f"{distinct} integer values")
        values_seen = np.unique(numbers)
        run = values_seen[-1] - values_seen[0] + 1 == distinct
        if integer and distinct <= CODE_LIMIT and not run:
            return typed("categorical", f"{distinct} integer codes, not a run of values")
        return typed("numeric", "ordinal integers" if integer and run else "numbers")
    if bad.mean() <= 0.05 and len(present) >= ID_MIN_ROWS:
        row = int(np.flatnonzero(~missing)[np.flatnonzero(bad)[0]]) + 2  # the header is line 1
        warning = (f"column {name!r} is numbers but for {int(bad.sum())} value(s) such as {str(present[bad][0])!r} "
                   f"(line {row}): typed categorical; fix those cells or set `columns: {{{name}: numeric}}` "
                   "to refuse them")  # fmt: skip
        return typed("categorical", "numbers with non-numeric cells", warning)
    words = float(np.mean([len(v.split()) for v in present[:10000]]))
    if words >= TEXT_MIN_WORDS:
        return typed("text", f"{words:.1f} words per value on average")
    if unique_per_row:
        return typed("ignore", "a string unique in every row: an identifier")
    return typed("categorical", f"{distinct} distinct strings")


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


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


def column_types(
    header: list[str], columns: list, features: list[str], overrides: dict, path: Path
) -> tuple[dict[str, str], list[Typed]]:
    """Each feature's type (the override if given, else inferred from the training file) and how each
    column was typed; identifiers are left out unless `columns:` types them."""
    unknown = sorted(set(overrides) - set(header))
    if unknown:
        raise UserError(f"data.columns: no column named {', '.join(map(repr, unknown))} in {path}")
    types, report = {}, []
    for name in features:
        values = column(header, columns, name, path)
        if name in overrides:
            inferred = infer_type(values, name, str(path))
            typed = Typed(name, overrides[name], "set in data.columns", inferred.missing, inferred.distinct)
        else:
            typed = infer_type(values, name, str(path))
        report.append(typed)
        if typed.type != "ignore":
            types[name] = typed.type
    if not types:
        raise UserError(f"{path}: no feature columns left (all are ignored, identifiers or the label)")
    if len(types) > MAX_TABLE_COLUMNS:
        raise UserError(f"{path}: {len(types):,} feature columns, each its own model input (a limit of "
                        f"{MAX_TABLE_COLUMNS:,}); pick some with data.features, store wide numeric data as an .npz "
                        "`x`, or set MLCLI_MAX_TABLE_COLUMNS")  # fmt: skip
    return types, report


def typed_table(header: list[str], columns: list, types: dict[str, str], where: Path | str) -> Table:
    """The feature columns parsed by type: numbers (NaN for missing) or stripped strings."""
    out = {}
    for name, kind in types.items():
        values = column(header, columns, name, Path(str(where)))
        if kind == "numeric":
            out[name] = parse_numeric(values, name, str(where))
        elif kind == "categorical":  # a missing category is a category of its own
            stripped = np.array([v.strip() for v in values], dtype=object)
            out[name] = np.where(missing_mask(np.asarray(values, dtype=str)), MISSING_TOKEN, stripped).astype(object)
        else:
            out[name] = np.asarray(values, dtype=object)
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
