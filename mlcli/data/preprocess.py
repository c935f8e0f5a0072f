"""Preprocessing fitted on train only, as Keras layers, so training, evaluation and export agree.

`fit_state` computes what must be learned from data (vocabulary, mean/std); `preprocessor`
rebuilds the same Keras layer from that saved state anywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcli.config.data import Preprocessing
from mlcli.data.raw import RawData


def image_scale(prep: Preprocessing, model_type: str) -> tuple[float, float]:
    """uint8 → [0, 1], or [-1, 1] for GANs whose generator ends in tanh."""
    if not prep.normalize:
        return 1.0, 0.0
    symmetric = prep.image_range == "symmetric" or (prep.image_range == "auto" and model_type == "gan")
    return (1 / 127.5, -1.0) if symmetric else (1 / 255.0, 0.0)


def fit_state(
    raw: RawData, prep: Preprocessing, model_type: str, window: int = 0, horizon: int = 1, model_cfg: Any = None
) -> dict:
    """Everything learned from the training split, as JSON-able values."""
    state: dict[str, Any] = {}
    if model_cfg is not None and model_cfg.type == "pretrained":  # the preset's own preprocessor reads raw inputs
        state["pretrained"] = {
            "preset": model_cfg.preset,
            "sequence_length": model_cfg.sequence_length,
            "image_size": list(model_cfg.image_size) if model_cfg.image_size else None,
        }
        if raw.kind == "text" and raw.text_column:
            state["text_column"] = raw.text_column
        return state
    if raw.kind == "image":
        scale, offset = image_scale(prep, model_type)
        state.update(scale=scale, offset=offset)
    elif raw.kind in ("features", "series"):
        x = raw.train[0] if raw.kind == "features" else raw.series[0]
        mean = np.mean(x, axis=0) if prep.standardize else np.zeros_like(np.mean(x, axis=0))
        std = np.std(x, axis=0) if prep.standardize else np.ones_like(mean)
        std = np.where(std > 1e-8, std, 1.0)
        state.update(mean=np.atleast_1d(mean).tolist(), std=np.atleast_1d(std).tolist())
        if raw.kind == "series":
            # typical one-step change in standardised units: the scale forecasting models work in
            step = float(np.std(np.diff(x)) / np.atleast_1d(std)[0]) if len(x) > 2 else 1.0
            state.update(window=window, horizon=horizon, step_std=max(step, 1e-6))
    elif raw.kind == "text":
        state.update(_adapt_text(raw, prep))
        if raw.text_column:
            state["text_column"] = raw.text_column
    elif raw.kind == "table":
        from mlcli.data.table import fit_table_state

        types, others = raw.table_columns
        state.update(fit_table_state(raw.train[0], types, others, prep.standardize, prep.text.model_dump()))
    return state


def _text_layer(prep_text: dict, vocabulary: list[str] | None = None, name: str | None = None):
    import keras

    return keras.layers.TextVectorization(
        max_tokens=prep_text["max_tokens"],
        output_sequence_length=prep_text["sequence_length"],
        split=prep_text["split"],
        standardize="lower_and_strip_punctuation" if prep_text["lowercase"] else "strip_punctuation",
        vocabulary=vocabulary,
        name=name,
    )


def adapt_vocabulary(texts, settings: dict) -> list[str]:
    """Keras' TextVectorization vocabulary of `texts` (an array of str, or a tf.data of strings)."""
    import tensorflow as tf

    layer = _text_layer(settings)
    if not isinstance(texts, tf.data.Dataset):
        texts = tf.data.Dataset.from_tensor_slices(np.asarray([str(t) for t in texts], dtype=str))
    layer.adapt(texts.batch(512))
    return layer.get_vocabulary()


def _adapt_text(raw: RawData, prep: Preprocessing) -> dict:
    settings = prep.text.model_dump()
    from mlcli.data.pipeline import decoded

    texts = decoded(raw.train).map(lambda x, y: x)
    return {"text": settings, "vocabulary": adapt_vocabulary(texts, settings)}


def preprocess(pre, spec_kind: str, x):
    """The one preprocessing call on a batch (training, evaluation, predict): images enter as
    float32 0-255, exactly what every export takes, then the run's layer `pre`."""
    import keras

    if spec_kind == "image":
        x = keras.ops.cast(x, "float32")
    return pre(x) if pre is not None else x


def preprocessor(spec_kind: str, state: dict):
    """The Keras layer mapping raw inputs to model inputs, rebuilt from saved state (or None)."""
    import keras

    if "pretrained" in state:
        from mlcli.data.hub import preprocessor as hub_preprocessor

        p = state["pretrained"]
        return hub_preprocessor(spec_kind, p["preset"], p["sequence_length"], tuple(p["image_size"] or ()) or None)
    if spec_kind == "image":
        return keras.layers.Rescaling(state["scale"], state["offset"], name="preprocess")
    if spec_kind == "text":
        return _text_layer(state["text"], state["vocabulary"], name="preprocess")
    if spec_kind in ("features", "series"):
        mean, std = np.array(state["mean"]), np.array(state["std"])
        return keras.layers.Normalization(mean=mean, variance=std**2, name="preprocess")
    return None
