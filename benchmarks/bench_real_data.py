"""mlcli against scikit-learn on real data sets (real_data.py), each on the same train/test split: a plain
config (an MLP, no tuning) through the `mlcli` console script, scored from `mlcli predict`'s output with
scikit-learn's metric functions; a linear model and gradient boosting fitted on the same rows. Also a
weekly series (Mauna Loa CO2) against the naive last-value forecast and ridge regression on the same windows.

python benchmarks/bench_real_data.py [--rounds 1]   (round r uses seed r, for mlcli and the split)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, record, spread
from real_data import TABLES, Table, baselines, mauna_loa_ppm, predictions, score, split_frame

MLCLI = str(Path(sys.executable).parent / "mlcli")


def mlcli(*args) -> None:
    done = subprocess.run([MLCLI, *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"mlcli {' '.join(map(str, args[:2]))}: {done.stderr[-2000:]}")


def train_and_predict(folder: Path, data: str, model: str, training: str, inputs: Path, seed: int) -> tuple:
    """(predict's rows, summary.json's test block, wall seconds of `mlcli train`)."""
    config = folder / "config.yaml"
    config.write_text(f"name: bench\nseed: {seed}\ndata: {data}\nmodel: {model}\ntraining: {training}\n")
    run = folder / "run"
    began = time.perf_counter()
    mlcli("train", config, "--run-dir", run, "--quiet")
    wall = time.perf_counter() - began
    mlcli("predict", run, inputs, "--out", folder / "p.json")
    rows = json.loads((folder / "p.json").read_text(encoding="utf-8"))
    return rows, json.loads((run / "summary.json").read_text())["test"], wall


def table_round(table: Table, seed: int) -> dict:
    frame = table.load()
    train, test = split_frame(frame, 0.2, seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train.to_csv(folder / "train.csv", index=False)
        test.to_csv(folder / "test.csv", index=False)
        task = "" if table.task == "classification" else ", task: regression"
        data = f"{{source: csv, path: '{folder / 'train.csv'}', test_path: '{folder / 'test.csv'}', " \
               f"label: '{table.label}'{task}, batch_size: 32}}"  # fmt: skip
        training = f"{{epochs: {table.epochs}, tensorboard: false, plots: false}}"
        rows, reported, wall = train_and_predict(folder, data, table.model, training, folder / "test.csv", seed)
    ours = score(table.task, test[table.label], predictions(rows, table.task))
    key = "accuracy" if table.task == "classification" else "mae"
    if abs(reported[key] - ours) > 1e-4 * max(1.0, abs(ours)):
        raise RuntimeError(f"{table.name}: summary.json says {key} {reported[key]}, predict's output {ours}")
    return {"mlcli": ours, **baselines(train, test, table.label, table.task), "wall_s": wall,
            "rows": len(frame), "columns": frame.shape[1] - 1}  # fmt: skip


def series_round(seed: int) -> dict:
    from sklearn.linear_model import Ridge

    ppm = mauna_loa_ppm()
    history, future, window = ppm[:-60], ppm[-60:], 24
    series = np.concatenate([history, future])
    windows = np.stack([series[len(history) + i - window : len(history) + i] for i in range(len(future))])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, values in (("train", history), ("test", future)):
            (folder / f"{name}.csv").write_text("ppm\n" + "".join(f"{v}\n" for v in values))
        np.savez(folder / "windows.npz", x=windows.astype(np.float32))
        data = f"{{source: csv, path: '{folder / 'train.csv'}', test_path: '{folder / 'test.csv'}', " \
               f"task: timeseries, window: {window}, batch_size: 32}}"  # fmt: skip
        rows, _, wall = train_and_predict(folder, data, "{type: rnn, cell: gru, units: [32]}",
                                          "{epochs: 40, tensorboard: false, plots: false}", folder / "windows.npz",
                                          seed)  # fmt: skip
    train_windows = np.stack([history[i : i + window] for i in range(len(history) - window)])
    ridge = Ridge().fit(train_windows, history[window:])
    return {"mlcli": score("regression", future, predictions(rows, "regression")),
            "naive last value": score("regression", future, series[len(history) - 1 : -1]),
            "ridge": score("regression", future, ridge.predict(windows)), "wall_s": wall,
            "rows": len(ppm), "columns": 1}  # fmt: skip


def measure(rounds: int) -> dict:
    cases = {t.name: (t.source, t.task, lambda s, t=t: table_round(t, s)) for t in TABLES}
    cases["co2 forecast"] = ("Mauna Loa weekly CO2 (the last 60 weeks as the test file)", "forecast", series_round)
    results = {}
    for name, (source, task, run) in cases.items():
        rounds_out = [run(seed) for seed in range(rounds)]
        merged = {k: spread([r[k] for r in rounds_out]) for k in rounds_out[0] if k not in ("rows", "columns")}
        metric = "accuracy" if task == "classification" else "mae"
        results[name] = {"source": source, "task": task, "metric": metric, "rows": rounds_out[0]["rows"],
                         "columns": rounds_out[0]["columns"], **merged}  # fmt: skip
        others = ", ".join(f"{k} {v['median']:.4g}" for k, v in merged.items() if k not in ("mlcli", "wall_s"))
        print(f"{name:16s} {results[name]['metric']}: mlcli {merged['mlcli']['median']:.4g}; {others}; "
              f"mlcli train {merged['wall_s']['median']:.0f} s", flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    record("real_data", measure(args.rounds), rounds=args.rounds)
