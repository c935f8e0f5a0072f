"""Where an mlcli epoch's time goes, by cProfile: the training steps themselves against what mlcli adds
around a bare `fit` (callbacks at every step chunk's end, at every epoch's end, TensorBoard, the
per-epoch durable writes). One in-process `mlcli train` per batch size; times are per epoch, from
the cumulative times of the functions named below, so they include what those functions wait for.

python benchmarks/profile_epoch.py [--config benchmarks/configs/mnist_shaped.yaml] [--batch-sizes 32,128]
    [--epochs 3]   (PYTHONPATH=<an older checkout> profiles that version instead)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
from pathlib import Path

PARTS = {  # label -> (file suffix, function name) whose cumulative time is reported
    "training steps (the train function)": ("backend/tensorflow/trainer.py", "multi_step_on_iterator"),
    "validation (evaluate at each epoch end)": ("backend/tensorflow/trainer.py", "evaluate"),
    "hooks at each step chunk's end": ("callbacks/callback_list.py", "on_train_batch_end"),
    "hooks at each epoch's end (all callbacks)": ("callbacks/callback_list.py", "on_epoch_end"),
    "  of which mlcli's durable writes": ("callbacks/run_writer.py", "on_epoch_end"),
    "  of which TensorBoard": ("callbacks/tensorboard.py", "on_epoch_end"),
}


def profile(config: str, batch: int, epochs: int) -> dict:
    from mlcli.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        sys.argv = ["mlcli", "train", config, "--run-dir", f"{tmp}/run", "--quiet",
                    "--set", f"data.batch_size={batch}", "--set", f"training.epochs={epochs}"]  # fmt: skip
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            main()
        except SystemExit:
            pass
        profiler.disable()
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, ncalls, tottime, cumtime, callers)
    out = {}
    for label, (suffix, name) in PARTS.items():
        cumulative = [v[3] for (file, _, fn), v in stats.items() if file.endswith(suffix) and fn == name]
        calls = [v[1] for (file, _, fn), v in stats.items() if file.endswith(suffix) and fn == name]
        out[label] = {"s_per_epoch": max(cumulative, default=0.0) / epochs, "calls": max(calls, default=0)}
    out["train_time_s"] = summary["train_time_s"]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="benchmarks/configs/mnist_shaped.yaml")
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        result = profile(args.config, batch, args.epochs)
        print(f"batch {batch} (train_time_s {result.pop('train_time_s')}, {args.epochs} epochs):")
        for label, r in result.items():
            print(f"  {label:44s} {r['s_per_epoch'] * 1000:8.1f} ms/epoch  ({r['calls']} calls)")
