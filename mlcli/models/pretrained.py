"""`pretrained`: a KerasHub TextClassifier or ImageClassifier from a preset, with a new head.

The model takes what the preset's preprocessor produces (token ids and masks, or scaled images);
the data pipeline applies that preprocessor, so `predict` and `export` take raw strings and images.
"""

from __future__ import annotations

from typing import Any

from mlcli.config.models import PretrainedModel
from mlcli.errors import ConfigError
from mlcli.models.layers import output_units
from mlcli.models.registry import MODELS


@MODELS.register("pretrained")
def build(cfg: PretrainedModel, spec: Any, full_cfg: Any = None):
    import keras_hub

    if spec.kind not in ("text", "image") or spec.task != "classification":
        raise ConfigError([f"model.type: pretrained classifies text or images, not {spec.kind} ({spec.task})"])
    task = keras_hub.models.TextClassifier if spec.kind == "text" else keras_hub.models.ImageClassifier
    model = task.from_preset(cfg.preset, num_classes=output_units(spec), preprocessor=None)
    model.backbone.trainable = cfg.trainable  # freeze_epochs: fit freezes and unfreezes it (training/fine_tune.py)
    return model
