"""What is learned from the training split, per input kind, as the typed state of `mlcli.spec`.

Fitting is here, applying is the spec's (`preprocess`), so nothing learned is ever refitted on
validation or test data, and a saved spec rebuilds exactly the same layers anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlcli import __version__
from mlcli.config.data import Preprocessing
from mlcli.data.files import Files, plain
from mlcli.data.inspect import profile
from mlcli.data.raw import RawData, split_arrays
from mlcli.data.table import ONE_HOT_LIMIT, TABLE_TEXT_TOKENS, Table, input_keys, vocabulary
from mlcli.errors import UserError
from mlcli.spec import DataSpec, TargetScaling, TextSettings
from mlcli.spec.features import FeaturesInput
from mlcli.spec.image import ImageInput
from mlcli.spec.pretrained import PretrainedInput
from mlcli.spec.series import SeriesInput
from mlcli.spec.table import CategoricalColumn, NumericColumn, TableInput, TextColumn
from mlcli.spec.text import TextInput
from mlcli.spec.tokens import TokensInput


def image_shape(raw: RawData) -> tuple[tuple[int, int], int]:
    """(size, channels) of a raw image split: from the files' resize target, else the first example."""
    x = raw.train[0] if isinstance(raw.train, tuple) else None
    if isinstance(x, Files):
        return tuple(x.image.size), x.image.channels
    first = x[0] if x is not None else next(iter(raw.train))[0]
    shape = tuple(int(s) for s in np.shape(first))
    return shape[:2], shape[2]


def _image(raw: RawData, prep: Preprocessing, cfg: Any) -> ImageInput:
    """uint8 → [0, 1], or [-1, 1] when the model asks for it (a GAN's generator ends in tanh)."""
    size, channels = image_shape(raw)
    if not prep.normalize:
        scale, offset = 1.0, 0.0
    elif prep.image_range == "symmetric" or (prep.image_range == "auto" and cfg.model.image_range == "symmetric"):
        scale, offset = 1 / 127.5, -1.0
    else:
        scale, offset = 1 / 255.0, 0.0
    return ImageInput(size=size, channels=channels, scale=scale, offset=offset)


def adapt_vocabulary(texts, settings: TextSettings) -> list[str]:
    """Keras' TextVectorization vocabulary of `texts` (an array of str, or a tf.data of strings)."""
    import tensorflow as tf

    layer = settings.layer()
    if not isinstance(texts, tf.data.Dataset):
        texts = tf.data.Dataset.from_tensor_slices(np.asarray([str(t) for t in texts], dtype=str))
    layer.adapt(texts.batch(512))
    return layer.get_vocabulary()


def _train_texts(raw: RawData):
    """The training split's texts as tf.data strings, read exactly as the pipeline reads them."""
    import tensorflow as tf

    x = raw.train[0] if isinstance(raw.train, tuple) else None
    if isinstance(x, Files):
        return tf.data.Dataset.from_tensor_slices(x.paths.astype(str)).map(plain(x.decode))
    if x is not None:
        return np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in x], dtype=str)
    return raw.train.map(plain(lambda text, label: text))


def _text(raw: RawData, prep: Preprocessing, cfg: Any) -> TextInput:
    settings = TextSettings(**prep.text.model_dump())
    return TextInput(settings=settings, vocabulary=adapt_vocabulary(_train_texts(raw), settings),
                     column=raw.text_column)  # fmt: skip


def _tokens(raw: RawData, prep: Preprocessing, cfg: Any) -> TokensInput:
    return TokensInput(length=int(raw.train[0].shape[1]), vocab_size=int(raw.vocab_size))


def _moments(x: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    mean = np.mean(x, axis=0) if standardize else np.zeros_like(np.mean(x, axis=0))
    std = np.std(x, axis=0) if standardize else np.ones_like(mean)
    return np.atleast_1d(mean), np.atleast_1d(np.where(std > 1e-8, std, 1.0))


def _features(raw: RawData, prep: Preprocessing, cfg: Any) -> FeaturesInput:
    mean, std = _moments(raw.train[0], prep.standardize)
    return FeaturesInput(mean=mean.tolist(), std=std.tolist())


def _series(raw: RawData, prep: Preprocessing, cfg: Any) -> SeriesInput:
    values = raw.series[0]
    mean, std = _moments(values, prep.standardize)
    # the typical one-step change in standardised units: the scale forecasting models work in
    step = float(np.std(np.diff(values)) / std[0]) if len(values) > 2 else 1.0
    window, horizon = cfg.data.window, cfg.data.horizon
    return SeriesInput(mean=float(mean[0]), std=float(std[0]), step_std=max(step, 1e-6), window=window,
                       horizon=horizon, column=raw.value_column)  # fmt: skip


def _table(raw: RawData, prep: Preprocessing, cfg: Any) -> TableInput:
    """Means, variances and vocabularies of each column, from the training split only."""
    train: Table = raw.train[0]
    types, others = raw.table_columns
    keys = input_keys(list(types))
    text = TextSettings(**{**prep.text.model_dump(), "max_tokens": min(prep.text.max_tokens, TABLE_TEXT_TOKENS)})
    columns: list = []
    for name, kind in types.items():
        values = train.columns[name]
        if kind == "numeric":
            present = values[~np.isnan(values)]
            mean = float(present.mean()) if len(present) else 0.0
            var = float(present.var()) if len(present) else 1.0
            columns.append(NumericColumn(
                name=name, key=keys[name], impute=mean, mean=mean if prep.standardize else 0.0,
                variance=(var if var > 1e-12 else 1.0) if prep.standardize else 1.0,
                missing_indicator=bool(np.isnan(values).any()),
            ))  # fmt: skip
        elif kind == "categorical":
            vocab = vocabulary(values)
            embed = len(vocab) > ONE_HOT_LIMIT
            dim = int(min(32, round(1.6 * (len(vocab) + 1) ** 0.56))) if embed else None  # fast.ai's rule
            encoding = "embedding" if embed else "one_hot"
            columns.append(
                CategoricalColumn(name=name, key=keys[name], vocabulary=vocab, encoding=encoding, embedding_dim=dim)
            )
        else:
            columns.append(TextColumn(name=name, key=keys[name], settings=text,
                                      vocabulary=adapt_vocabulary(values, text)))  # fmt: skip
    return TableInput(columns=columns, other_columns=others)


def _pretrained(raw: RawData, prep: Preprocessing, cfg: Any) -> PretrainedInput:
    """The preset's own preprocessor reads raw inputs; files are decoded at the folder's size first."""
    model = cfg.model
    modality = "text" if raw.kind == "text" else "image"
    image = None
    if modality == "image":
        size, channels = image_shape(raw)
        image = ImageInput(size=size, channels=channels)
    return PretrainedInput(input_name=modality, preset=model.preset, modality=modality,
                           sequence_length=model.sequence_length, image_size=model.image_size,
                           column=raw.text_column, image=image)  # fmt: skip


FITTERS: dict[str, Callable[[RawData, Preprocessing, Any], Any]] = {
    "image": _image, "text": _text, "tokens": _tokens, "features": _features, "series": _series, "table": _table,
}  # fmt: skip


def _target(raw: RawData, task: str, cfg: Any, state: Any) -> TargetScaling | None:
    """Series targets share the series' statistics; regression targets are standardised on the training
    split (after log1p with `target_transform: log`), unless `standardize_targets` is off."""
    if task == "forecast":
        return TargetScaling(mean=state.mean, std=state.std)
    if task != "regression":
        return None
    prep = cfg.data.preprocessing
    y = np.asarray(raw.train[1] if isinstance(raw.train, tuple) else [v for _, v in raw.train], np.float64)
    log = prep.target_transform == "log"
    if log:
        if (y < 0).any():
            raise UserError(f"data.preprocessing.target_transform: log needs targets ≥ 0; the training split's "
                            f"smallest is {y.min():g}")  # fmt: skip
        y = np.log1p(y)
    if not prep.standardize_targets:
        return TargetScaling(mean=0.0, std=1.0, log=log) if log else None
    std = float(y.std())
    return TargetScaling(mean=float(y.mean()), std=std if std > 1e-12 else 1.0, log=log)


def fit_spec(raw: RawData, cfg: Any) -> DataSpec:
    """The run's DataSpec: the input state fitted on `raw.train`, the task, the classes, the sizes."""
    prep = cfg.data.preprocessing
    fitter = _pretrained if cfg.model.wraps_preprocessing else FITTERS[raw.kind]
    state = fitter(raw, prep, cfg)
    task = cfg.model.task_override or raw.task
    return DataSpec(
        task=task,
        input=state,
        class_names=raw.class_names,
        output_dim=cfg.data.horizon if raw.kind == "series" else 1,
        target=_target(raw, task, cfg, state),
        num_train=count(raw.train),
        num_val=count(raw.val),
        num_test=count(raw.test),
        mlcli_version=__version__,
        profile=profile(raw, cfg),
    )


def count(split: Any) -> int:
    if split is None:
        return 0
    if isinstance(split, tuple):
        return len(split[0])
    return int(split.cardinality())


__all__ = ["fit_spec", "adapt_vocabulary", "count", "split_arrays"]
