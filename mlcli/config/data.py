"""Config of each data source, discriminated on `source`.

Adding a source = one class here, one line in `DataConfig`, one module in `mlcli/data/`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field

from mlcli.config.base import Fraction, PositiveInt, StrictModel, registry

AUGMENTATIONS = ("random_flip", "random_rotation", "random_translation", "random_zoom", "random_contrast")


def _augment_item(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class Augmentation(StrictModel):
    """One Keras preprocessing layer applied to training batches only."""

    name: Literal["random_flip", "random_rotation", "random_translation", "random_zoom", "random_contrast"]
    factor: float = Field(0.1, gt=0.0, le=1.0)
    mode: Literal["horizontal", "vertical", "horizontal_and_vertical"] = "horizontal"


class TextVectorization(StrictModel):
    """Settings of `keras.layers.TextVectorization`, adapted on the training split only."""

    max_tokens: PositiveInt = 20000
    sequence_length: PositiveInt = 200
    split: Literal["whitespace", "character"] = "whitespace"
    lowercase: bool = True


class Preprocessing(StrictModel):
    """How raw inputs become model inputs; fitted state is saved in the run directory."""

    normalize: bool = True
    image_range: Literal["unit", "symmetric", "auto"] = "auto"
    standardize: bool = True
    augment: list[Annotated[Augmentation, BeforeValidator(_augment_item)]] = Field(default_factory=list)
    text: TextVectorization = Field(default_factory=TextVectorization)


def _cache_setting(value: object) -> object:
    return {True: "memory", False: "none"}.get(value, value) if isinstance(value, bool) else value


class _Source(StrictModel):
    """What every source answers about itself from the config alone (no data read, no TensorFlow)."""

    batch_size: PositiveInt = 32
    val_fraction: Fraction = 0.1
    shuffle_buffer: PositiveInt = 10000
    # decoded examples kept after the first epoch; auto = memory when they fit in 256 MiB, else none
    cache: Annotated[Literal["auto", "memory", "disk", "none"], BeforeValidator(_cache_setting)] = "auto"
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)

    def resolved_task(self) -> str | None:
        """classification, regression or forecast; None when only the data can tell."""
        return "classification"

    def image_shape(self) -> tuple[int, ...] | None:
        """The input image shape when the config alone determines it."""
        return None

    def has_images(self) -> bool:
        """Whether this source can produce images (a CNN or a GAN needs them)."""
        return True

    def has_val(self) -> bool:
        """Whether the config promises validation data (carved from train, or a split of its own)."""
        return self.val_fraction > 0 or bool(getattr(self, "val_path", None))


class Splits(StrictModel):
    """TFDS split expressions (`train[:90%]`); a missing `val` is carved from train."""

    train: str = "train"
    val: str | None = None
    test: str | None = "test"


class TfdsData(_Source):
    source: Literal["tfds"]
    name: str = Field(min_length=1)
    splits: Splits = Field(default_factory=Splits)
    data_dir: str | None = None
    download: bool = True
    image_key: str | None = None
    text_key: str | None = None
    label_key: str | None = None

    def has_val(self) -> bool:
        return self.val_fraction > 0 or self.splits.val is not None


class BuiltinData(_Source):
    source: Literal["builtin"]
    name: Literal["digits", "co2"]
    window: PositiveInt = 52
    horizon: PositiveInt = 1

    def resolved_task(self) -> str:
        return "classification" if self.name == "digits" else "forecast"

    def image_shape(self) -> tuple[int, ...] | None:
        return (8, 8, 1) if self.name == "digits" else None

    def has_images(self) -> bool:
        return self.name == "digits"


class ImageFolderData(_Source):
    """`path` holds one folder per class, or `train/`, `val|valid|validation/`, `test/` of them."""

    source: Literal["image_folder"]
    path: str
    val_path: str | None = None
    test_path: str | None = None
    test_fraction: Fraction = 0.0
    image_size: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] = (64, 64)
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"
    skip_corrupt: bool = False

    def image_shape(self) -> tuple[int, ...]:
        return (*self.image_size, {"grayscale": 1, "rgb": 3, "rgba": 4}[self.color_mode])


class TextFolderData(_Source):
    """`path` holds one folder per class, or `train/`, `val|valid|validation/`, `test/` of them."""

    source: Literal["text_folder"]
    path: str
    val_path: str | None = None
    test_path: str | None = None
    test_fraction: Fraction = 0.0
    skip_corrupt: bool = False

    def has_images(self) -> bool:
        return False


class CsvData(_Source):
    """A table: each feature column is numeric, categorical or text (inferred; `columns` overrides)."""

    source: Literal["csv"]
    path: str
    val_path: str | None = None
    test_path: str | None = None
    task: Literal["classification", "regression", "timeseries"] = "classification"
    label: str | None = None
    features: list[str] | None = None
    columns: dict[str, Literal["numeric", "categorical", "text", "ignore"]] = Field(default_factory=dict)
    value_column: str | None = None
    window: PositiveInt = 24
    horizon: PositiveInt = 1
    test_fraction: Fraction = 0.2

    def resolved_task(self) -> str:
        return {"timeseries": "forecast"}.get(self.task, self.task)

    def has_images(self) -> bool:
        return False


class NpzData(_Source):
    source: Literal["npz"]
    path: str
    val_path: str | None = None
    test_path: str | None = None
    task: Literal["auto", "classification", "regression", "generation"] = "auto"
    test_fraction: Fraction = 0.2

    def resolved_task(self) -> str | None:
        return None if self.task == "auto" else self.task


class SyntheticData(_Source):
    source: Literal["synthetic"]
    kind: Literal["images", "tokens", "sequences", "regression"] = "images"
    num_samples: PositiveInt = 256
    shape: list[PositiveInt] = Field(default_factory=lambda: [8, 8, 1], min_length=1, max_length=4)
    num_classes: Annotated[int, Field(ge=1, le=100000)] = 10
    vocab_size: Annotated[int, Field(ge=2, le=1000000)] = 1000
    window: PositiveInt = 24
    horizon: PositiveInt = 1
    test_fraction: Fraction = 0.2

    def resolved_task(self) -> str:
        return {"regression": "regression", "sequences": "forecast"}.get(self.kind, "classification")

    def image_shape(self) -> tuple[int, ...] | None:
        if self.kind != "images":
            return None
        shape = tuple(self.shape)
        return shape if len(shape) == 3 else (*shape, 1) if len(shape) == 2 else None

    def has_images(self) -> bool:
        return self.kind == "images"


DataConfig = Annotated[
    Union[TfdsData, BuiltinData, ImageFolderData, TextFolderData, CsvData, NpzData, SyntheticData],
    Field(discriminator="source"),
]

DATA_SOURCES = registry(DataConfig, "source")
