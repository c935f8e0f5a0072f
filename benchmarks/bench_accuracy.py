"""Test accuracy of a preset over several seeds, through the real CLI (README quotes its output).

Usage: python benchmarks/bench_accuracy.py [CONFIG=configs/cnn_digits.yaml] [--seeds 4]
Prints each seed's test accuracy and whole-command wall time, then the median and min-max.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/cnn_digits.yaml")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    accuracies, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(42, 42 + args.seeds):
            run = Path(tmp) / str(seed)
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "mlcli", "train", args.config, "--run-dir", str(run), "--quiet",
                 "--set", f"seed={seed}"],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            walls.append(time.perf_counter() - began)
            accuracies.append(json.loads((run / "summary.json").read_text())["test"]["accuracy"])
            print(f"seed {seed}: test accuracy {accuracies[-1]:.4f}, wall {walls[-1]:.1f} s", flush=True)
    med, lo, hi = statistics.median(accuracies), min(accuracies), max(accuracies)
    print(f"{args.config}, {args.seeds} seeds: test accuracy median {med:.2%} (min {lo:.2%}, max {hi:.2%}); "
          f"wall median {statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
