"""The data room: every model and the trainer read data only through `load_dataset`.

A source (`mlcli.data.sources`) hands over raw splits; `mlcli.data.fit` learns the input state on the
training split (unless a run's saved spec is given); `mlcli.data.pipeline` turns splits into tf.data
pipelines that preprocess with that state's own layers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcli.data import pipeline
from mlcli.data.files import Files, cache_mode, undecodable
from mlcli.data.fit import fit_spec
from mlcli.data.raw import RawData
from mlcli.data.sources import SOURCES
from mlcli.data.sources.tables import as_text
from mlcli.errors import UserError
from mlcli.spec import DataSpec


@dataclass
class DataBundle:
    train: Any  # epoch 0's training batches
    val: Any
    test: Any
    spec: DataSpec
    raw: RawData
    train_data: pipeline.TrainData  # the training split in any epoch's order
    batch_size: int = 32

    def split(self, name: str) -> Any:
        """A raw split by name (train, val, test): what `raw_batches` and `build` take."""
        return {"train": self.raw.train, "val": self.raw.val, "test": self.raw.test}[name]

    def raw_batches(self, name: str):
        """A split's canonical examples and labels in batches: what a serving model reads."""
        return pipeline.raw_batches(self.split(name), self.spec, self.batch_size)


def load_raw(cfg: Any) -> RawData:
    """The source's raw splits; a series is cut into windows here (val and test keep every target)."""
    data = cfg.data
    raw = SOURCES.get(data.source)(data, cfg.seed)
    if raw.kind == "table" and _one_string_column(raw) and _wants_text(cfg):
        raw = as_text(raw)  # short texts a categorical guess would have made categories
    if raw.kind == "series":
        window, horizon = data.window, data.horizon
        train_vals, val_vals, test_vals = raw.train, raw.val, raw.test
        raw.train = pipeline.series_windows(np.array([]), train_vals, window, horizon, "the training split")
        raw.val = pipeline.series_windows(train_vals, val_vals, window, horizon) if len(val_vals) else None
        history = np.concatenate([train_vals, val_vals])
        raw.test = pipeline.series_windows(history, test_vals, window, horizon) if len(test_vals) else None
        raw.series = (train_vals, val_vals, test_vals)
    return raw


def _decodable(raw: RawData, cfg: Any) -> None:
    """Every image file decoded once by TensorFlow before training: one that PIL accepted but TensorFlow
    cannot read is exit 2 naming it (or skipped with `skip_corrupt`), never a crash mid-epoch."""
    for name in ("train", "val", "test"):
        split = getattr(raw, name)
        files = split[0] if isinstance(split, tuple) and isinstance(split[0], Files) else None
        if files is None or files.kind != "image":
            continue
        bad = set(undecodable(files))
        if not bad:
            continue
        if not getattr(cfg.data, "skip_corrupt", False):
            raise UserError(f"{sorted(bad)[0]}: TensorFlow cannot decode this image"
                            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
                            + "; fix or remove it, or set data.skip_corrupt: true")  # fmt: skip
        for path in sorted(bad):
            print(f"warning: skipping {path}: TensorFlow cannot decode it", file=sys.stderr)
        keep = np.array([p not in bad for p in files.paths.astype(str)])
        setattr(raw, name, (files[keep], split[1][keep]))


def _one_string_column(raw: RawData) -> bool:
    types, _ = raw.table_columns
    return len(types) == 1 and next(iter(types.values())) in ("categorical", "text")


def _wants_text(cfg: Any) -> bool:
    """A family that reads text but not tables, or `preprocessing.text` in the config, means text."""
    reads = cfg.model.reads
    return ("text" in reads and "table" not in reads) or "text" in cfg.data.preprocessing.model_fields_set


def load_dataset(cfg: Any, spec: DataSpec | None = None) -> DataBundle:
    """Load raw splits, fit the input state on train (unless a saved `spec` is given), build pipelines."""
    data = cfg.data
    raw = load_raw(cfg)
    if spec is None:
        _decodable(raw, cfg)
        spec = fit_spec(raw, cfg)
    cache = cache_mode(data.cache, [raw.train, raw.val, raw.test])  # one decision for every split
    train_data = pipeline.TrainData(
        raw.train, spec, data.batch_size, cfg.seed, data.shuffle_buffer, cache, data.preprocessing.augment
    )
    return DataBundle(
        train=train_data.epoch(0),
        train_data=train_data,
        val=pipeline.build(raw.val, spec, data.batch_size, cache=cache),
        test=pipeline.build(raw.test, spec, data.batch_size, cache=cache),
        spec=spec,
        raw=raw,
        batch_size=data.batch_size,
    )
