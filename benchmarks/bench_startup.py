"""Start-up: commands that must not import TensorFlow (targets: `--help` ≤ 0.3 s, `validate` ≤ 0.5 s
medians), and where the seconds before the first training step go.

python benchmarks/bench_startup.py [--runs 10] [--phase-runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, record, spread

MLCLI = str(Path(sys.executable).parent / "mlcli")
COMMANDS = {
    "mlcli --help": [MLCLI, "--help"],
    "mlcli validate configs/cnn_cifar10.yaml": [MLCLI, "validate", "configs/cnn_cifar10.yaml"],
}
PHASES_OF = "configs/cnn_digits.yaml"


def wall(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm-up (page cache)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def phases(runs: int) -> dict:
    script = str(ROOT / "benchmarks/startup_phases.py")
    rows = [
        json.loads(subprocess.run([sys.executable, script, PHASES_OF], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip().splitlines()[-1])
        for _ in range(runs)
    ]  # fmt: skip
    return {name: spread([r[name] for r in rows]) for name in rows[0]}


def measure(runs: int, phase_runs: int) -> dict:
    results = {name: spread(wall(cmd, runs)) for name, cmd in COMMANDS.items()}
    for name, r in results.items():
        print(f"{name}: median {r['median']:.3f} s (min {r['min']:.3f}, max {r['max']:.3f}; {runs} runs)", flush=True)
    results[f"mlcli train {PHASES_OF}: phases"] = phases(phase_runs)
    print(json.dumps(results[f"mlcli train {PHASES_OF}: phases"], indent=1))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--phase-runs", type=int, default=5)
    args = parser.parse_args()
    record("startup", measure(args.runs, args.phase_runs), rounds=args.runs)
