"""Metrics computed from predictions in NumPy: the numbers `evaluate` and summary.json report.

Independent of how the model was compiled, so any checkpoint can be scored the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def collect(model, dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs' last values (for naive forecasts), targets and raw outputs over a whole split."""
    ys, outs, lasts = [], [], []
    for x, y in dataset:
        outs.append(np.asarray(model(x, training=False), np.float32))
        ys.append(np.asarray(y))
        x = np.asarray(x) if not isinstance(x, dict) else np.zeros((len(y), 0))  # a table: dict of columns
        lasts.append(x[:, -1, 0] if x.ndim == 3 and x.dtype.kind == "f" else np.zeros(len(x)))
    return np.concatenate(lasts), np.concatenate(ys), np.concatenate(outs)


def probabilities(logits: np.ndarray) -> np.ndarray:
    if logits.shape[-1] == 1:
        p = 1 / (1 + np.exp(-logits[:, 0]))
        return np.stack([1 - p, p], axis=1)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification(y: np.ndarray, logits: np.ndarray, class_names: list[str], top_k: int = 5) -> dict[str, Any]:
    y = y.astype(int).reshape(-1)
    probs = probabilities(logits)
    pred = probs.argmax(axis=1)
    n = len(class_names)
    matrix = np.zeros((n, n), np.int64)
    np.add.at(matrix, (y, pred), 1)
    tp = np.diag(matrix).astype(float)
    precision = tp / np.maximum(matrix.sum(axis=0), 1)
    recall = tp / np.maximum(matrix.sum(axis=1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    top = np.argsort(-probs, axis=1)[:, :top_k]
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1))))
    return {
        "samples": int(len(y)),
        "loss": loss,
        "accuracy": float(np.mean(pred == y)),
        # top-k only means something when k < classes (with k >= classes it is always 1.0)
        **({f"top_{top_k}_accuracy": float(np.mean((top == y[:, None]).any(axis=1)))} if top_k < n else {}),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, matrix.sum(axis=1))
        },
        "confusion_matrix": matrix.tolist(),
    }


def regression(y: np.ndarray, out: np.ndarray, last: np.ndarray, spec: Any) -> dict[str, Any]:
    y = y.reshape(len(y), -1).astype(np.float64)
    out = out.reshape(len(out), -1).astype(np.float64)
    err = out - y
    result = {
        "samples": int(len(y)),
        "loss": float(np.mean(err**2)),
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
    }
    if spec.task == "forecast":
        std = float(spec.state["std"][0])
        naive = np.sqrt(np.mean((last[:, None] - y) ** 2))
        result.update(
            rmse_original_units=result["rmse"] * std,
            mae_original_units=result["mae"] * std,
            naive_last_value_rmse_original_units=float(naive * std),
        )
        result["skill_vs_naive"] = 1 - result["rmse"] / max(naive, 1e-12)
    return result


def score(model, dataset, spec: Any, top_k: int = 5) -> dict[str, Any]:
    last, y, out = collect(model, dataset)
    if spec.task == "classification":
        return classification(y, out, spec.class_names, top_k)
    return regression(y, out, last, spec)
