"""Benchmarks 1, 2 and 4: mlcli vs hand-written Keras (defaults and tuned), and peak memory.

Runs each side as its own process, alternating A/B/C per round so drift hits all alike; reports
median samples/s (epochs after the first), the median of the per-round ratios, and peak RSS.
Usage: python benchmarks/bench_throughput.py [--rounds 3] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "digits": (ROOT / "configs/cnn_digits.yaml", "digits"),
    "cifar-shaped": (ROOT / "benchmarks/cifar_synthetic.yaml", "cifar"),
}


def _run(cmd: list[str]) -> tuple[str, float]:
    """Run a command; return its stdout and its own peak RSS in MiB (from wait4, per child)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
        out.seek(0)
        return out.read(), usage.ru_maxrss / 1024


def mlcli_rate(config: Path, epochs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        _, peak = _run(
            [
                sys.executable,
                "-m",
                "mlcli",
                "train",
                str(config),
                "--run-dir",
                str(run),
                "--quiet",
                "--set",
                f"training.epochs={epochs}",
                "--set",
                "training.tensorboard=false",
            ]
        )
        return json.loads((run / "summary.json").read_text())["samples_per_sec"], peak


def hand_rate(config: Path, model: str, style: str, epochs: int) -> tuple[float, float]:
    out, peak = _run(
        [
            sys.executable,
            str(ROOT / "benchmarks/hand_keras.py"),
            str(config),
            "--model",
            model,
            "--style",
            style,
            "--epochs",
            str(epochs),
        ]
    )
    return json.loads(out.strip().splitlines()[-1])["samples_per_sec"], peak


def measure(rounds: int, epochs: int) -> dict:
    results = {}
    for name, (config, model) in CASES.items():
        rows = {"mlcli": [], "defaults": [], "tuned": []}
        for _ in range(rounds):
            rows["mlcli"].append(mlcli_rate(config, epochs))
            rows["defaults"].append(hand_rate(config, model, "defaults", epochs))
            rows["tuned"].append(hand_rate(config, model, "tuned", epochs))
        m, d, t = ([r[0] for r in rows[k]] for k in ("mlcli", "defaults", "tuned"))
        results[name] = {
            "mlcli_samples_per_sec": statistics.median(m),
            "keras_defaults_samples_per_sec": statistics.median(d),
            "keras_tuned_samples_per_sec": statistics.median(t),
            "ratio_vs_defaults": statistics.median(a / b for a, b in zip(m, d)),
            "ratio_vs_tuned": statistics.median(a / b for a, b in zip(m, t)),
            "mlcli_peak_rss_mib": max(r[1] for r in rows["mlcli"]),
            "rounds": rounds,
        }
        print(name, json.dumps(results[name]), flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    measure(args.rounds, args.epochs)
