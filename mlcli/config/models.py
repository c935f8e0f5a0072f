"""Config of each model family, discriminated on `type`.

Adding a family = one class here, one line in `ModelConfig`, one module in `mlcli/models/`.
Checks that need only the config and the input shape live here, so `mlcli validate` catches
them without importing TensorFlow.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, model_validator

from mlcli.config.base import Activation, Fraction, PositiveInt, Regularizer, StrictModel, registry


class ConvBlock(StrictModel):
    """Conv layers then optional pooling; `residual` adds a ResNet shortcut (projected if needed)."""

    filters: PositiveInt
    kernel_size: Annotated[int, Field(gt=0, le=31)] = 3
    strides: Annotated[int, Field(gt=0, le=8)] = 1
    padding: Literal["valid", "same"] = "valid"
    convs: Annotated[int, Field(gt=0, le=8)] = 1
    batch_norm: bool = False
    activation: Activation | None = None
    pooling: Literal["max", "avg", "none"] = "max"
    pool_size: Annotated[int, Field(gt=0, le=8)] = 2
    residual: bool = False


class ModelBase(StrictModel):
    """What every family answers about itself, so no other module switches on `model.type`."""

    reads: ClassVar[tuple[str, ...]]  # the input kinds (mlcli.spec) this family can read
    task_override: ClassVar[str | None] = None  # a GAN turns labelled images into generation
    image_range: ClassVar[str] = "unit"  # how `image_range: auto` scales pixels for this family
    wraps_preprocessing: ClassVar[bool] = False  # KerasHub presets bring their own preprocessor
    needs_images: ClassVar[bool] = False

    def check_input(self, shape: tuple[int, ...]) -> list[tuple[tuple, str]]:
        """Problems of this architecture on images of `shape` (h, w, c), found without TensorFlow."""
        return []

    def reads_kind(self, kind: str) -> str | None:
        """Why this family cannot read `kind` inputs, or None when it can."""
        if kind in self.reads:
            return None
        hint = " (a CSV whose only feature is a text column trains with rnn or transformer)" if kind == "table" else ""
        users = sorted(t for t, cls in MODEL_TYPES.items() if kind in cls.reads)
        return f"{self.type!r} cannot read {kind} inputs; use {' or '.join(users)}{hint}"


def _conv_out(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


class CnnModel(ModelBase):
    reads: ClassVar = ("image",)
    needs_images: ClassVar = True
    type: Literal["cnn"]
    blocks: list[ConvBlock] = Field(min_length=1)
    activation: Activation = "relu"
    head: Literal["flatten", "global_avg", "global_max"] = "flatten"
    dense: list[PositiveInt] = Field(default_factory=list)
    dropout: Fraction = 0.0
    regularizer: Regularizer = Field(default_factory=Regularizer)

    def check_input(self, shape: tuple[int, ...]) -> list[tuple[tuple, str]]:
        """Follow the spatial size through every block; report the block that shrinks it below 1x1."""
        problems: list[tuple[tuple, str]] = []
        h, w = shape[0], shape[1]
        for i, block in enumerate(self.blocks):
            start = (h, w)
            padding = "same" if block.residual else block.padding
            for _ in range(block.convs):
                h = _conv_out(h, block.kernel_size, block.strides if _ == 0 else 1, padding)
                w = _conv_out(w, block.kernel_size, block.strides if _ == 0 else 1, padding)
            if block.pooling != "none":
                h, w = h // block.pool_size, w // block.pool_size
            if h < 1 or w < 1:
                problems.append(
                    (
                        ("blocks", i),
                        f"block {i} shrinks the {start[0]}x{start[1]} feature map below 1x1 "
                        f"(input {shape[0]}x{shape[1]}x{shape[2]}); use padding: same, a smaller kernel "
                        "or stride, pooling: none, or fewer blocks",
                    )
                )
                break
        return problems


class MlpModel(ModelBase):
    reads: ClassVar = ("image", "features", "table", "series", "tokens", "text")
    type: Literal["mlp"]
    layers: list[PositiveInt] = Field(default_factory=lambda: [64], min_length=1)
    activation: Activation = "relu"
    dropout: Fraction = 0.0
    batch_norm: bool = False
    regularizer: Regularizer = Field(default_factory=Regularizer)


class RnnModel(ModelBase):
    reads: ClassVar = ("text", "tokens", "series", "features")
    type: Literal["rnn"]
    cell: Literal["lstm", "gru"] = "lstm"
    units: list[PositiveInt] = Field(default_factory=lambda: [64], min_length=1)
    bidirectional: bool = False
    embedding_dim: PositiveInt = 64
    dropout: Fraction = 0.0
    recurrent_dropout: Fraction = 0.0
    dense: list[PositiveInt] = Field(default_factory=list)
    activation: Activation = "relu"
    regularizer: Regularizer = Field(default_factory=Regularizer)


class TransformerModel(ModelBase):
    reads: ClassVar = ("text", "tokens", "series", "features")
    type: Literal["transformer"]
    embed_dim: PositiveInt = 64
    num_heads: PositiveInt = 4
    ff_dim: PositiveInt = 128
    num_layers: Annotated[int, Field(gt=0, le=96)] = 2
    dropout: Fraction = 0.1
    norm_first: bool = True
    pooling: Literal["avg", "max"] = "avg"
    dense: list[PositiveInt] = Field(default_factory=list)
    activation: Activation = "gelu"
    regularizer: Regularizer = Field(default_factory=Regularizer)

    @model_validator(mode="after")
    def _heads_divide_embedding(self) -> TransformerModel:
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")
        return self


class GeneratorConfig(StrictModel):
    """DCGAN generator: a dense seed map, then `blocks` x2 upsamplings to the data's H x W."""

    base_filters: PositiveInt = 128
    blocks: Annotated[int, Field(ge=0, le=8)] | Literal["auto"] = "auto"
    norm: Literal["batch", "layer", "none"] = "batch"
    activation: Activation = "relu"
    dropout: Fraction = 0.0


class DiscriminatorConfig(StrictModel):
    """DCGAN discriminator: strided convolutions halving the image `blocks` times."""

    base_filters: PositiveInt = 64
    blocks: Annotated[int, Field(ge=0, le=8)] | Literal["auto"] = "auto"
    norm: Literal["batch", "layer", "none"] = "none"
    activation: Activation = "leaky_relu"
    dropout: Fraction = 0.3


class GanModel(ModelBase):
    reads: ClassVar = ("image",)
    needs_images: ClassVar = True
    task_override: ClassVar = "generation"
    image_range: ClassVar = "symmetric"
    type: Literal["gan"]
    latent_dim: PositiveInt = 64
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = Field(default_factory=DiscriminatorConfig)
    conditional: bool = False
    label_smoothing: Fraction = 0.1
    sample_every: PositiveInt = 1

    def check_input(self, shape: tuple[int, ...]) -> list[tuple[tuple, str]]:
        """The generator doubles H and W per block from a seed map; the image must be reachable."""
        blocks = self.generator.blocks
        if blocks == "auto":
            return []
        h, w = shape[0], shape[1]
        factor = 2**blocks
        if h % factor or w % factor:
            return [
                (
                    ("generator", "blocks"),
                    f"{blocks} upsampling blocks need H and W divisible by {factor}, "
                    f"but the images are {h}x{w}; use fewer blocks or 'auto'",
                )
            ]
        return []


class PretrainedModel(ModelBase):
    """A KerasHub classifier from a preset: `TextClassifier` for text, `ImageClassifier` for images.

    `preset` is a KerasHub preset name (`bert_tiny_en_uncased`, `resnet_50_imagenet`, ...), a local
    preset directory, or an `hf://` / `kaggle://` handle. The preset's own preprocessor (tokenizer,
    image converter) reads the raw inputs; a new head is trained for the data's classes.
    """

    reads: ClassVar = ("pretrained",)  # text or images, read by the preset's own preprocessor
    wraps_preprocessing: ClassVar = True
    type: Literal["pretrained"]
    preset: str = Field(min_length=1)
    trainable: bool = True  # false: only the new head trains
    freeze_epochs: Annotated[int, Field(ge=0)] = 0  # train the head alone first, then the whole network
    fine_tune_learning_rate: Annotated[float, Field(gt=0)] | None = None  # after freeze_epochs
    sequence_length: PositiveInt | None = None  # text: the preset's own when omitted
    image_size: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] | None = None  # images

    @model_validator(mode="after")
    def _freeze_needs_training(self):
        if self.freeze_epochs and not self.trainable:
            raise ValueError("freeze_epochs unfreezes the backbone later; it needs trainable: true")
        return self


ModelConfig = Annotated[
    Union[CnnModel, MlpModel, RnnModel, TransformerModel, GanModel, PretrainedModel],
    Field(discriminator="type"),
]

MODEL_TYPES = registry(ModelConfig, "type")
