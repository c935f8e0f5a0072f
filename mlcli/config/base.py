"""Shared pydantic base and small reusable field types for the config."""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal[
    "relu",
    "gelu",
    "elu",
    "selu",
    "tanh",
    "sigmoid",
    "swish",
    "silu",
    "leaky_relu",
    "softplus",
    "mish",
    "linear",
]
ACTIVATIONS = typing.get_args(Activation)
PositiveInt = Annotated[int, Field(gt=0, le=1_000_000_000)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


def registry(union: object, tag: str) -> dict[str, type[BaseModel]]:
    """`tag` value → member class of a discriminated union, so the union is the only list to edit."""
    members = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(cls.model_fields[tag].annotation)[0]: cls for cls in members}


class StrictModel(BaseModel):
    """Every config section rejects unknown keys, booleans as numbers and non-finite floats.

    YAML reads `true` as a bool and `.inf` / `.nan` as floats; pydantic's lax mode would take
    `epochs: true` as 1 and `learning_rate: .inf` as a rate. Strict mode still takes an int
    where a float is expected; YAML lists meant as tuples opt out per field (`Field(strict=False)`).
    """

    model_config = ConfigDict(
        extra="forbid", validate_default=True, strict=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class Regularizer(StrictModel):
    """L1/L2 penalty on kernels, as `keras.regularizers.L1L2`."""

    l1: float = Field(0.0, ge=0.0, le=1.0)
    """L1 penalty on kernels."""
    l2: float = Field(0.0, ge=0.0, le=1.0)
    """L2 penalty on kernels (weight decay through the loss)."""
