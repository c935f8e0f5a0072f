"""Scores checked against scikit-learn, including classes absent from one side, and top-k rules."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score

from mlcli.evaluation.scoring import classification


def test_macro_scores_and_confusion_match_sklearn_with_absent_classes():
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(6)]
    y = rng.choice([0, 1, 2, 3], size=300)  # class 4 and 5 never true
    logits = rng.normal(size=(300, 6))
    logits[:, 1] -= 9  # class 1 is almost never predicted
    result = classification(y, logits, names, top_k=3)
    pred = logits.argmax(1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(6), average="macro", zero_division=0)
    assert result["macro_precision"] == pytest.approx(p)
    assert result["macro_recall"] == pytest.approx(r)
    assert result["macro_f1"] == pytest.approx(f)
    assert result["confusion_matrix"] == confusion_matrix(y, pred, labels=range(6)).tolist()
    assert result["top_3_accuracy"] == pytest.approx(top_k_accuracy_score(y, logits, k=3, labels=range(6)))


def test_top_k_is_reported_only_below_the_number_of_classes():
    y = np.array([0, 1, 2, 3, 4])
    logits = np.eye(5)[::-1]
    assert "top_5_accuracy" not in classification(y, logits, list("abcde"), top_k=5)
    binary = classification(np.array([0, 1]), np.array([[2.0], [-1.0]]), ["no", "yes"], top_k=2)
    assert not any(k.startswith("top_") for k in binary)
