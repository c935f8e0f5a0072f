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
    """What a Keras metric needs to know about the data it watches. `target` (mean, std, log) is how
    value targets were scaled for training: value metrics undo it, so they are in the data's units."""

    num_classes: int = 0
    top_k: int = 5
    target: tuple[float, float, bool] | None = None


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
    _units_class()
    _auc_class()


@functools.cache
def _auc_class():
    """ROC or precision-recall AUC for sparse labels and logits: one binary logit directly, several
    classes one-vs-rest (macro) through softmax and Keras' multi-label AUC."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mlcli")
    class SparseAUC(keras.metrics.Metric):
        def __init__(self, num_classes: int, curve: str = "ROC", name: str | None = None, **kwargs):
            super().__init__(name=name or ("auc" if curve == "ROC" else "pr_auc"), **kwargs)
            self.num_classes, self.curve = num_classes, curve
            binary = num_classes == 2
            labels = None if binary else num_classes
            self.inner = keras.metrics.AUC(curve=curve, num_thresholds=400, from_logits=binary,
                                           multi_label=not binary, num_labels=labels)  # fmt: skip

        def update_state(self, y_true, y_pred, sample_weight=None):
            y = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            if self.num_classes == 2 and ops.shape(y_pred)[-1] == 1:
                self.inner.update_state(ops.expand_dims(y, -1), y_pred)
            else:
                self.inner.update_state(ops.one_hot(y, self.num_classes), ops.softmax(y_pred, axis=-1))

        def result(self):
            return self.inner.result()

        def reset_state(self):
            self.inner.reset_state()

        def get_config(self):
            return {**super().get_config(), "num_classes": self.num_classes, "curve": self.curve}

    return SparseAUC


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


@functools.cache
def _units_class():
    """MAE, MSE and RMSE of targets and predictions taken back to the data's units (the model trains on
    standardised, maybe log1p'd, targets; the numbers a user reads should be prices, not z-scores)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mlcli")
    class InDataUnits(keras.metrics.Metric):
        def __init__(self, kind: str, mean: float = 0.0, std: float = 1.0, log: bool = False, **kwargs):
            super().__init__(name=kwargs.pop("name", kind), **kwargs)
            self.kind, self.mean, self.std, self.log = kind, mean, std, log
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")
            self.count = self.add_variable(shape=(), initializer="zeros", name="count")

        def _units(self, v):
            v = ops.cast(v, "float32") * self.std + self.mean
            return ops.expm1(v) if self.log else v

        def update_state(self, y_true, y_pred, sample_weight=None):
            err = self._units(ops.reshape(y_pred, ops.shape(y_true))) - self._units(y_true)
            part = ops.abs(err) if self.kind == "mae" else ops.square(err)
            self.total.assign_add(ops.sum(part))
            self.count.assign_add(ops.cast(ops.size(part), "float32"))

        def result(self):
            mean = self.total / ops.maximum(self.count, 1.0)
            return ops.sqrt(mean) if self.kind == "rmse" else mean

        def reset_state(self):
            self.total.assign(0.0)
            self.count.assign(0.0)

        def get_config(self):
            return {**super().get_config(), "kind": self.kind, "mean": self.mean, "std": self.std, "log": self.log}

    return InDataUnits


def _keras_metric(cls: str) -> Callable[[MetricContext], Any]:
    def build(ctx: MetricContext):
        import keras

        if ctx.target is not None:
            mean, std, log = ctx.target
            return _units_class()(NAMES_BY_KERAS[cls], mean, std, log)
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


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing theirs: the Mann-Whitney statistic needs them."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def roc_auc_one(positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of one class against the rest (None when the split has only one of the two)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    return float((_ranks(score)[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision_one(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the precision-recall curve as average precision (scikit-learn's definition)."""
    if not positive.any():
        return None
    order = np.argsort(-score, kind="stable")
    hits = positive[order]
    distinct = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]  # the last index of each threshold
    tp = np.cumsum(hits)[distinct]
    precision = tp / (distinct + 1)
    recall = tp / hits.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _macro_curve(one: Callable, s: Scored) -> float:
    y = s.y.astype(int).reshape(-1)
    classes = [1] if s.out.shape[1] == 2 else range(s.out.shape[1])  # binary: the positive class
    values = [one(y == k, s.out[:, k]) for k in classes]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


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
        Metric("auc", "classes", "max", "area under the ROC curve (one-vs-rest, macro, for several classes)",
               lambda ctx: _auc_class()(ctx.num_classes, "ROC"), lambda s: _macro_curve(roc_auc_one, s)),
        Metric("pr_auc", "classes", "max", "area under the precision-recall curve (average precision, macro)",
               lambda ctx: _auc_class()(ctx.num_classes, "PR"), lambda s: _macro_curve(average_precision_one, s)),
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
