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
    """Convolution filters."""
    kernel_size: Annotated[int, Field(gt=0, le=31)] = 3
    """Square kernel size."""
    strides: Annotated[int, Field(gt=0, le=8)] = 1
    """Stride of the block's first convolution."""
    padding: Literal["valid", "same"] = "valid"
    """valid shrinks the map by kernel_size - 1; same keeps its size."""
    convs: Annotated[int, Field(gt=0, le=8)] = 1
    """Convolutions in the block."""
    batch_norm: bool = False
    """BatchNormalization after each convolution."""
    activation: Activation | None = None
    """Overrides the model's activation for this block."""
    pooling: Literal["max", "avg", "none"] = "max"
    """Pooling after the block."""
    pool_size: Annotated[int, Field(gt=0, le=8)] = 2
    """Pooling window (halves the map at 2)."""
    residual: bool = False
    """A ResNet shortcut around the block (projected when the shape changes)."""


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


def DEFAULT_BLOCKS() -> list[ConvBlock]:  # noqa: N802 - a constant, built fresh for each config
    """A small, sound CNN for any image size: three same-padded blocks that double the filters."""
    return [ConvBlock(filters=f, padding="same", batch_norm=True) for f in (32, 64, 128)]


def _conv_out(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


class CnnModel(ModelBase):
    reads: ClassVar = ("image",)
    needs_images: ClassVar = True
    type: Literal["cnn"]
    """A convolutional network over images."""
    blocks: list[ConvBlock] = Field(default_factory=lambda: DEFAULT_BLOCKS(), min_length=1)
    """Convolution blocks, in order (default: 32, 64, 128 filters, same padding, batch norm, max pooling)."""
    activation: Activation = "relu"
    """Activation after each convolution and dense layer."""
    head: Literal["flatten", "global_avg", "global_max"] = "flatten"
    """How the last feature map becomes a vector: flatten, or global average / max pooling."""
    dense: list[PositiveInt] = Field(default_factory=list)
    """Units of dense layers before the output head."""
    dropout: Fraction = 0.0
    """Dropout before each dense layer and the head."""
    regularizer: Regularizer = Field(default_factory=Regularizer)
    """L1/L2 penalty on every kernel."""

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
    """Dense layers over features, table rows, flattened images or windows."""
    layers: list[PositiveInt] = Field(default_factory=lambda: [64], min_length=1)
    """Units of each hidden layer."""
    activation: Activation = "relu"
    """Activation of the hidden layers."""
    dropout: Fraction = 0.0
    """Dropout after each hidden layer."""
    batch_norm: bool = False
    """BatchNormalization after each hidden layer."""
    regularizer: Regularizer = Field(default_factory=Regularizer)
    """L1/L2 penalty on every kernel."""


class RnnModel(ModelBase):
    reads: ClassVar = ("text", "tokens", "series", "features")
    type: Literal["rnn"]
    """LSTM or GRU layers over text, token ids or series."""
    cell: Literal["lstm", "gru"] = "lstm"
    """lstm or gru."""
    units: list[PositiveInt] = Field(default_factory=lambda: [64], min_length=1)
    """Units of each recurrent layer (stacked in order)."""
    bidirectional: bool = False
    """Read sequences both ways."""
    embedding_dim: PositiveInt = 64
    """Size of token embeddings (text and tokens; padding is masked)."""
    dropout: Fraction = 0.0
    """Dropout on the recurrent layers' inputs and after dense layers."""
    recurrent_dropout: Fraction = 0.0
    """Dropout on the recurrent state."""
    dense: list[PositiveInt] = Field(default_factory=list)
    """Units of dense layers before the output head."""
    activation: Activation = "relu"
    """Activation of the dense layers."""
    regularizer: Regularizer = Field(default_factory=Regularizer)
    """L1/L2 penalty on every kernel and the embeddings."""


class TransformerModel(ModelBase):
    reads: ClassVar = ("text", "tokens", "series", "features")
    type: Literal["transformer"]
    """A Transformer encoder over text, token ids or series."""
    embed_dim: PositiveInt = 64
    """Width of token embeddings and of every encoder layer."""
    num_heads: PositiveInt = 4
    """Attention heads (must divide embed_dim)."""
    ff_dim: PositiveInt = 128
    """Hidden units of each feed-forward block."""
    num_layers: Annotated[int, Field(gt=0, le=96)] = 2
    """Encoder layers."""
    dropout: Fraction = 0.1
    """Dropout in attention, feed-forward blocks and dense layers."""
    norm_first: bool = True
    """Pre-norm encoder layers (LayerNormalization before attention), more stable to train."""
    pooling: Literal["avg", "max"] = "avg"
    """How the sequence becomes a vector: average or max over real tokens (padding masked)."""
    dense: list[PositiveInt] = Field(default_factory=list)
    """Units of dense layers before the output head."""
    activation: Activation = "gelu"
    """Activation of the feed-forward and dense layers."""
    regularizer: Regularizer = Field(default_factory=Regularizer)
    """L1/L2 penalty on every kernel."""

    @model_validator(mode="after")
    def _heads_divide_embedding(self) -> TransformerModel:
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")
        return self


class GeneratorConfig(StrictModel):
    """DCGAN generator: a dense seed map, then `blocks` x2 upsamplings to the data's H x W."""

    base_filters: PositiveInt = 128
    """Filters of the seed map; halved by each upsampling block (at least 16)."""
    blocks: Annotated[int, Field(ge=0, le=8)] | Literal["auto"] = "auto"
    """x2 upsampling blocks from the seed map to the image size (auto: the most that divide H and W, seed ≥ 4x4)."""
    norm: Literal["batch", "layer", "none"] = "batch"
    """Normalisation after each block."""
    activation: Activation = "relu"
    """Activation after each block."""
    dropout: Fraction = 0.0
    """Dropout after each block."""


class DiscriminatorConfig(StrictModel):
    """DCGAN discriminator: strided convolutions halving the image `blocks` times."""

    base_filters: PositiveInt = 64
    """Filters of the first strided convolution; doubled by each block."""
    blocks: Annotated[int, Field(ge=0, le=8)] | Literal["auto"] = "auto"
    """Strided convolutions halving the image (auto: one more than the generator's)."""
    norm: Literal["batch", "layer", "none"] = "none"
    """Normalisation after each block but the first (DCGAN)."""
    activation: Activation = "leaky_relu"
    """Activation after each block."""
    dropout: Fraction = 0.3
    """Dropout after each block."""


class GanModel(ModelBase):
    reads: ClassVar = ("image",)
    needs_images: ClassVar = True
    task_override: ClassVar = "generation"
    image_range: ClassVar = "symmetric"
    type: Literal["gan"]
    """A DCGAN generating images like the training images."""
    latent_dim: PositiveInt = 64
    """Size of the generator's random input."""
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    """The generator network."""
    discriminator: DiscriminatorConfig = Field(default_factory=DiscriminatorConfig)
    """The discriminator network."""
    conditional: bool = False
    """Condition both networks on the class label (generate a chosen class)."""
    label_smoothing: Fraction = 0.1
    """Real targets are 1 - label_smoothing for the discriminator."""
    sample_every: PositiveInt = 1
    """Write a grid of samples to plots/samples/ every N epochs."""

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
    """A KerasHub classifier from a preset, with a new head for the data's classes."""
    preset: str = Field(min_length=1)
    """A KerasHub preset name, a local preset directory, or an hf:// / kaggle:// handle."""
    trainable: bool = True
    """Fine-tune the backbone (false: only the new head trains)."""
    freeze_epochs: Annotated[int, Field(ge=0)] = 0
    """Epochs training the head alone before the whole network fine-tunes."""
    fine_tune_learning_rate: Annotated[float, Field(gt=0)] | None = None
    """The optimizer's learning rate after freeze_epochs."""
    sequence_length: PositiveInt | None = None
    """Text: tokens per example (the preset's own when omitted)."""
    image_size: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] | None = None
    """Images: [height, width] the preset's converter resizes to (its own when omitted)."""

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
