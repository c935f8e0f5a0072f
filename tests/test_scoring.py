"""Scores checked against scikit-learn, including classes absent from one side, and top-k rules."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from mlcli.evaluation.scoring import classification, values
from mlcli.metrics import TABLE, direction, improved


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_macro_scores_and_confusion_match_sklearn_with_absent_classes():
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(6)]
    y = rng.choice([0, 1, 2, 3], size=300)  # class 4 and 5 never true
    logits = rng.normal(size=(300, 6))
    logits[:, 1] -= 9  # class 1 is almost never predicted
    probs = softmax(logits)
    result = classification(y, probs, names, top_k=3)
    pred = logits.argmax(1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(6), average="macro", zero_division=0)
    assert result["precision"] == pytest.approx(p)
    assert result["recall"] == pytest.approx(r)
    assert result["f1"] == pytest.approx(f)
    assert result["accuracy"] == pytest.approx(np.mean(pred == y))
    assert result["loss"] == pytest.approx(log_loss(y, probs, labels=range(6)))
    assert result["confusion_matrix"] == confusion_matrix(y, pred, labels=range(6)).tolist()
    assert result["top_k"] == pytest.approx(top_k_accuracy_score(y, logits, k=3, labels=range(6)))


def test_top_k_is_reported_only_below_the_number_of_classes():
    y = np.array([0, 1, 2, 3, 4])
    assert "top_k" not in classification(y, np.eye(5)[::-1], list("abcde"), top_k=5)
    assert "top_k" in classification(y, np.eye(5)[::-1], list("abcde"), top_k=4)


def test_value_errors_match_sklearn_and_the_naive_forecast_is_the_last_value():
    rng = np.random.default_rng(1)
    y, pred, last = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)), rng.normal(size=50)
    result = values(y, pred, last)
    assert result["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert result["mse"] == pytest.approx(mean_squared_error(y, pred))
    assert result["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    naive = np.sqrt(mean_squared_error(y, np.repeat(last[:, None], 3, axis=1)))
    assert result["naive_last_value_rmse"] == pytest.approx(naive)
    assert result["skill_vs_naive"] == pytest.approx(1 - result["rmse"] / naive)


def test_one_metric_table_decides_directions_and_improvement():
    assert {n: direction(n) for n in ("accuracy", "val_f1", "top_k", "mae", "val_loss", "d_acc_fake")} == {
        "accuracy": "max", "val_f1": "max", "top_k": "max", "mae": "min", "val_loss": "min", "d_acc_fake": "max"
    }  # fmt: skip
    assert direction("no_such_metric") is None
    assert all(m.keras is not None and m.score is not None for m in TABLE.values() if m.task in ("classes", "values"))
    # Keras' rule: beat the best by more than min_delta in the monitor's direction
    assert improved(0.80, 0.75, "max", 0.04) and not improved(0.78, 0.75, "max", 0.04)
    assert improved(0.10, 0.20, "min", 0.05) and not improved(0.16, 0.20, "min", 0.05)
    assert improved(0.5, None, "max") and not improved(float("nan"), 0.1, "min")
