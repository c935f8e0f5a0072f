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


def output_head(x, spec: Any, inputs, reg=None):
    """Logits for classes, linear values otherwise (kept float32 under mixed precision); then the
    input kind's own finish (a forecast adds the predicted change to the last observed value)."""
    out = keras.layers.Dense(spec.output_units(), kernel_regularizer=reg, dtype="float32", name="head")(x)
    return spec.input.finish(out, inputs)


def as_floats(x):
    """Token ids read by a family that wants numbers (an MLP over ids) become float32."""
    return keras.ops.cast(x, "float32") if "int" in str(x.dtype) else x


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
