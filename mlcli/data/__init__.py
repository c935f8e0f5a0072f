"""The data room: every model and the trainer read data only through `load_dataset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcli.data.spec import DataSpec


@dataclass
class DataBundle:
    train: Any
    val: Any
    test: Any
    spec: DataSpec
    raw: Any = None
    train_data: Any = None  # pipeline.TrainData: the training split in any epoch's order


def _loader(source: str) -> Callable:
    """Source name -> its loader; importing the source modules registers them."""
    from mlcli.data import builtin, folders, synthetic, tabular, tfds_source  # noqa: F401
    from mlcli.data.registry import SOURCES

    return SOURCES.get(source)


def _window(data_cfg: Any) -> tuple[int, int]:
    return getattr(data_cfg, "window", 0), getattr(data_cfg, "horizon", 1)


def _count(split: Any) -> int:
    if split is None:
        return 0
    if isinstance(split, tuple):
        return len(split[0])
    return int(split.cardinality())


def load_dataset(cfg: Any, spec: DataSpec | None = None) -> DataBundle:
    """Load raw splits, fit preprocessing on train (unless a saved `spec` is given), build pipelines."""
    from mlcli.data import pipeline
    from mlcli.data.files import cache_mode
    from mlcli.data.preprocess import fit_state

    data = cfg.data
    raw = _loader(data.source)(data, cfg.seed)
    window, horizon = _window(data)
    if raw.kind == "series":
        train_vals, val_vals, test_vals = raw.train, raw.val, raw.test
        raw.train = pipeline.series_windows(np.array([]), train_vals, window, horizon)
        raw.val = pipeline.series_windows(train_vals, val_vals, window, horizon) if len(val_vals) else None
        history = np.concatenate([train_vals, val_vals])
        raw.test = pipeline.series_windows(history, test_vals, window, horizon) if len(test_vals) else None
        raw.series = (train_vals, val_vals, test_vals)
    if spec is None:
        state = fit_state(raw, data.preprocessing, cfg.model.type, window, horizon, cfg.model)
        spec = _make_spec(raw, state, cfg.model.type, horizon)
    cache = cache_mode(data.cache, [raw.train, raw.val, raw.test])  # one decision for every split
    common = {"seed": cfg.seed, "cache": cache}
    train_data = pipeline.TrainData(
        raw.train, spec, data.batch_size, cfg.seed, data.shuffle_buffer, cache, data.preprocessing.augment
    )
    return DataBundle(
        train=train_data.epoch(0),
        train_data=train_data,
        val=pipeline.build(raw.val, spec, data.batch_size, training=False, **common),
        test=pipeline.build(raw.test, spec, data.batch_size, training=False, **common),
        spec=spec,
        raw=raw,
    )


def _make_spec(raw: Any, state: dict, model_type: str, horizon: int) -> DataSpec:
    task = "generation" if model_type == "gan" else raw.task
    vocab = None
    if raw.kind == "image":
        from mlcli.data.files import Files

        x = raw.train[0] if isinstance(raw.train, tuple) else None
        if isinstance(x, Files):
            shape = [*x.size, x.channels]
        else:
            shape = list(np.shape(x[0] if x is not None else next(iter(raw.train))[0]))
    elif raw.kind == "text" and "pretrained" in state:
        shape = []  # raw strings: the preset's tokenizer decides the length
    elif raw.kind == "text":
        shape = [state["text"]["sequence_length"]]
        vocab = len(state["vocabulary"])
    elif raw.kind == "tokens":
        shape, vocab = [raw.train[0].shape[1]], raw.vocab_size
    elif raw.kind == "features":
        shape = [raw.train[0].shape[1]]
    elif raw.kind == "table":
        shape = [len(state["columns"])]
    else:  # series
        shape = [state["window"], 1]
    output_dim = horizon if raw.kind == "series" else 1
    return DataSpec(
        task=task,
        kind=raw.kind,
        input_shape=[int(s) for s in shape],
        class_names=raw.class_names,
        output_dim=output_dim,
        vocab_size=vocab,
        num_train=_count(raw.train),
        num_val=_count(raw.val),
        num_test=_count(raw.test),
        state=state,
    )
