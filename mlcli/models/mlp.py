"""Dense networks over feature vectors (images and windows are flattened first; tables arrive encoded)."""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.models import MlpModel
from mlcli.models.layers import BN_MOMENTUM, activation, as_floats, output_head, regularizer
from mlcli.models.registry import MODELS


@MODELS.register("mlp")
def build(cfg: MlpModel, spec: Any, full_cfg: Any = None) -> keras.Model:
    reg = regularizer(cfg.regularizer)
    inputs, x = spec.input.model_inputs()
    x = as_floats(keras.layers.Flatten()(x) if len(x.shape) > 2 else x)
    for units in cfg.layers:
        x = keras.layers.Dense(units, kernel_regularizer=reg, use_bias=not cfg.batch_norm)(x)
        if cfg.batch_norm:
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = activation(cfg.activation)(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout)(x)
    return keras.Model(inputs, output_head(x, spec, inputs, reg), name="mlp")
