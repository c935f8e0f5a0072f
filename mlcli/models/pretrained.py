"""`pretrained`: a KerasHub TextClassifier or ImageClassifier from a preset, with a new head.

The model takes what the preset's preprocessor produces (token ids and masks, or scaled images);
the data pipeline applies that preprocessor, so `predict` and `export` take raw strings and images.
"""

from __future__ import annotations

from typing import Any

from mlcli.config.models import PretrainedModel
from mlcli.errors import ConfigError
from mlcli.models.registry import MODELS
from mlcli.spec import DataSpec
from mlcli.spec.pretrained import check_preset


@MODELS.register("pretrained")
def build(cfg: PretrainedModel, spec: DataSpec, full_cfg: Any = None):
    import keras_hub

    if not spec.classes:
        raise ConfigError([f"model.type: pretrained classifies text or images; this data's task is {spec.task}"])
    check_preset(cfg.preset)
    task = getattr(keras_hub.models, spec.input.hub_task)
    model = task.from_preset(cfg.preset, num_classes=spec.output_units(), preprocessor=None)
    model.backbone.trainable = cfg.trainable  # freeze_epochs: fit freezes and unfreezes it (training/fine_tune.py)
    return model


def standalone_task(model, preprocessor):
    """The trained classifier as KerasHub saves its own: the preprocessor attached and a softmax head.

    A KerasHub preprocessor inside a functional graph cannot be rebuilt by `load_model` (the tokenizer's
    vocabulary is an asset, loaded only after the graph is traced: keras-hub#1522), so the `.keras`
    export is the task itself, whose `predict` takes raw strings or images. One binary logit l becomes
    the two logits [0, l], so the softmax gives exactly [1 - σ(l), σ(l)], as every other export does.
    """
    import keras
    import numpy as np

    config = model.get_config()
    units = config["num_classes"]
    config.update(num_classes=max(2, units), activation="softmax", preprocessor=None)
    task = type(model).from_config(config)
    task.backbone.set_weights(model.backbone.get_weights())
    heads = [[layer for layer in m.layers if isinstance(layer, keras.layers.Dense)][-1] for m in (model, task)]
    if len(model.weights) != len(model.backbone.weights) + len(heads[0].weights):
        raise ConfigError([f"model: {type(model).__name__} has weights outside its backbone and head; cannot export"])
    kernel, bias = heads[0].get_weights()
    if units == 1:
        kernel, bias = np.concatenate([np.zeros_like(kernel), kernel], 1), np.concatenate([np.zeros_like(bias), bias])
    heads[1].set_weights([kernel, bias])
    task.preprocessor = preprocessor
    return task
