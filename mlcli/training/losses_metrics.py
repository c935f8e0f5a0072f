"""Losses and metrics from the config and the task; sparse macro precision/recall/F1.

Keras' F1Score wants one-hot labels and probabilities; our labels are sparse and our heads
emit logits, so the macro metrics accumulate a confusion matrix instead.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from mlcli.config.monitors import CLASS_METRICS, VALUE_METRICS
from mlcli.errors import ConfigError


@keras.saving.register_keras_serializable(package="mlcli")
class SparseMacroMetric(keras.metrics.Metric):
    """Macro-averaged precision, recall or F1 for integer labels and logits (binary: one logit)."""

    def __init__(self, num_classes: int, kind: str = "f1", name: str | None = None, **kwargs):
        super().__init__(name=name or kind, **kwargs)
        self.num_classes, self.kind = num_classes, kind
        self._direction = "up"  # what Keras' monitor callbacks read for mode="auto"
        self.matrix = self.add_variable(shape=(num_classes, num_classes), initializer="zeros", name="matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        if self.num_classes == 2 and ops.shape(y_pred)[-1] == 1:
            y_hat = ops.cast(ops.reshape(y_pred, (-1,)) > 0, "int32")
        else:
            y_hat = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        pairs = ops.one_hot(y_true * self.num_classes + y_hat, self.num_classes**2)
        self.matrix.assign_add(ops.reshape(ops.sum(pairs, axis=0), (self.num_classes, self.num_classes)))

    def result(self):
        tp = ops.diagonal(self.matrix)
        precision = tp / ops.maximum(ops.sum(self.matrix, axis=0), 1.0)
        recall = tp / ops.maximum(ops.sum(self.matrix, axis=1), 1.0)
        if self.kind == "precision":
            return ops.mean(precision)
        if self.kind == "recall":
            return ops.mean(recall)
        return ops.mean(2 * precision * recall / ops.maximum(precision + recall, 1e-12))

    def reset_state(self):
        self.matrix.assign(ops.zeros((self.num_classes, self.num_classes)))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "kind": self.kind}


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


def is_binary(spec: Any) -> bool:
    return spec.task == "classification" and spec.num_classes == 2


def make_loss(training: Any, spec: Any):
    name = training.loss
    if spec.task == "classification" and name in ("auto", "crossentropy"):
        if is_binary(spec):
            return keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=training.label_smoothing)
        if training.label_smoothing:
            return SmoothedSparseCrossentropy(spec.num_classes, training.label_smoothing)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if spec.task == "classification":
        raise ConfigError([f"training.loss: {name!r} is a regression loss but the data has classes; use auto"])
    if name == "crossentropy":
        raise ConfigError([f"training.loss: crossentropy needs classes but the task is {spec.task}; use auto"])
    return {
        "auto": keras.losses.MeanSquaredError(),
        "mse": keras.losses.MeanSquaredError(),
        "mae": keras.losses.MeanAbsoluteError(),
        "huber": keras.losses.Huber(),
    }[name]


def metric_names(training: Any, spec: Any) -> list[str]:
    classes = spec.task == "classification"
    names = training.metrics if training.metrics is not None else (["accuracy"] if classes else ["mae", "rmse"])
    wrong = [m for m in names if (m in CLASS_METRICS) != classes]
    if wrong:
        what = "classes" if not classes else "regression values"
        raise ConfigError(
            [
                f"training.metrics: {', '.join(wrong)} need{'s' if len(wrong) == 1 else ''} {what}, "
                f"but the task is {spec.task}; valid here: "
                f"{', '.join(sorted(CLASS_METRICS if classes else VALUE_METRICS))}"
            ]
        )
    return names


def make_metrics(training: Any, spec: Any) -> list:
    out = []
    binary = is_binary(spec)
    for name in metric_names(training, spec):
        if name == "accuracy":
            out.append(
                keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
                if binary
                else keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            )
        elif name == "top_k":
            if training.top_k >= spec.num_classes:
                raise ConfigError(
                    [
                        f"training.top_k: {training.top_k} is not below the {spec.num_classes} classes, so top-k "
                        "accuracy would always be 1.0; lower training.top_k or drop top_k from training.metrics"
                    ]
                )
            out.append(keras.metrics.SparseTopKCategoricalAccuracy(k=training.top_k, name="top_k"))
        elif name in ("precision", "recall", "f1"):
            out.append(SparseMacroMetric(spec.num_classes, name))
        elif name == "mae":
            out.append(keras.metrics.MeanAbsoluteError(name="mae"))
        elif name == "rmse":
            out.append(keras.metrics.RootMeanSquaredError(name="rmse"))
        elif name == "mse":
            out.append(keras.metrics.MeanSquaredError(name="mse"))
    return out
