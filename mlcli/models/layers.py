"""Pieces shared by the families: regularisers, the spec-driven output head, custom layers.

Everything is built from Keras' own layers and `keras.ops`, never a custom layer class, so a
saved `.keras` file (and every export) reloads with plain `keras.models.load_model`, without mlcli.
"""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.base import Regularizer

# Keras' default 0.99 needs thousands of steps to settle; small datasets train for a few hundred,
# so evaluation with the moving statistics was erratic (val accuracy 10-60 % while train was 95 %).
BN_MOMENTUM = 0.9


def regularizer(cfg: Regularizer):
    return keras.regularizers.L1L2(l1=cfg.l1, l2=cfg.l2) if (cfg.l1 or cfg.l2) else None


def activation(name: str):
    return keras.layers.LeakyReLU(0.2) if name == "leaky_relu" else keras.layers.Activation(name)


def output_units(spec: Any) -> int:
    """Two classes share one logit (sigmoid), as hand-written binary Keras models do."""
    if spec.task == "classification":
        return 1 if spec.num_classes == 2 else spec.num_classes
    return spec.output_dim


def output_head(x, spec: Any, reg=None, inputs=None):
    """Logits for classes, linear values otherwise; kept float32 under mixed precision.

    Forecasts are residual over the last observed value (`inputs`): the network learns the change,
    so it still works when the future leaves the range seen in training (a rising CO2 trend).
    """
    out = keras.layers.Dense(output_units(spec), kernel_regularizer=reg, dtype="float32", name="head")(x)
    if spec.kind == "series" and inputs is not None:
        change = keras.layers.Rescaling(step_scale(spec), name="change", dtype="float32")(out)
        out = keras.layers.Add(name="forecast", dtype="float32")([change, last_value(inputs)])
    return out


def step_scale(spec: Any) -> float:
    return float(spec.state.get("step_std", 1.0)) if spec.state else 1.0


def series_features(inputs, spec: Any):
    """A series window relative to its last value, in units of the typical one-step change."""
    if spec.kind != "series":
        return inputs
    return (inputs - inputs[:, -1:, :]) * (1.0 / step_scale(spec))


def last_value(series):
    """The last time step's value of a (batch, window, 1) series, as (batch, 1)."""
    return keras.ops.cast(series[:, -1, :1], "float32")


def model_input(spec: Any):
    dtype = "int32" if spec.kind in ("tokens", "text") else "float32"
    return keras.Input(shape=tuple(spec.input_shape), dtype=dtype, name="inputs")


def padding_mask(tokens):
    """True at real tokens: id 0 is padding (TextVectorization's and the tokens sources' convention)."""
    return keras.ops.not_equal(tokens, 0)


def add_positions(x, max_length: int, embed_dim: int):
    """Adds a learned embedding of each position (ids derived from `x`, so they stay trainable)."""
    steps = keras.ops.cumsum(keras.ops.ones_like(x[:, :, 0], dtype="int32"), axis=1) - 1
    return x + keras.layers.Embedding(max_length, embed_dim, name="position_embedding")(steps)


def transformer_encoder(x, mask, cfg: Any, name: str):
    """Self-attention + feed-forward with residuals (pre-norm if `norm_first`), built-in layers only.

    The padding mask is passed explicitly, so the saved model needs no custom layer to reload.
    """
    reg = regularizer(cfg.regularizer)
    attention_mask = None if mask is None else keras.ops.logical_and(mask[:, :, None], mask[:, None, :])
    norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")
    norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")
    h = norm1(x) if cfg.norm_first else x
    h = keras.layers.MultiHeadAttention(
        cfg.num_heads,
        cfg.embed_dim // cfg.num_heads,
        dropout=cfg.dropout,
        kernel_regularizer=reg,
        name=f"{name}_attention",
    )(h, h, attention_mask=attention_mask)
    x = keras.layers.Add()([x, keras.layers.Dropout(cfg.dropout)(h)])
    if not cfg.norm_first:
        x = norm1(x)
    h = norm2(x) if cfg.norm_first else x
    h = keras.layers.Dense(cfg.ff_dim, activation=cfg.activation, kernel_regularizer=reg, name=f"{name}_ff_in")(h)
    h = keras.layers.Dense(cfg.embed_dim, kernel_regularizer=reg, name=f"{name}_ff_out")(h)
    x = keras.layers.Add()([x, keras.layers.Dropout(cfg.dropout)(h)])
    return x if cfg.norm_first else norm2(x)


def masked_pooling(x, mask, how: str):
    """Average or max over real time steps only (Keras' GlobalMaxPooling1D ignores masks)."""
    if how == "avg":
        pooled = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
    else:
        if mask is not None:
            floor = keras.ops.min(x, axis=1, keepdims=True)  # never above a real step; any dtype
            x = keras.ops.where(mask[:, :, None], x, floor)
        pooled = keras.ops.max(x, axis=1)
    return keras.layers.Identity(name="pooled")(pooled)


def class_probabilities(logits):
    """Logits → probabilities per class; one binary logit l → softmax([0, l]) = [1 - σ(l), σ(l)]."""
    if logits.shape[-1] == 1:
        logits = keras.layers.Concatenate()([keras.ops.zeros_like(logits), logits])
    return keras.layers.Softmax(name="probabilities")(logits)
