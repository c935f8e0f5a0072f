"""Dense networks over feature vectors (images are flattened first)."""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.models import MlpModel
from mlcli.models.layers import BN_MOMENTUM, activation, model_input, output_head, regularizer, series_features
from mlcli.models.registry import MODELS
from mlcli.models.table_inputs import table_inputs


@MODELS.register("mlp")
def build(cfg: MlpModel, spec: Any, full_cfg: Any = None) -> keras.Model:
    reg = regularizer(cfg.regularizer)
    if spec.kind == "table":
        inputs, x = table_inputs(spec)
    else:
        inputs = model_input(spec)
        x = series_features(inputs, spec)
    x = keras.layers.Flatten()(x) if len(spec.input_shape) > 1 else x
    if spec.kind in ("tokens", "text"):
        x = keras.ops.cast(x, "float32")
    for units in cfg.layers:
        x = keras.layers.Dense(units, kernel_regularizer=reg, use_bias=not cfg.batch_norm)(x)
        if cfg.batch_norm:
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = activation(cfg.activation)(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout)(x)
    return keras.Model(inputs, output_head(x, spec, reg, inputs), name="mlp")
