"""Raw, unpreprocessed splits as each source hands them over, plus seeded split helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcli.errors import UserError


@dataclass
class RawData:
    """Splits as numpy `(x, y)` pairs (`y` None for generation), or tf.data for TFDS.

    For `series`, each split is a 1-D array of values in time order; windows are cut later,
    after standardising with train-only statistics.
    """

    kind: str  # image | text | tokens | features | table | series (an `mlcli.spec` input kind)
    task: str  # classification | regression | forecast
    train: Any
    val: Any = None
    test: Any = None
    class_names: list[str] | None = None
    vocab_size: int | None = None
    sizes: tuple[int, int, int] | None = None
    series: tuple | None = None  # for `series`: the raw (train, val, test) values before windowing
    table_columns: tuple[dict, list] | None = None  # for `table`: feature types, other file columns
    text_column: str | None = None  # for `text` read from a CSV: the column's name
    value_column: str | None = None  # for `series` read from a CSV: the column's name
    column_typing: list | None = None  # for CSVs: how each column was typed, and why (data.table.Typed)


def split_arrays(split: Any, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A raw split as numpy `(x, y)`, whether it is already arrays or a tf.data source (TFDS)."""
    if split is None:
        return np.zeros((0,)), None
    if isinstance(split, tuple):
        x, y = split
        x = x[:limit].arrays() if hasattr(x, "arrays") else x[:limit]  # files: decoded here
        return x, None if y is None else y[:limit]
    pairs = [(x.numpy(), y.numpy()) for x, y in (split.take(limit) if limit else split)]
    if not pairs:
        return np.zeros((0,)), None
    xs, ys = zip(*pairs)
    return np.stack(xs), np.array(ys)


def split_fraction(
    x: np.ndarray, y: np.ndarray | None, fraction: float, seed: int, stratify: bool = True
) -> tuple[tuple, tuple]:
    """Carve `fraction` of (x, y) off by a seeded permutation, stratified by class when labelled."""
    n = len(x)
    rng = np.random.default_rng(seed)
    if fraction <= 0:
        return (x, y), (x[:0], None if y is None else y[:0])
    if y is not None and stratify and np.issubdtype(np.asarray(y).dtype, np.integer):
        held: list[int] = []
        for cls in np.unique(y):
            idx = np.flatnonzero(y == cls)
            rng.shuffle(idx)
            held.extend(idx[: int(round(len(idx) * fraction))])
        mask = np.zeros(n, bool)
        mask[held] = True
    else:
        mask = np.zeros(n, bool)
        mask[rng.permutation(n)[: int(round(n * fraction))]] = True
    keep, hold = np.flatnonzero(~mask), np.flatnonzero(mask)
    rng.shuffle(keep)
    rng.shuffle(hold)

    def take(idx: np.ndarray) -> tuple:
        return x[idx], None if y is None else y[idx]

    return take(keep), take(hold)


def check_labels(y: np.ndarray, what: str) -> None:
    """A classifier needs at least two classes in its training labels."""
    if len(np.unique(y)) < 2:
        raise UserError(f"{what}: the label has a single class ({np.unique(y)[0]!r}); need at least two")


def assemble_splits(train: tuple, val: tuple | None, test: tuple | None, cfg: Any, seed: int) -> tuple:
    """Splits as the user stored them; the missing ones carved from train (test, then val).

    A split given by the user must not be empty, and its labels must be classes train has.
    """
    for name, split in (("val_path", val), ("test_path", test)):
        if split is not None and len(split[0]) == 0:
            raise UserError(f"data.{name}: {getattr(cfg, name, None) or name} holds no examples")
    x, y = train
    if test is None:
        (x, y), test = split_fraction(x, y, cfg.test_fraction, seed)
        test = test if len(test[0]) else None
    if val is None:
        (x, y), val = split_fraction(x, y, cfg.val_fraction, seed + 1)
    return (x, y), val, test


def map_classes(labels: list[str], names: list[str], where: str) -> np.ndarray:
    """Label strings -> indices into the training split's class names; unseen classes are exit 2."""
    unseen = sorted(set(labels) - set(names))
    if unseen:
        raise UserError(f"{where}: classes the training split does not have: {', '.join(map(repr, unseen))}")
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[v] for v in labels], np.int32)
