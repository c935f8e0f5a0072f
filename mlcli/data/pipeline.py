"""tf.data pipelines: canonical examples, cached, shuffled by (seed, epoch), batched, then preprocessed.

A canonical example is what a client's raw input becomes before preprocessing (an image decoded and
resized, a document's text, a row's columns, a window of values). Batching comes before the map, so
preprocessing (the spec's own layers) runs once per batch; augmentation runs on training batches
only, with seeds keyed on (epoch, step); everything ends in `prefetch(AUTOTUNE)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.config.data import Augmentation
from mlcli.data.files import Files, cache_mode, plain
from mlcli.data.table import Table, model_batch
from mlcli.errors import UserError
from mlcli.spec import DataSpec


def series_windows(context: np.ndarray, values: np.ndarray, window: int, horizon: int, where: str = "the series"):
    """Windows (vectors of `window` raw values) whose next `horizon` values all fall inside `values`.

    `context` is the tail of the earlier split, so val/test lose no targets to warm-up.
    """
    import keras

    data = np.concatenate([context[-window:], values]) if len(context) >= window else values
    count = len(data) - window - horizon + 1
    if count <= 0:
        raise UserError(
            f"data: window ({window}) + horizon ({horizon}) is longer than {where} "
            f"({len(values)} values); use a shorter window or more data"
        )
    targets = np.stack([data[i + window : i + window + horizon] for i in range(count)]).astype(np.float32)
    return keras.utils.timeseries_dataset_from_array(
        data[: count + window - 1].astype(np.float32),
        targets,
        sequence_length=window,
        batch_size=None,
        shuffle=False,
    )


def augmenter(augment: list[Augmentation]) -> list:
    """Keras random image layers, applied with stateless seeds so a batch's augmentation is fixed."""
    import keras

    make = {
        "random_flip": lambda a: keras.layers.RandomFlip(a.mode),
        "random_rotation": lambda a: keras.layers.RandomRotation(a.factor),
        "random_translation": lambda a: keras.layers.RandomTranslation(a.factor, a.factor),
        "random_zoom": lambda a: keras.layers.RandomZoom(a.factor),
        "random_contrast": lambda a: keras.layers.RandomContrast(a.factor),
    }
    return [make[a.name](a) for a in augment]


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


def _files(split: Any) -> Files | None:
    return split[0] if isinstance(split, tuple) and isinstance(split[0], Files) else None


def as_dataset(split: Any):
    """numpy `(x, y)` or `(x, None)` → unbatched tf.data of canonical examples; tf.data passes through.
    Files stay paths here (`decoded` reads them)."""
    import tensorflow as tf

    if split is None or isinstance(split, tf.data.Dataset):
        return split
    x, y = split
    if isinstance(x, Files):
        return x.dataset(y)
    if isinstance(x, Table):  # a dict of columns: strings stay strings, the model encodes them
        x = model_batch(x)
    elif x.dtype == object:  # text: str, or UTF-8 bytes (numpy's astype(str) would decode as ASCII)
        x = np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in x], dtype=str)
    if y is None:
        return tf.data.Dataset.from_tensor_slices(x).map(plain(lambda v: (v, tf.zeros((), tf.int32))))
    return tf.data.Dataset.from_tensor_slices((x, y))


def _decode(ds, files: Files):
    import tensorflow as tf

    pair = plain(lambda path, y: (files.decode(path), y))
    return ds.map(pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _cache(ds, mode: str):
    """`memory` or `disk` (a temporary file, removed at exit) keep decoded examples after epoch 1."""
    if mode == "memory":
        return ds.cache()
    if mode == "disk":
        import atexit
        import shutil
        import tempfile

        remove_orphan_caches()
        folder = tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-")
        atexit.register(shutil.rmtree, folder, True)
        return ds.cache(f"{folder}/split")
    return ds


CACHE_PREFIX = "mlcli-cache-"


def remove_orphan_caches() -> None:
    """`cache: disk` folders of processes that no longer exist (killed with -9, so atexit never ran)."""
    import shutil
    import tempfile

    for folder in Path(tempfile.gettempdir()).glob(f"{CACHE_PREFIX}*-*"):
        try:
            pid = int(folder.name[len(CACHE_PREFIX) :].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def with_spec_files(split: Any, spec: DataSpec) -> Any:
    """A split whose image files are resized the way the run's spec says (its size, its antialiasing)."""
    files = _files(split)
    if files is None or spec.input.images is None:
        return split
    return (files.resized_by(spec.input.images), split[1])


def canonical(split: Any, spec: DataSpec, cache: str = "none"):
    """A split as unbatched `(x, y)` canonical examples, files decoded, cached as `cache` says."""
    split = with_spec_files(split, spec)
    ds = as_dataset(split)
    if ds is None:
        return None
    files = _files(split)
    if files is not None:
        ds = _decode(ds, files)
    return _cache(ds, cache_mode(cache, [split]))


def raw_batches(split: Any, spec: DataSpec, batch_size: int):
    """Batches of canonical examples and their labels, unpreprocessed: what a serving model takes."""
    import tensorflow as tf

    ds = canonical(split, spec)
    return None if ds is None else ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def build(split: Any, spec: DataSpec, batch_size: int, *, cache: str = "auto"):
    """An evaluation split as a batched, preprocessed, prefetched pipeline (None stays None)."""
    if split is None:
        return None
    return _finish(canonical(split, spec, cache).batch(batch_size), spec, None, None)


def _finish(ds, spec: DataSpec, augment_layers, epoch):
    """Preprocess each batch with the spec's layers (augmenting training batches with keyed seeds)
    and standardise value targets as the model is trained on them."""
    import tensorflow as tf

    preprocess, target = spec.input.preprocessor(), spec.target

    def transform(step, x, y):
        x = preprocess(x)
        if augment_layers:
            seeds = _fixed_seeds(tf.stack([tf.cast(epoch, tf.int64), tf.cast(step, tf.int64)]))
            for aug in augment_layers:
                x = aug.transform_images(x, aug.get_random_transformation(x, training=True, seed=seeds))
        if target is not None:
            y = target.scale(y)
        return x, y

    ds = ds.enumerate().map(plain(lambda step, xy: transform(step, *xy)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class TrainData:
    """The training split, shuffled and augmented as a pure function of (seed, epoch, step).

    `epoch(e)` is one epoch. `for_fit()` is a dataset whose every new iterator (Keras makes one per
    epoch) yields the epoch held in `self.current_epoch`, which `EpochSetter` moves at each epoch
    start; so a run resumed at epoch e sees exactly the batches the uninterrupted run saw.
    """

    def __init__(self, split, spec, batch_size, seed, shuffle_buffer, cache, augment, drop_remainder=False):
        split = with_spec_files(split, spec)
        files = _files(split)
        self.files = files if files is not None and cache_mode(cache, [split]) == "none" else None
        if self.files is not None:  # shuffle paths (all of them: they are small), decode after
            self.base = as_dataset(split)
            shuffle_buffer = max(shuffle_buffer, len(files))
        else:
            self.base = canonical(split, spec, cache)
        self.spec, self.batch_size, self.seed = spec, batch_size, seed
        self.shuffle_buffer, self.drop_remainder = shuffle_buffer, drop_remainder
        self.augment = augmenter(augment) if spec.input.reads == "image" else []
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
        ds = tf.data.Dataset.from_tensors(epoch).flat_map(plain(self._shuffled))
        if self.files is not None:
            ds = _decode(ds, self.files)
        ds = ds.batch(self.batch_size, drop_remainder=self.drop_remainder)
        return _finish(ds, self.spec, self.augment, epoch)

    def epoch(self, epoch: int):
        import tensorflow as tf

        return self._epoch(epoch).apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch))

    def for_fit(self):
        import tensorflow as tf

        if self.current_epoch is None:
            self.current_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
        epoch = self.current_epoch
        ds = tf.data.Dataset.from_tensors(0).flat_map(plain(lambda _: self._epoch(epoch.read_value())))
        return ds.apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch)).prefetch(tf.data.AUTOTUNE)

    def with_drop_remainder(self) -> TrainData:
        other = object.__new__(TrainData)
        other.__dict__.update(self.__dict__, drop_remainder=True, steps_per_epoch=self.size // self.batch_size)
        return other
