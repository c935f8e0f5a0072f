"""How long `mlcli validate` takes to refuse each config of the hostile corpus (hostile_configs.py), and
its peak memory: a refusal must be quick and small, not a parse of the whole attack first.

python benchmarks/bench_hostile_configs.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, record, spread
from hostile_configs import write_corpus

MLCLI = str(Path(sys.executable).parent / "mlcli")


def refuse(path: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `mlcli validate PATH`, which must exit 2."""
    start = time.perf_counter()
    proc = subprocess.Popen([MLCLI, "validate", str(path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 2:
        raise RuntimeError(f"{path.name}: exit {os.waitstatus_to_exitcode(status)}, not 2")
    return wall, usage.ru_maxrss / 1024


def measure(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        corpus = write_corpus(Path(folder))
        times: dict[str, list[float]] = {name: [] for name in corpus}
        peaks: dict[str, float] = {name: 0.0 for name in corpus}
        for _ in range(rounds):
            for name, path in corpus.items():
                wall, rss = refuse(path)
                times[name].append(wall)
                peaks[name] = max(peaks[name], rss)
    results = {name: {"wall_s": spread(times[name]), "peak_rss_mib": round(peaks[name], 1)} for name in corpus}
    whole = [sum(times[name][r] for name in corpus) for r in range(rounds)]
    results["whole corpus"] = {"wall_s": spread(whole), "configs": len(corpus)}
    for name, r in results.items():
        w = r["wall_s"]
        print(f"{name:34s} median {w['median']:.2f} s (min {w['min']:.2f}, max {w['max']:.2f})"
              + (f", peak {r['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in r else ""), flush=True)  # fmt: skip
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    record("hostile_configs", measure(args.rounds), rounds=args.rounds)
