"""Wall time and throughput: two loopback workers (one shared run directory) vs one process.

Usage: python benchmarks/bench_multi_worker.py [--rounds 3] [--epochs 5]
Alternates the two sides (A B B A ...) and prints each round, then medians with min-max. Both
sides train configs/smoke/multi_worker.yaml through the real CLI; the one-process side sets
distribute.strategy=none. On a 2-core machine each worker gets one core and pays a gRPC all-reduce
per step, so this measures the overhead of the multi-worker path, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "smoke" / "multi_worker.yaml"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train(run_dir: Path, epochs: int, env_for: list[dict | None]) -> tuple[float, dict]:
    """Start one process per env, wait for all; (wall seconds, the chief's summary)."""
    began = time.perf_counter()
    procs = []
    for env in env_for:
        args = [sys.executable, "-m", "mlcli", "train", str(CONFIG), "--run-dir", str(run_dir), "--quiet"]
        args += ["--set", f"training.epochs={epochs}"]
        if env is None:
            args += ["--set", "distribute.strategy=none"]
        procs.append(
            subprocess.Popen(
                args,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        if proc.returncode:
            raise SystemExit(f"training failed: {err[-2000:]}")
    return time.perf_counter() - began, json.loads((run_dir / "summary.json").read_text())


def two_workers(run_dir: Path, epochs: int) -> tuple[float, dict]:
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    envs = [{"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})} for i in (1, 0)]
    return train(run_dir, epochs, envs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {s: {"wall_s": [], "samples_per_sec": []} for s in ("one", "two")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ("one", "two") if r % 2 == 0 else ("two", "one")
            for side in order:
                run = Path(tmp) / f"{side}-{r}"
                wall, summary = (two_workers if side == "two" else lambda d, e: train(d, e, [None]))(run, args.epochs)
                results[side]["wall_s"].append(wall)
                results[side]["samples_per_sec"].append(summary["samples_per_sec"])
                print(f"round {r + 1} {side}: wall {wall:.1f} s, {summary['samples_per_sec']:,.0f} samples/s, "
                      f"val_loss {summary['val'].get('loss', float('nan')):.4f}", flush=True)  # fmt: skip
    print(f"\n{args.rounds} rounds, {args.epochs} epochs, {os.cpu_count()} CPUs")
    for side, label in (("one", "one process (fit)"), ("two", "two loopback workers")):
        for key in ("wall_s", "samples_per_sec"):
            v = results[side][key]
            print(f"{label:24s} {key:16s} median {statistics.median(v):10.1f}  (min {min(v):.1f}, max {max(v):.1f})")
    ratios = [a / b for a, b in zip(results["two"]["wall_s"], results["one"]["wall_s"])]
    print(f"wall ratio two/one: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
