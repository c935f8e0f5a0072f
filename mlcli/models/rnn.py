"""LSTM/GRU stacks: embeddings with padding masks for text, raw floats for series."""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.models import RnnModel
from mlcli.models.layers import activation, output_head, regularizer
from mlcli.models.registry import MODELS


@MODELS.register("rnn")
def build(cfg: RnnModel, spec: Any, full_cfg: Any = None) -> keras.Model:
    reg = regularizer(cfg.regularizer)
    inputs, x = spec.input.model_inputs()
    if spec.vocab_size:  # token ids: embedded, padding (id 0) masked
        x = keras.layers.Embedding(
            spec.vocab_size, cfg.embedding_dim, mask_zero=True, embeddings_regularizer=reg, name="embedding"
        )(x)
    elif len(x.shape) == 2:  # a feature vector read as a sequence of scalars
        x = keras.layers.Reshape((x.shape[1], 1))(x)
    cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cfg.cell]
    for i, units in enumerate(cfg.units):
        layer = cell(
            units,
            return_sequences=i < len(cfg.units) - 1,
            dropout=cfg.dropout,
            recurrent_dropout=cfg.recurrent_dropout,
            kernel_regularizer=reg,
        )
        x = keras.layers.Bidirectional(layer)(x) if cfg.bidirectional else layer(x)
    for units in cfg.dense:
        x = activation(cfg.activation)(keras.layers.Dense(units, kernel_regularizer=reg)(x))
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout)(x)
    return keras.Model(inputs, output_head(x, spec, inputs, reg), name="rnn")
