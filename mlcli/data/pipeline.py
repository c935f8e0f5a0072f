"""tf.data pipelines: cache raw data, shuffle with a seed, batch, then preprocess per batch.

Batching before the map means one preprocessing call per batch, not per example; augmentation
runs on training batches only; everything ends in `prefetch(AUTOTUNE)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcli.config.data import Augmentation
from mlcli.data.preprocess import preprocess, preprocessor
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


def _augmenter(augment: list[Augmentation]):
    """Keras random image layers, applied with stateless seeds so a batch's augmentation is fixed."""
    import keras

    layers = []
    for a in augment:
        if a.name == "random_flip":
            layers.append(keras.layers.RandomFlip(a.mode))
        elif a.name == "random_rotation":
            layers.append(keras.layers.RandomRotation(a.factor))
        elif a.name == "random_translation":
            layers.append(keras.layers.RandomTranslation(a.factor, a.factor))
        elif a.name == "random_zoom":
            layers.append(keras.layers.RandomZoom(a.factor))
        elif a.name == "random_contrast":
            layers.append(keras.layers.RandomContrast(a.factor))
    return layers


def _fixed_seeds(seed):
    """A keras SeedGenerator whose draws are (seed[0], seed[1] + k) for the k-th call site.

    Keras' own generators keep a variable that advances as tf.data happens to run the map, so
    parallel or resumed pipelines would augment differently; keyed seeds make it a pure function.
    """
    import tensorflow as tf
    from keras.src.random.seed_generator import SeedGenerator

    class FixedSeeds(SeedGenerator):
        def __init__(self):  # no state variable: nothing to save, nothing to race on
            self.calls = 0

        def next(self, ordered=True):
            self.calls += 1
            return tf.stack([seed[0], seed[1] * 64 + self.calls])

    return FixedSeeds()


def epoch_seed(seed: int, epoch):
    """The shuffle seed of one epoch: different every epoch, the same on every rerun or resume."""
    import tensorflow as tf

    return tf.cast(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)


def as_dataset(split: Any):
    """numpy `(x, y)` or `(x, None)` → unbatched tf.data; tf.data passes through."""
    import tensorflow as tf

    from mlcli.data.files import Files
    from mlcli.data.table import Table, model_batch

    if split is None or isinstance(split, tf.data.Dataset):
        return split
    x, y = split
    if isinstance(x, Files):  # paths only: `decoded` reads the files
        return x.dataset(y)
    if isinstance(x, Table):  # a dict of columns: strings stay strings, the model encodes them
        x = model_batch(x)
    elif x.dtype == object:  # text: str, or UTF-8 bytes (numpy's astype(str) would decode as ASCII)
        x = np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in x], dtype=str)
    if y is None:
        return tf.data.Dataset.from_tensor_slices(x).map(lambda v: (v, tf.zeros((), tf.int32)))
    return tf.data.Dataset.from_tensor_slices((x, y))


def _files(split: Any):
    from mlcli.data.files import Files

    return split[0] if isinstance(split, tuple) and isinstance(split[0], Files) else None


def _decode(ds, files):
    import tensorflow as tf

    return ds.map(lambda path, y: (files.decode(path), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _cache(ds, mode: str):
    """`memory` or `disk` (a temporary file, removed at exit) keep decoded examples after epoch 1."""
    if mode == "memory":
        return ds.cache()
    if mode == "disk":
        import atexit
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="mlcli-cache-")
        atexit.register(shutil.rmtree, folder, True)
        return ds.cache(f"{folder}/split")
    return ds


def decoded(split: Any, cache: str = "none"):
    """A split as unbatched `(x, y)` examples, files decoded, cached as `cache` says."""
    from mlcli.data.files import cache_mode

    ds = as_dataset(split)
    if ds is None:
        return None
    files = _files(split)
    if files is not None:
        ds = _decode(ds, files)
    return _cache(ds, cache_mode(cache, [split]))


def build(
    split: Any,
    spec: DataSpec,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int = 10000,
    cache: str = "auto",
    augment: list[Augmentation] | None = None,
):
    """One split as a batched, preprocessed, prefetched tf.data pipeline (None stays None).

    For training this is epoch 0's order; `TrainData` gives the order of any epoch.
    """
    if split is None:
        return None
    if training:
        return TrainData(split, spec, batch_size, seed, shuffle_buffer, cache, augment or []).epoch(0)
    return _finish(decoded(split, cache).batch(batch_size), spec, None, None)


def _finish(ds, spec: DataSpec, augment_layers, epoch):
    """Preprocess each batch (augmenting training batches with seeds keyed on epoch and step)."""
    import tensorflow as tf

    pre = preprocessor(spec.kind, spec.state)
    aug = augment_layers if augment_layers and spec.kind == "image" else None
    standardise_targets = spec.kind == "series"
    mean = float(spec.state.get("mean", [0.0])[0])
    std = float(spec.state.get("std", [1.0])[0])

    def transform(step, x, y):
        x = preprocess(pre, spec.kind, x)
        if aug is not None:
            seeds = _fixed_seeds(tf.stack([tf.cast(epoch, tf.int64), tf.cast(step, tf.int64)]))
            for layer in aug:
                x = layer.transform_images(x, layer.get_random_transformation(x, training=True, seed=seeds))
        if standardise_targets:
            y = (tf.cast(y, tf.float32) - mean) / std
        return x, y

    if pre is not None or aug is not None or standardise_targets:
        ds = ds.enumerate().map(lambda step, xy: transform(step, *xy), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class TrainData:
    """The training split, shuffled and augmented as a pure function of (seed, epoch, step).

    `epoch(e)` is one epoch. `for_fit()` is a dataset whose every new iterator (Keras makes one per
    epoch) yields the epoch held in `self.current_epoch`, which `EpochSetter` moves at each epoch
    start; so a run resumed at epoch e sees exactly the batches the uninterrupted run saw.
    """

    def __init__(self, split, spec, batch_size, seed, shuffle_buffer, cache, augment, drop_remainder=False):
        from mlcli.data.files import cache_mode

        files = _files(split)
        self.files = files if files is not None and cache_mode(cache, [split]) == "none" else None
        if self.files is not None:  # shuffle paths (all of them: they are small), decode after
            self.base = as_dataset(split)
            shuffle_buffer = max(shuffle_buffer, len(files))
        else:
            self.base = decoded(split, cache)
        self.spec, self.batch_size, self.seed = spec, batch_size, seed
        self.shuffle_buffer, self.drop_remainder = shuffle_buffer, drop_remainder
        self.augment = _augmenter(augment)
        self.size = int(self.base.cardinality())
        whole = self.size // batch_size
        self.steps_per_epoch = whole if drop_remainder else -(-self.size // batch_size)
        self.current_epoch = None

    def _shuffled(self, epoch):
        """One epoch's order, traced inside `flat_map`, with the graph-level seed cleared while the shuffle
        is built: under `tf.random.set_seed(0)` TensorFlow's `get_seed` compares a tensor op seed with
        (0, 0) and fails (OperatorNotAllowedInGraphError; the path of tensorflow#17284). So the order is a
        function of (seed, epoch) alone, whatever the global seed is."""
        import tensorflow as tf

        graph = tf.compat.v1.get_default_graph()
        saved, graph.seed = graph.seed, None
        try:
            return self.base.shuffle(
                self.shuffle_buffer, seed=epoch_seed(self.seed, epoch), reshuffle_each_iteration=False
            )
        finally:
            graph.seed = saved

    def _epoch(self, epoch):
        import tensorflow as tf

        epoch = tf.cast(epoch, tf.int64)
        ds = tf.data.Dataset.from_tensors(epoch).flat_map(self._shuffled)
        if self.files is not None:
            ds = _decode(ds, self.files)
        ds = ds.batch(self.batch_size, drop_remainder=self.drop_remainder)
        return _finish(ds, self.spec, self.augment, tf.cast(epoch, tf.int64))

    def epoch(self, epoch: int):
        import tensorflow as tf

        return self._epoch(epoch).apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch))

    def for_fit(self):
        import tensorflow as tf

        if self.current_epoch is None:
            self.current_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
        epoch = self.current_epoch
        ds = tf.data.Dataset.from_tensors(0).flat_map(lambda _: self._epoch(epoch.read_value()))
        return ds.apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch)).prefetch(tf.data.AUTOTUNE)

    def with_drop_remainder(self) -> TrainData:
        other = object.__new__(TrainData)
        other.__dict__.update(self.__dict__, drop_remainder=True, steps_per_epoch=self.size // self.batch_size)
        return other
