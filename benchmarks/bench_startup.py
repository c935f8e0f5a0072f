"""Benchmark 3: wall time of commands that must not import TensorFlow (targets 0.3 s and 0.5 s)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLCLI = str(Path(sys.executable).parent / "mlcli")
COMMANDS = {
    "mlcli --help": [MLCLI, "--help"],
    "mlcli validate configs/cnn_cifar10.yaml": [MLCLI, "validate", "configs/cnn_cifar10.yaml"],
}


def wall(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm-up (page cache)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def measure(runs: int = 10) -> dict:
    results = {}
    for name, cmd in COMMANDS.items():
        times = wall(cmd, runs)
        results[name] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": runs}
        print(name, results[name], flush=True)
    return results


if __name__ == "__main__":
    measure()
