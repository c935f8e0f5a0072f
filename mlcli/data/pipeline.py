"""tf.data pipelines: cache raw data, shuffle with a seed, batch, then preprocess per batch.

Batching before the map means one preprocessing call per batch, not per example; augmentation
runs on training batches only; everything ends in `prefetch(AUTOTUNE)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcli.config.data import Augmentation
from mlcli.data.preprocess import preprocessor
from mlcli.data.spec import DataSpec
from mlcli.errors import UserError


def series_windows(context: np.ndarray, values: np.ndarray, window: int, horizon: int):
    """Windows of `window` raw values whose next `horizon` values all fall inside `values`.

    `context` is the tail of the earlier split, so val/test lose no targets to warm-up.
    """
    import keras

    data = np.concatenate([context[-window:], values]) if len(context) >= window else values
    count = len(data) - window - horizon + 1
    if count <= 0:
        raise UserError(
            f"data: window ({window}) + horizon ({horizon}) is longer than the series split "
            f"({len(values)} values); use a shorter window or more data"
        )
    targets = np.stack([data[i + window : i + window + horizon] for i in range(count)]).astype(np.float32)
    return keras.utils.timeseries_dataset_from_array(
        data[: count + window - 1, None].astype(np.float32),
        targets,
        sequence_length=window,
        batch_size=None,
        shuffle=False,
    )


def _augmenter(augment: list[Augmentation], seed: int):
    import keras

    layers = []
    for i, a in enumerate(augment):
        s = seed + i
        if a.name == "random_flip":
            layers.append(keras.layers.RandomFlip(a.mode, seed=s))
        elif a.name == "random_rotation":
            layers.append(keras.layers.RandomRotation(a.factor, seed=s))
        elif a.name == "random_translation":
            layers.append(keras.layers.RandomTranslation(a.factor, a.factor, seed=s))
        elif a.name == "random_zoom":
            layers.append(keras.layers.RandomZoom(a.factor, seed=s))
        elif a.name == "random_contrast":
            layers.append(keras.layers.RandomContrast(a.factor, seed=s))
    return keras.Sequential(layers, name="augment") if layers else None


def as_dataset(split: Any):
    """numpy `(x, y)` or `(x, None)` → unbatched tf.data; tf.data passes through."""
    import tensorflow as tf

    if split is None or isinstance(split, tf.data.Dataset):
        return split
    x, y = split
    if x.dtype == object:
        x = x.astype(str)
    if y is None:
        return tf.data.Dataset.from_tensor_slices(x).map(lambda v: (v, tf.zeros((), tf.int32)))
    return tf.data.Dataset.from_tensor_slices((x, y))


def build(
    split: Any,
    spec: DataSpec,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int = 10000,
    cache: bool = True,
    augment: list[Augmentation] | None = None,
):
    """One split as a batched, preprocessed, prefetched tf.data pipeline (None stays None)."""
    import tensorflow as tf

    ds = as_dataset(split)
    if ds is None:
        return None
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    pre = preprocessor(spec.kind, spec.state)
    aug = _augmenter(augment or [], seed) if training and spec.kind == "image" else None
    standardise_targets = spec.kind == "series"
    mean = float(spec.state.get("mean", [0.0])[0])
    std = float(spec.state.get("std", [1.0])[0])

    def transform(x, y):
        if pre is not None:
            x = pre(x)
        if aug is not None:
            x = aug(x, training=True)
        if standardise_targets:
            y = (tf.cast(y, tf.float32) - mean) / std
        return x, y

    if pre is not None or aug is not None or standardise_targets:
        ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
