"""A fixed-length vector of numbers (an NPZ `x` of shape (n, d), synthetic regression data).

Standardised with the training split's mean and standard deviation (Keras' Normalization), unless
`preprocessing.standardize` is off.
"""

from __future__ import annotations

from typing import Literal

from mlcli.spec.base import InputState


class FeaturesInput(InputState):
    kind: Literal["features"] = "features"
    mean: list[float]
    std: list[float]

    @property
    def shape(self) -> list[int]:
        return [len(self.mean)]

    def preprocess_layer(self):
        import keras
        import numpy as np

        return keras.layers.Normalization(
            mean=np.array(self.mean), variance=np.array(self.std) ** 2, name="standardize"
        )

    @property
    def cast_to(self) -> str:
        return "float32"
