"""Transformer encoders over token (or float) sequences: embeddings + N encoder blocks + pooling."""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.models import TransformerModel
from mlcli.models.layers import (
    activation,
    add_positions,
    masked_pooling,
    output_head,
    padding_mask,
    regularizer,
    transformer_encoder,
)
from mlcli.models.registry import MODELS


@MODELS.register("transformer")
def build(cfg: TransformerModel, spec: Any, full_cfg: Any = None) -> keras.Model:
    reg = regularizer(cfg.regularizer)
    inputs, x = spec.input.model_inputs()
    length = spec.input_shape[0]
    mask = None
    if spec.vocab_size:  # token ids: embedded, padding (id 0) masked
        mask = padding_mask(x)
        x = keras.layers.Embedding(spec.vocab_size, cfg.embed_dim, name="token_embedding")(x)
    else:  # numbers: each step (or each feature) projected to the model width
        x = x if len(x.shape) == 3 else keras.layers.Reshape((length, 1))(x)
        x = keras.layers.Dense(cfg.embed_dim, name="input_projection")(x)
    x = add_positions(x, length, cfg.embed_dim)
    x = keras.layers.Dropout(cfg.dropout)(x)
    for i in range(cfg.num_layers):
        x = transformer_encoder(x, mask, cfg, name=f"encoder_{i}")
    if cfg.norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = masked_pooling(x, mask, cfg.pooling)
    for units in cfg.dense:
        x = activation(cfg.activation)(keras.layers.Dense(units, kernel_regularizer=reg)(x))
        x = keras.layers.Dropout(cfg.dropout)(x)
    return keras.Model(inputs, output_head(x, spec, inputs, reg), name="transformer")
