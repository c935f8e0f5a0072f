"""Time to accuracy for configs/cnn_digits.yaml: seconds of a whole `mlcli train` command until the
test accuracy is at least 99 %.

The config is run with fewer epochs (its cosine schedule then spans the shorter run); the answer is
the wall time of the shortest run that reaches the target, median over rounds, with every run listed.

python benchmarks/bench_time_to_accuracy.py [--rounds 2] [--epochs 3,4,6,8,12]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from common import record, spread, timed

CONFIG = "configs/cnn_digits.yaml"
TARGET = 0.99


def measure(rounds: int, epochs: list[int]) -> dict:
    runs: dict[int, list[dict]] = {e: [] for e in epochs}
    for r in range(rounds):
        for e in epochs if r % 2 == 0 else epochs[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                result = timed([sys.executable, "-m", "mlcli", "train", CONFIG, "--run-dir", f"{tmp}/run",
                                "--set", f"training.epochs={e}"])  # fmt: skip
                accuracy = json.loads((Path(tmp) / "run" / "summary.json").read_text())["test"]["accuracy"]
            runs[e].append({"wall_s": result.wall_s, "test_accuracy": accuracy})
            print(f"{e} epochs: test accuracy {accuracy:.4f} in {result.wall_s:.1f} s", flush=True)
    table = {
        e: {"wall_s": spread([x["wall_s"] for x in rows]), "test_accuracy": spread([x["test_accuracy"] for x in rows])}
        for e, rows in runs.items()
    }
    reached = [e for e in epochs if all(x["test_accuracy"] >= TARGET for x in runs[e])]
    first = min(reached) if reached else None
    return {
        "config": CONFIG,
        "target_test_accuracy": TARGET,
        "fewest_epochs_reaching_it_every_round": first,
        "seconds_to_target": statistics.median(x["wall_s"] for x in runs[first]) if first else None,
        "by_epochs": table,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", default="3,4,6,8,12")
    args = parser.parse_args()
    record("time_to_accuracy", measure(args.rounds, [int(e) for e in args.epochs.split(",")]), rounds=args.rounds)
