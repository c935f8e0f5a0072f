"""The loss from the config and the task, and the Keras metrics the one metric table names.

Keras' sparse crossentropy has no label smoothing, so smoothed multi-class losses use a small
serialisable loss of our own; every metric object comes from `mlcli.metrics.TABLE`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from mlcli.errors import ConfigError
from mlcli.metrics import CLASS_METRICS, TABLE, VALUE_METRICS, MetricContext, default_metrics
from mlcli.spec import DataSpec


@keras.saving.register_keras_serializable(package="mlcli")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Sparse categorical crossentropy on logits with label smoothing (Keras' sparse loss has none)."""

    def __init__(self, num_classes: int, label_smoothing: float = 0.0, name: str = "smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def call(self, y_true, y_pred):
        one_hot = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), self.num_classes)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=True, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "label_smoothing": self.label_smoothing}


def make_loss(training: Any, spec: DataSpec):
    name = training.loss
    if spec.classes and name in ("auto", "crossentropy"):
        if spec.num_classes == 2:
            return keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=training.label_smoothing)
        if training.label_smoothing:
            return SmoothedSparseCrossentropy(spec.num_classes, training.label_smoothing)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if spec.classes:
        raise ConfigError([f"training.loss: {name!r} is a regression loss but the data has classes; use auto"])
    if name == "crossentropy":
        raise ConfigError([f"training.loss: crossentropy needs classes but the task is {spec.task}; use auto"])
    return {
        "auto": keras.losses.MeanSquaredError(),
        "mse": keras.losses.MeanSquaredError(),
        "mae": keras.losses.MeanAbsoluteError(),
        "huber": keras.losses.Huber(),
    }[name]


def metric_names(training: Any, spec: DataSpec) -> list[str]:
    names = training.metrics if training.metrics is not None else default_metrics(spec.classes)
    wrong = [m for m in names if (m in CLASS_METRICS) != spec.classes]
    if wrong:
        what = "classes" if not spec.classes else "regression values"
        raise ConfigError(
            [
                f"training.metrics: {', '.join(wrong)} need{'s' if len(wrong) == 1 else ''} {what}, "
                f"but the task is {spec.task}; valid here: "
                f"{', '.join(sorted(CLASS_METRICS if spec.classes else VALUE_METRICS))}"
            ]
        )
    if "top_k" in names and training.top_k >= spec.num_classes:
        raise ConfigError(
            [
                f"training.top_k: {training.top_k} is not below the {spec.num_classes} classes, so top-k "
                "accuracy would always be 1.0; lower training.top_k or drop top_k from training.metrics"
            ]
        )
    return names


def make_metrics(training: Any, spec: DataSpec) -> list:
    target = (spec.target.mean, spec.target.std, spec.target.log) if spec.target is not None else None
    ctx = MetricContext(num_classes=spec.num_classes, top_k=training.top_k, target=target)
    return [TABLE[name].keras(ctx) for name in metric_names(training, spec)]
