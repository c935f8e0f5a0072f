"""Convolutional networks: plain blocks (Conv → BN → act → pool) and ResNet-style residual blocks."""

from __future__ import annotations

from typing import Any

import keras

from mlcli.config.models import CnnModel
from mlcli.models.layers import BN_MOMENTUM, activation, output_head, regularizer
from mlcli.models.registry import MODELS


def _block(x, block, act: str, reg, index: int):
    shortcut = x
    padding = "same" if block.residual else block.padding
    for j in range(block.convs):
        x = keras.layers.Conv2D(
            block.filters,
            block.kernel_size,
            strides=block.strides if j == 0 else 1,
            padding=padding,
            use_bias=not block.batch_norm,
            kernel_regularizer=reg,
            name=f"block{index}_conv{j}",
        )(x)
        if block.batch_norm:
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{index}_bn{j}")(x)
        if not (block.residual and j == block.convs - 1):
            x = activation(act)(x)
    if block.residual:
        if shortcut.shape[-1] != block.filters or block.strides != 1:
            shortcut = keras.layers.Conv2D(
                block.filters,
                1,
                strides=block.strides,
                padding="same",
                use_bias=not block.batch_norm,
                kernel_regularizer=reg,
                name=f"block{index}_projection",
            )(shortcut)
            if block.batch_norm:
                shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{index}_projection_bn")(
                    shortcut
                )
        x = activation(act)(keras.layers.Add(name=f"block{index}_add")([x, shortcut]))
    if block.pooling == "max":
        x = keras.layers.MaxPooling2D(block.pool_size, name=f"block{index}_pool")(x)
    elif block.pooling == "avg":
        x = keras.layers.AveragePooling2D(block.pool_size, name=f"block{index}_pool")(x)
    return x


@MODELS.register("cnn")
def build(cfg: CnnModel, spec: Any, full_cfg: Any = None) -> keras.Model:
    reg = regularizer(cfg.regularizer)
    inputs, x = spec.input.model_inputs()
    for i, block in enumerate(cfg.blocks):
        x = _block(x, block, block.activation or cfg.activation, reg, i)
    x = {
        "flatten": keras.layers.Flatten(),
        "global_avg": keras.layers.GlobalAveragePooling2D(),
        "global_max": keras.layers.GlobalMaxPooling2D(),
    }[cfg.head](x)
    for units in cfg.dense:
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout)(x)
        x = keras.layers.Dense(units, kernel_regularizer=reg)(x)
        x = activation(cfg.activation)(x)
    if cfg.dropout:
        x = keras.layers.Dropout(cfg.dropout)(x)
    return keras.Model(inputs, output_head(x, spec, inputs, reg), name="cnn")
