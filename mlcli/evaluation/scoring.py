"""The numbers `evaluate` and summary.json report, from a split's serving-model outputs.

Scored in NumPy with the scorers of the one metric table (`mlcli.metrics`), on what the serving model
returns — class probabilities, or values and forecasts in the data's own units — so a reported error
is in the units a user reads off their data, whatever scaling the model trained with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcli.metrics import confusion, per_class, score_classes, score_values
from mlcli.spec import DataSpec


def classification(y: np.ndarray, probs: np.ndarray, class_names: list[str], top_k: int = 5) -> dict[str, Any]:
    y = y.astype(int).reshape(-1)
    matrix = confusion(y, probs)
    precision, recall, f1 = per_class(matrix)
    return {
        "samples": int(len(y)),
        **score_classes(y, probs, top_k),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, matrix.sum(axis=1))
        },
        "confusion_matrix": matrix.tolist(),
    }


def values(y: np.ndarray, pred: np.ndarray, last: np.ndarray | None = None) -> dict[str, Any]:
    """Regression or forecast errors in the data's units; a forecast also against the naive one."""
    y = y.reshape(len(y), -1).astype(np.float64)
    pred = pred.reshape(len(pred), -1).astype(np.float64)
    result: dict[str, Any] = {"samples": int(len(y)), **score_values(y, pred)}
    if last is not None:
        naive = float(np.sqrt(np.mean((last.reshape(-1, 1) - y) ** 2)))
        result.update(naive_last_value_rmse=naive, skill_vs_naive=1 - result["rmse"] / max(naive, 1e-12))
    return result


def score(out: np.ndarray, y: np.ndarray, spec: DataSpec, top_k: int = 5, last: np.ndarray | None = None) -> dict:
    """Every metric of a split from the serving model's outputs `out` and the labels `y` as stored."""
    if spec.classes:
        return classification(y, out, spec.class_names, top_k)
    return values(y, out, last)


def headline(result: dict) -> dict:
    """A result without its tables (per class, confusion matrix): what summary.json keeps."""
    return {k: v for k, v in result.items() if k not in ("per_class", "confusion_matrix")}
