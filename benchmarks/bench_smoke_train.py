"""A whole `mlcli train` of each smoke config, start-up included: what CI smoke runs and the test suite
pay for every training. With `--baseline REF` the same commands also run from a git worktree of REF
(through PYTHONPATH, same interpreter and packages), in turn with this tree, and the ratio is taken
round by round, so a change to start-up or per-epoch costs is measured against the code before it.

python benchmarks/bench_smoke_train.py [--rounds 6] [--baseline REF] [--configs mlp cnn gan]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, abba, record, spread, timed


def run_once(config: str, tree: Path | None, scratch: Path) -> float:
    run_dir = scratch / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    # run from the scratch folder: `python -m` puts the working directory first on sys.path, and from
    # the repository it would import this tree's mlcli whatever PYTHONPATH says
    cmd = [sys.executable, "-m", "mlcli", "train", str(ROOT / "configs/smoke" / f"{config}.yaml"),
           "--run-dir", str(run_dir), "--quiet"]  # fmt: skip
    return timed(cmd, env={"PYTHONPATH": str(tree or ROOT)}, cwd=scratch).wall_s


def main(rounds: int, baseline: str | None, configs: list[str]) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="mlcli-smoke-") as scratch:
        scratch = Path(scratch)
        old = None
        if baseline:
            old = scratch / "baseline"
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), baseline], cwd=ROOT, check=True)
        try:
            for config in configs:
                sides = ["this tree", f"at {baseline}"] if old else ["this tree"]
                times: dict[str, list[float]] = {s: [] for s in sides}
                run_once(config, None, scratch)  # warm-up: page cache, bytecode
                for order in abba(sides, rounds):
                    for side in order:
                        times[side].append(run_once(config, None if side == "this tree" else old, scratch))
                row = {side: spread(t) for side, t in times.items()}
                if old:
                    row["ratio"] = spread([a / b for a, b in zip(times["this tree"], times[sides[1]], strict=True)])
                results[f"configs/smoke/{config}.yaml"] = row
                print(config, {k: round(v["median"], 2) for k, v in row.items()}, flush=True)
        finally:
            if old:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--baseline", help="a git revision to compare with (e.g. HEAD before a change)")
    parser.add_argument("--configs", nargs="+", default=["mlp", "cnn", "gan"])
    args = parser.parse_args()
    os.environ.pop("PYTHONPATH", None)
    record("smoke_train", main(args.rounds, args.baseline, args.configs), rounds=args.rounds)
