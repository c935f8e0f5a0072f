"""Transformer encoders over token (or float) sequences: embeddings + N encoder blocks + pooling."""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.models import TransformerModel
from mlcli.models.layers import (
    MaskedGlobalMaxPooling1D,
    PositionEmbedding,
    TransformerEncoder,
    activation,
    model_input,
    output_head,
    regularizer,
    series_features,
)
from mlcli.models.registry import MODELS


@MODELS.register("transformer")
def build(cfg: TransformerModel, spec: Any, full_cfg: Any = None) -> keras.Model:
    reg = regularizer(cfg.regularizer)
    inputs = model_input(spec)
    length = spec.input_shape[0]
    if spec.kind in ("tokens", "text"):
        x = keras.layers.Embedding(spec.vocab_size, cfg.embed_dim, mask_zero=True, name="token_embedding")(inputs)
    else:
        x = series_features(inputs, spec)
        x = x if len(spec.input_shape) == 2 else keras.layers.Reshape((length, 1))(x)
        x = keras.layers.Dense(cfg.embed_dim, name="input_projection")(x)
    x = PositionEmbedding(length, cfg.embed_dim, name="position_embedding")(x)
    x = keras.layers.Dropout(cfg.dropout)(x)
    for i in range(cfg.num_layers):
        x = TransformerEncoder(
            cfg.embed_dim,
            cfg.num_heads,
            cfg.ff_dim,
            cfg.dropout,
            cfg.norm_first,
            cfg.activation,
            cfg.regularizer.l1,
            cfg.regularizer.l2,
            name=f"encoder_{i}",
        )(x)
    if cfg.norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    pool = keras.layers.GlobalAveragePooling1D() if cfg.pooling == "avg" else MaskedGlobalMaxPooling1D()
    x = pool(x)
    for units in cfg.dense:
        x = activation(cfg.activation)(keras.layers.Dense(units, kernel_regularizer=reg)(x))
        x = keras.layers.Dropout(cfg.dropout)(x)
    return keras.Model(inputs, output_head(x, spec, reg, inputs), name="transformer")
