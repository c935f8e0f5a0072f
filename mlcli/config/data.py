"""Config of each data source, discriminated on `source`.

Adding a source = one class here, one line in `DataConfig`, one module in `mlcli/data/`.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from mlcli.config.base import Fraction, PositiveInt, StrictModel, registry

MAX_IMAGE_SIDE = 16384
MAX_BATCH_BYTES = int(os.environ.get("MLCLI_MAX_BATCH_BYTES", 4 << 30))

AUGMENTATIONS = ("random_flip", "random_rotation", "random_translation", "random_zoom", "random_contrast")


def _augment_item(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class Augmentation(StrictModel):
    """One Keras preprocessing layer applied to training batches only."""

    name: Literal["random_flip", "random_rotation", "random_translation", "random_zoom", "random_contrast"]
    """Which Keras random layer."""
    factor: float = Field(0.1, gt=0.0, le=1.0)
    """Strength: rotation as a fraction of a full turn, translation/zoom as a fraction of the size, contrast."""
    mode: Literal["horizontal", "vertical", "horizontal_and_vertical"] = "horizontal"
    """random_flip only: horizontal, vertical or both."""


class TextVectorization(StrictModel):
    """Settings of `keras.layers.TextVectorization`, adapted on the training split only."""

    max_tokens: PositiveInt = 20000
    """Vocabulary size, the most frequent tokens of the training split (2 reserved: padding, unknown)."""
    sequence_length: PositiveInt = 200
    """Tokens per example: longer texts are cut, shorter ones padded."""
    split: Literal["whitespace", "character"] = "whitespace"
    """whitespace = words, character = characters (newlines included)."""
    lowercase: bool = True
    """Lower-case before splitting (punctuation is always stripped)."""


class Preprocessing(StrictModel):
    """How raw inputs become model inputs; fitted state is saved in the run directory."""

    normalize: bool = True
    """Scale image pixels from 0-255 to [0, 1] ([-1, 1] for GANs, see image_range)."""
    image_range: Literal["unit", "symmetric", "auto"] = "auto"
    """unit = [0, 1], symmetric = [-1, 1], auto = what the model family needs."""
    standardize: bool = True
    """Standardise numeric features and series with the training split's mean and standard deviation."""
    standardize_targets: bool = True
    """Train regression targets standardised with the training split's mean and standard deviation (forecasts
    always are); predictions and every reported number are in the data's units either way."""
    target_transform: Literal["none", "log"] = "none"
    """log: train on log(1 + target), for positive, skewed targets such as prices."""
    augment: list[Annotated[Augmentation, BeforeValidator(_augment_item)]] = Field(default_factory=list)
    """Random image layers applied to training batches only, e.g. [random_flip, {name: random_zoom, factor: 0.2}]."""
    text: TextVectorization = Field(default_factory=TextVectorization)
    """Settings of Keras' TextVectorization (vocabulary adapted on the training split)."""


def _cache_setting(value: object) -> object:
    return {True: "memory", False: "none"}.get(value, value) if isinstance(value, bool) else value


class _Source(StrictModel):
    """What every source answers about itself from the config alone (no data read, no TensorFlow)."""

    batch_size: PositiveInt = 32
    """Examples per training step: the global batch, split across replicas when distributed."""
    val_fraction: Fraction = 0.1
    """Share of the training split carved off (by seed, stratified) as validation data when the source has none."""
    shuffle_buffer: PositiveInt = 10000
    """Examples tf.data shuffles among at a time (folders shuffle all their paths)."""
    cache: Annotated[Literal["auto", "memory", "disk", "none"], BeforeValidator(_cache_setting)] = "auto"
    """Keep decoded examples after the first epoch: memory, disk (a temporary file), none, or auto (memory below
    256 MiB)."""
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    """How raw inputs become model inputs; what is learnt is fitted on the training split only."""
    class_weight: Literal["balanced"] | dict[str, Annotated[float, Field(gt=0)]] | None = None
    """Weigh each class's examples in the loss: balanced (n / (classes x count), as scikit-learn) or
    {class name: weight}; for imbalanced labels."""

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
    """TFDS split expression for training, e.g. train[:90%]."""
    val: str | None = None
    """Validation split; when absent, val_fraction of train is carved off."""
    test: str | None = "test"
    """Test split scored at the end of training and by `mlcli evaluate`."""


class TfdsData(_Source):
    source: Literal["tfds"]
    """Any TensorFlow Datasets dataset by name."""
    name: str = Field(min_length=1)
    """The TFDS dataset name, e.g. mnist, cifar10, imdb_reviews."""
    splits: Splits = Field(default_factory=Splits)
    """Which TFDS splits are train, val and test."""
    data_dir: str | None = None
    """Where TFDS keeps prepared data (default ~/tensorflow_datasets)."""
    download: bool = True
    """Download when the data is not prepared (fails within seconds offline)."""
    image_key: str | None = None
    """The image feature (found from the dataset's features when omitted)."""
    text_key: str | None = None
    """The text feature (found from the dataset's features when omitted)."""
    label_key: str | None = None
    """The class label feature (found from the dataset's features when omitted)."""

    def has_val(self) -> bool:
        return self.val_fraction > 0 or self.splits.val is not None


class BuiltinData(_Source):
    source: Literal["builtin"]
    """Datasets shipped with mlcli (offline)."""
    name: Literal["digits", "co2"]
    """digits (8x8 handwritten digits) or co2 (weekly Mauna Loa CO2 series)."""
    window: PositiveInt = 52
    """co2: past values the model sees."""
    horizon: PositiveInt = 1
    """co2: future values it predicts."""

    def resolved_task(self) -> str:
        return "classification" if self.name == "digits" else "forecast"

    def image_shape(self) -> tuple[int, ...] | None:
        return (8, 8, 1) if self.name == "digits" else None

    def has_images(self) -> bool:
        return self.name == "digits"


class ImageFolderData(_Source):
    """`path` holds one folder per class, or `train/`, `val|valid|validation/`, `test/` of them."""

    source: Literal["image_folder"]
    """A folder of images, one sub-folder per class."""
    path: str
    """The folder: class_name/*.png|jpg|bmp|gif, or train/, val/, test/ each holding class folders."""
    val_path: str | None = None
    """A separate folder of class folders for validation."""
    test_path: str | None = None
    """A separate folder of class folders for testing."""
    test_fraction: Fraction = 0.2
    """Share carved off (by seed, stratified) for testing when there is no test folder."""
    image_size: Annotated[tuple[PositiveInt, PositiveInt], Field(strict=False)] = (64, 64)
    """[height, width] images are resized to (bilinear, antialiased)."""
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"
    """Channels images are decoded to."""
    skip_corrupt: bool = False
    """Skip unreadable files with a warning instead of stopping (exit 2)."""

    def image_shape(self) -> tuple[int, ...]:
        return (*self.image_size, {"grayscale": 1, "rgb": 3, "rgba": 4}[self.color_mode])

    @model_validator(mode="after")
    def _batch_fits_in_memory(self) -> ImageFolderData:
        """A batch of float32 images must fit: image_size [100000, 100000] is a typo, not a plan."""
        h, w, c = self.image_shape()
        size = self.batch_size * h * w * c * 4
        if max(h, w) > MAX_IMAGE_SIDE or size > MAX_BATCH_BYTES:
            raise ValueError(
                f"a batch of {self.batch_size} images of {h}x{w}x{c} is {size / 2**30:.1f} GiB as float32 (limits: "
                f"{MAX_IMAGE_SIDE} pixels a side, {MAX_BATCH_BYTES / 2**30:.0f} GiB a batch); lower image_size or "
                "batch_size, or set MLCLI_MAX_BATCH_BYTES"
            )
        return self


class TextFolderData(_Source):
    """`path` holds one folder per class, or `train/`, `val|valid|validation/`, `test/` of them."""

    source: Literal["text_folder"]
    """A folder of UTF-8 .txt files, one sub-folder per class."""
    path: str
    """The folder: class_name/*.txt, or train/, val/, test/ each holding class folders."""
    val_path: str | None = None
    """A separate folder of class folders for validation."""
    test_path: str | None = None
    """A separate folder of class folders for testing."""
    test_fraction: Fraction = 0.2
    """Share carved off (by seed, stratified) for testing when there is no test folder."""
    skip_corrupt: bool = False
    """Skip files that are not UTF-8 with a warning instead of stopping (exit 2)."""

    def has_images(self) -> bool:
        return False


class CsvData(_Source):
    """A table: each feature column is numeric, categorical or text (inferred; `columns` overrides)."""

    source: Literal["csv"]
    """A CSV table (UTF-8, a header row)."""
    path: str
    """The training CSV."""
    val_path: str | None = None
    """A validation CSV with the same columns (any order)."""
    test_path: str | None = None
    """A test CSV with the same columns (any order), e.g. Kaggle's test.csv."""
    task: Literal["classification", "regression", "timeseries"] = "classification"
    """classification (the label names classes), regression (numbers) or timeseries (forecast one column)."""
    label: str | None = None
    """The label column (classification and regression)."""
    features: list[str] | None = None
    """Feature columns (default: every other column)."""
    columns: dict[str, Literal["numeric", "categorical", "text", "ignore"]] = Field(default_factory=dict)
    """Per-column type overrides, e.g. {zip: categorical, note: text, id: ignore}."""
    missing_labels: Literal["drop", "refuse"] = "drop"
    """Rows with no label: left out with a warning counting them per split, or refused (exit 2)."""
    value_column: str | None = None
    """timeseries: the column to forecast (default: the last one)."""
    window: PositiveInt = 24
    """timeseries: past values the model sees."""
    horizon: PositiveInt = 1
    """timeseries: future values it predicts."""
    test_fraction: Fraction = 0.2
    """Share held out for testing when there is no test_path (the last part of a series)."""

    def resolved_task(self) -> str:
        return {"timeseries": "forecast"}.get(self.task, self.task)

    def has_images(self) -> bool:
        return False


class NpzData(_Source):
    source: Literal["npz"]
    """NumPy arrays in an .npz: x (and y)."""
    path: str
    """The training .npz with arrays x and y (x alone for generation)."""
    val_path: str | None = None
    """A validation .npz with matching arrays."""
    test_path: str | None = None
    """A test .npz with matching arrays."""
    task: Literal["auto", "classification", "regression", "generation"] = "auto"
    """auto: classification for integer y, regression for floats, generation without y."""
    test_fraction: Fraction = 0.2
    """Share held out for testing when there is no test_path."""

    def resolved_task(self) -> str | None:
        return None if self.task == "auto" else self.task


class SyntheticData(_Source):
    source: Literal["synthetic"]
    """Generated data with a learnable signal, deterministic by seed (smoke tests, benchmarks)."""
    kind: Literal["images", "tokens", "sequences", "regression"] = "images"
    """images, tokens, sequences (a series) or regression."""
    num_samples: PositiveInt = 256
    """How many examples (or series values)."""
    shape: list[PositiveInt] = Field(default_factory=lambda: [8, 8, 1], min_length=1, max_length=4)
    """One example's shape, e.g. [32, 32, 3] for images, [24] for tokens."""
    num_classes: Annotated[int, Field(ge=1, le=100000)] = 10
    """Classes (images, tokens)."""
    vocab_size: Annotated[int, Field(ge=2, le=1000000)] = 1000
    """Token ids are below this (tokens)."""
    window: PositiveInt = 24
    """sequences: past values the model sees."""
    horizon: PositiveInt = 1
    """sequences: future values it predicts."""
    test_fraction: Fraction = 0.2
    """Share held out for testing."""

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
