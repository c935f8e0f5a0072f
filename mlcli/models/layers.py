"""Pieces shared by the families: regularisers, the spec-driven output head, custom layers.

Custom layers are registered serialisable so a saved `.keras` file reloads with
`keras.models.load_model` whenever mlcli is installed.
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
        out = keras.layers.Add(name="forecast", dtype="float32")([change, LastValue(name="last_value")(inputs)])
    return out


def step_scale(spec: Any) -> float:
    return float(spec.state.get("step_std", 1.0)) if spec.state else 1.0


def series_features(inputs, spec: Any):
    """A series window relative to its last value, in units of the typical one-step change."""
    if spec.kind != "series":
        return inputs
    return RelativeToLast(1.0 / step_scale(spec), name="relative_to_last")(inputs)


@keras.saving.register_keras_serializable(package="mlcli")
class RelativeToLast(keras.layers.Layer):
    """(x - x_last) * scale for a (batch, window, 1) series."""

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, series):
        return (series - series[:, -1:, :]) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="mlcli")
class LastValue(keras.layers.Layer):
    """The last time step's value of a (batch, window, 1) series, as (batch, 1)."""

    def call(self, series):
        return keras.ops.cast(series[:, -1, :1], "float32")


@keras.saving.register_keras_serializable(package="mlcli")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over real time steps only: Keras' GlobalMaxPooling1D ignores the padding mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is not None:
            floor = keras.ops.min(x, axis=1, keepdims=True)  # never above a real step; any dtype
            x = keras.ops.where(mask[:, :, None], x, floor)
        return keras.ops.max(x, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def model_input(spec: Any):
    dtype = "int32" if spec.kind in ("tokens", "text") else "float32"
    return keras.Input(shape=tuple(spec.input_shape), dtype=dtype, name="inputs")


@keras.saving.register_keras_serializable(package="mlcli")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each position; passes the padding mask through."""

    def __init__(self, max_length: int, embed_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.embed_dim = embed_dim
        self.positions = keras.layers.Embedding(max_length, embed_dim)
        self.supports_masking = True

    def build(self, input_shape):
        self.positions.build((None, self.max_length))
        super().build(input_shape)

    def call(self, x):
        length = keras.ops.shape(x)[1]
        return x + self.positions(keras.ops.arange(length))[None, :, :]

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package="mlcli")
class TransformerEncoder(keras.layers.Layer):
    """Self-attention + feed-forward with residuals; pre-norm (`norm_first`) or post-norm."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        norm_first: bool = True,
        activation: str = "gelu",
        l1: float = 0.0,
        l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim = embed_dim, num_heads, ff_dim
        self.dropout_rate, self.norm_first, self.activation_name = dropout, norm_first, activation
        self.l1, self.l2 = l1, l2
        reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
        self.attention = keras.layers.MultiHeadAttention(
            num_heads, embed_dim // num_heads, dropout=dropout, kernel_regularizer=reg
        )
        self.ff_in = keras.layers.Dense(ff_dim, activation=activation, kernel_regularizer=reg)
        self.ff_out = keras.layers.Dense(embed_dim, kernel_regularizer=reg)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop1 = keras.layers.Dropout(dropout)
        self.drop2 = keras.layers.Dropout(dropout)
        self.supports_masking = True

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.ff_in.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_dim))
        super().build(input_shape)

    def call(self, x, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            attention_mask = keras.ops.logical_and(mask[:, :, None], mask[:, None, :])
        h = self.norm1(x) if self.norm_first else x
        h = self.attention(h, h, attention_mask=attention_mask, training=training)
        x = x + self.drop1(h, training=training)
        if not self.norm_first:
            x = self.norm1(x)
        h = self.norm2(x) if self.norm_first else x
        h = self.ff_out(self.ff_in(h))
        x = x + self.drop2(h, training=training)
        return x if self.norm_first else self.norm2(x)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout_rate,
            "norm_first": self.norm_first,
            "activation": self.activation_name,
            "l1": self.l1,
            "l2": self.l2,
        }


@keras.saving.register_keras_serializable(package="mlcli")
class ClassProbabilities(keras.layers.Layer):
    """Logits → probabilities per class (exports); one binary logit → [p(class 0), p(class 1)]."""

    def call(self, logits):
        if logits.shape[-1] == 1:
            p = keras.ops.sigmoid(logits)
            return keras.ops.concatenate([1.0 - p, p], axis=-1)
        return keras.ops.softmax(logits, axis=-1)
