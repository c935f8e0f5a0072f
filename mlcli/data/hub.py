"""KerasHub presets for the data room: where a preset is, and its own preprocessor.

A preset is a local directory, or a name / `hf://` / `kaggle://` handle that KerasHub downloads.
Offline, a download must fail within seconds with how to fetch it elsewhere, never hang.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

from mlcli.errors import UserError

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
    if Path(preset).expanduser().is_dir():
        if not (Path(preset).expanduser() / "config.json").is_file():
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
def preprocessor(kind: str, preset: str, sequence_length: int | None, image_size: tuple | None):
    """The preset's text or image classifier preprocessor (tokenizer / image converter)."""
    import keras_hub

    check_preset(preset)
    if kind == "text":
        extra = {"sequence_length": sequence_length} if sequence_length else {}
        return keras_hub.models.TextClassifierPreprocessor.from_preset(preset, **extra)
    if image_size:
        converter = keras_hub.layers.ImageConverter.from_preset(preset, image_size=tuple(image_size))
        return keras_hub.models.ImageClassifierPreprocessor.from_preset(preset, image_converter=converter)
    return keras_hub.models.ImageClassifierPreprocessor.from_preset(preset)
