"""summary.json, written the same way by both drivers: final metrics, the best checkpoint's test
score (through the serving model, in the data's units), speed and where the time went."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import keras

from mlcli.data import DataBundle
from mlcli.evaluation.plots import curves, roc_pr_curves
from mlcli.evaluation.scoring import headline, score
from mlcli.fileio import atomic_write_json
from mlcli.inference.serving import predict_split, serving_model
from mlcli.rundir import CHECKPOINTS, SUMMARY_FILE, Stopwatch
from mlcli.training.checkpoint import crash_point


def test_score(cfg: Any, run_dir: Path, model, bundle: DataBundle) -> tuple[dict, str]:
    """The best checkpoint (else the final model) on the test split, as `mlcli evaluate` scores it."""
    best_path = Path(run_dir) / CHECKPOINTS / "best.keras"
    which = "best" if best_path.is_file() else "final"
    if bundle.raw.test is None or bundle.spec.task == "generation":
        return {}, which
    scorer = keras.models.load_model(best_path, compile=False) if best_path.is_file() else model
    predictions = predict_split(serving_model(scorer, bundle.spec), bundle.raw_batches("test"), bundle.spec)
    result = score(predictions.out, predictions.y, bundle.spec, cfg.training.top_k, predictions.last)
    if bundle.spec.classes and cfg.training.plots:
        roc_pr_curves(predictions.y, predictions.out, bundle.spec.class_names, Path(run_dir) / "plots", "test split")
    return headline(result), which


def write_summary(
    cfg: Any,
    run_dir: Path,
    model,
    bundle: DataBundle,
    writer,
    timer,
    final: dict,
    *,
    epochs_run: int,
    initial_epoch: int,
    train_seconds: float,
    wall: Stopwatch,
    extra: dict,
    score_test: bool = True,
) -> dict:
    clock = Stopwatch()
    test, which = test_score(cfg, run_dir, model, bundle) if score_test else ({}, "none")
    test_seconds = clock.elapsed()
    if cfg.training.plots:
        curves(writer.rows, Path(run_dir) / "plots" / "curves.png")
    rates = timer.rates[1:] if len(timer.rates) > 1 else timer.rates
    summary = {
        "name": cfg.name,
        "epochs_run": epochs_run,
        "initial_epoch": initial_epoch,
        "final_epoch": initial_epoch + epochs_run,
        "train": {k: v for k, v in final.items() if not k.startswith("val_")},
        "val": {k[4:]: v for k, v in final.items() if k.startswith("val_")},
        "test": test,
        "test_checkpoint": which,
        "best": {"monitor": writer.monitor, "mode": writer.mode, "value": writer.best, "epoch": writer.best_epoch},
        "samples_per_sec": statistics.median(rates) if rates else None,
        "train_time_s": round(train_seconds, 3),
        "test_time_s": round(test_seconds, 3),
        "params": int(model.count_params()),
        **extra,
    }
    summary["wall_time_s"] = round(wall.elapsed(), 3)  # the whole command so far: start-up, data, training, test
    crash_point("before_summary", summary["final_epoch"])
    atomic_write_json(Path(run_dir) / SUMMARY_FILE, summary)
    crash_point("after_summary", summary["final_epoch"])
    return summary
