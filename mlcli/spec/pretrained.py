"""A KerasHub preset's own preprocessor (WordPiece tokenizer, image converter) in front of its backbone.

The preset is a local directory, or a name / `hf://` / `kaggle://` handle that KerasHub downloads;
offline, a download fails within seconds with how to fetch it elsewhere (never a hang).
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Literal

from mlcli.errors import UserError
from mlcli.spec.base import InputState
from mlcli.spec.image import ImageInput

HOSTS = {"hf://": "huggingface.co", "kaggle://": "www.kaggle.com"}
OFFLINE_ENV = "MLCLI_OFFLINE"  # set to 1 to refuse every download without trying the network


def _reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def check_preset(preset: str) -> None:
    """A local preset directory is fine; a download needs the network, checked in ≤ 3 s."""
    local = Path(preset).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise UserError(f"model.preset: {preset} is a folder but not a KerasHub preset (no config.json)")
        return
    host = next((h for prefix, h in HOSTS.items() if preset.startswith(prefix)), "www.kaggle.com")
    if os.environ.get(OFFLINE_ENV) == "1" or not _reachable(host):
        raise UserError(
            f"model.preset: {preset!r} must be downloaded from {host}, which cannot be reached. On a machine "
            f"with network: python -c \"import keras_hub; keras_hub.models.Backbone.from_preset('{preset}')"
            f".save_to_preset('DIR'); keras_hub.models.Preprocessor.from_preset('{preset}').save_to_preset('DIR')\" "
            "(or download the preset's files from Kaggle / Hugging Face), copy DIR here and set model.preset: DIR"
        )


@functools.lru_cache(maxsize=8)
def hub_preprocessor(modality: str, preset: str, sequence_length: int | None, image_size: tuple | None):
    """The preset's text or image classifier preprocessor."""
    import keras_hub

    check_preset(preset)
    if modality == "text":
        extra = {"sequence_length": sequence_length} if sequence_length else {}
        return keras_hub.models.TextClassifierPreprocessor.from_preset(preset, **extra)
    if image_size:
        converter = keras_hub.layers.ImageConverter.from_preset(preset, image_size=tuple(image_size))
        return keras_hub.models.ImageClassifierPreprocessor.from_preset(preset, image_converter=converter)
    return keras_hub.models.ImageClassifierPreprocessor.from_preset(preset)


class PretrainedInput(InputState):
    kind: Literal["pretrained"] = "pretrained"
    input_name: str = "text"  # "text" or "image", as the modality
    preset: str
    modality: Literal["text", "image"]
    sequence_length: int | None = None  # text: the preset's own when None
    image_size: tuple[int, int] | None = None  # images: the preset converter's own when None
    column: str | None = None  # text read from this CSV column
    image: ImageInput | None = None  # images: how files are decoded and resized before the converter

    @property
    def shape(self) -> list[int]:
        return self.image.shape if self.image is not None else []

    @property
    def dtype(self) -> str:
        return "string" if self.modality == "text" else "float32"

    @property
    def reads(self) -> str:
        return self.modality

    @property
    def images(self) -> ImageInput | None:
        return self.image

    @property
    def wraps_hub_preprocessor(self) -> bool:
        return True

    def tflite_problem(self) -> str | None:
        if self.modality == "text":
            return "a KerasHub tokenizer cannot travel in a .tflite; export keras or saved_model (raw strings in)"
        return None

    @property
    def hub_task(self) -> str:
        """The KerasHub task class this input feeds."""
        return "TextClassifier" if self.modality == "text" else "ImageClassifier"

    def preprocess_layer(self):
        size = tuple(self.image_size) if self.image_size else None
        return hub_preprocessor(self.modality, self.preset, self.sequence_length, size)

    @property
    def cast_to(self) -> str | None:
        return "float32" if self.modality == "image" else None

    def serving_inputs(self, strings: bool = True, any_size: bool = True) -> dict:
        import keras

        if self.modality == "text":
            return {"text": keras.Input(shape=(), dtype="string", name="text")}
        return self.image.serving_inputs(strings, any_size)

    def canonical(self, raw: dict, strings: bool = True, any_size: bool = True):
        if self.modality == "text":
            return raw["text"]
        return self.image.canonical(raw, strings, any_size)
