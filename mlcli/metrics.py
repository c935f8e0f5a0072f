"""The one metric vocabulary: each metric's name, task, direction, Keras object and scorer.

A metric has one name everywhere: in `training.metrics`, in the epoch logs and `metrics.csv` (with
its `val_` twin), on the progress line, in `summary.json`'s and `eval.json`'s test results, in
`mlcli runs` and in sweeps. Its direction decides `mode: auto` for every monitor, the best
checkpoint, the runs table's `--sort best` and a sweep's `--direction auto`; `improved` is the one
improvement rule (Keras' MonitorCallback rule, `min_delta` included).

Ground level: imports nothing from mlcli and no TensorFlow at import; the Keras factories import
Keras when they are called, the scorers are NumPy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MetricContext:
    """What a Keras metric needs to know about the data it watches."""

    num_classes: int = 0
    top_k: int = 5


@dataclass(frozen=True)
class Scored:
    """A split's outputs in the data's own terms: class labels and probabilities, or values in the
    data's units (targets and predictions of shape (n, outputs))."""

    y: np.ndarray
    out: np.ndarray
    top_k: int = 5


@dataclass(frozen=True)
class Metric:
    name: str
    task: str  # "classes", "values" or "gan" (a GAN's trackers)
    direction: str  # "max" or "min"
    doc: str
    keras: Callable[[MetricContext], Any] | None = None
    score: Callable[[Scored], float] | None = None


# ---- Keras objects (built when training compiles) ------------------------------------------------


@functools.cache
def _macro_class():
    """Sparse-label macro precision / recall / F1 on logits (Keras' F1Score wants one-hot labels and
    probabilities); defined on first use so this module imports without Keras."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mlcli")
    class SparseMacroMetric(keras.metrics.Metric):
        def __init__(self, num_classes: int, kind: str = "f1", name: str | None = None, **kwargs):
            super().__init__(name=name or kind, **kwargs)
            self.num_classes, self.kind = num_classes, kind
            self._direction = "up"  # what Keras' own monitor callbacks read for mode="auto"
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

    return SparseMacroMetric


def register_keras_objects() -> None:
    """Register mlcli's Keras metric classes, so a checkpoint's compile state loads (`compile=True`)."""
    _macro_class()


def _accuracy(ctx: MetricContext):
    import keras

    if ctx.num_classes == 2:  # one binary logit
        return keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def _top_k(ctx: MetricContext):
    import keras

    return keras.metrics.SparseTopKCategoricalAccuracy(k=ctx.top_k, name="top_k")


def _macro(kind: str) -> Callable[[MetricContext], Any]:
    return lambda ctx: _macro_class()(ctx.num_classes, kind)


def _keras_metric(cls: str) -> Callable[[MetricContext], Any]:
    def build(ctx: MetricContext):
        import keras

        return getattr(keras.metrics, cls)(name=NAMES_BY_KERAS[cls])

    return build


NAMES_BY_KERAS = {"MeanAbsoluteError": "mae", "RootMeanSquaredError": "rmse", "MeanSquaredError": "mse"}


# ---- scorers (NumPy, from a split's outputs) ------------------------------------------------------


def confusion(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    n = probs.shape[1]
    matrix = np.zeros((n, n), np.int64)
    np.add.at(matrix, (y.astype(int).reshape(-1), probs.argmax(axis=1)), 1)
    return matrix


def per_class(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of each class from a confusion matrix (rows true, columns predicted)."""
    tp = np.diag(matrix).astype(float)
    precision = tp / np.maximum(matrix.sum(axis=0), 1)
    recall = tp / np.maximum(matrix.sum(axis=1), 1)
    return precision, recall, 2 * precision * recall / np.maximum(precision + recall, 1e-12)


def _score_accuracy(s: Scored) -> float:
    return float(np.mean(s.out.argmax(axis=1) == s.y.reshape(-1)))


def _score_top_k(s: Scored) -> float:
    top = np.argsort(-s.out, axis=1, kind="stable")[:, : s.top_k]
    return float(np.mean((top == s.y.reshape(-1, 1)).any(axis=1)))


def _score_macro(index: int) -> Callable[[Scored], float]:
    return lambda s: float(per_class(confusion(s.y, s.out))[index].mean())


def _score_loss_classes(s: Scored) -> float:
    picked = s.out[np.arange(len(s.y)), s.y.astype(int).reshape(-1)]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1))))


def _errors(s: Scored) -> np.ndarray:
    return s.out.reshape(len(s.out), -1).astype(np.float64) - s.y.reshape(len(s.y), -1).astype(np.float64)


TABLE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("loss", "any", "min", "the training loss (regularisation included in training logs)"),
        Metric("accuracy", "classes", "max", "share of examples whose top class is right", _accuracy, _score_accuracy),
        Metric("top_k", "classes", "max", "share whose true class is among the `training.top_k` most likely",
               _top_k, _score_top_k),  # fmt: skip
        Metric("precision", "classes", "max", "macro-averaged precision", _macro("precision"), _score_macro(0)),
        Metric("recall", "classes", "max", "macro-averaged recall", _macro("recall"), _score_macro(1)),
        Metric("f1", "classes", "max", "macro-averaged F1", _macro("f1"), _score_macro(2)),
        Metric("mae", "values", "min", "mean absolute error", _keras_metric("MeanAbsoluteError"),
               lambda s: float(np.mean(np.abs(_errors(s))))),  # fmt: skip
        Metric("rmse", "values", "min", "root mean squared error", _keras_metric("RootMeanSquaredError"),
               lambda s: float(np.sqrt(np.mean(_errors(s) ** 2)))),  # fmt: skip
        Metric("mse", "values", "min", "mean squared error", _keras_metric("MeanSquaredError"),
               lambda s: float(np.mean(_errors(s) ** 2))),  # fmt: skip
        Metric("d_loss", "gan", "min", "discriminator loss"),
        Metric("g_loss", "gan", "min", "generator loss"),
        Metric("d_acc_real", "gan", "max", "discriminator accuracy on real images"),
        Metric("d_acc_fake", "gan", "max", "discriminator accuracy on generated images"),
    )
}
CLASS_METRICS = tuple(n for n, m in TABLE.items() if m.task == "classes")
VALUE_METRICS = tuple(n for n, m in TABLE.items() if m.task == "values")
GAN_TRACKERS = tuple(n for n, m in TABLE.items() if m.task == "gan")
CONFIGURABLE = CLASS_METRICS + VALUE_METRICS


def default_metrics(classes: bool) -> list[str]:
    return ["accuracy"] if classes else ["mae", "rmse"]


def base_name(name: str) -> str:
    """`val_accuracy` → `accuracy`; names are looked up without their split prefix."""
    for prefix in ("val_", "test_"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def direction(name: str) -> str | None:
    """"max" or "min" for a logged or reported name (val_ twins included); None when unknown."""
    metric = TABLE.get(base_name(name))
    return metric.direction if metric else None


def higher_is_better(name: str) -> bool:
    return direction(name) == "max"


def improved(value: float | None, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Keras' rule: an improvement beats the best by more than `min_delta` in the monitor's direction."""
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    return value - min_delta > best if mode == "max" else value + min_delta < best


def score_classes(y: np.ndarray, probs: np.ndarray, top_k: int) -> dict[str, float]:
    """Every class metric of a split from its probabilities (top_k only when k < classes)."""
    s = Scored(y, probs, top_k)
    out = {"loss": _score_loss_classes(s)}
    for name in CLASS_METRICS:
        if name == "top_k" and top_k >= probs.shape[1]:
            continue  # with k >= classes it is always 1.0
        out[name] = TABLE[name].score(s)
    return out


def score_values(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Every value metric of a split, in the units `y` and `pred` are in."""
    s = Scored(y, pred)
    return {name: TABLE[name].score(s) for name in VALUE_METRICS}
