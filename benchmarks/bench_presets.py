"""What the offline presets reach, through the real CLI: the numbers of README's preset table.

- configs/cnn_digits.yaml (`make train`) over seeds 42.. : test accuracy and whole-command wall time;
- configs/mlp_digits.yaml: test accuracy, wall;
- configs/lstm_co2.yaml: test RMSE in ppm against the naive last-value forecast, wall;
- configs/gan_digits.yaml: wall, and `mlcli evaluate`'s quality score, next to a 1-epoch run of it.

python benchmarks/bench_presets.py [--seeds 4] [--skip-gan]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, record, spread, timed


def train(config: str, run: Path, *sets: str) -> tuple[dict, float]:
    args = [a for s in sets for a in ("--set", s)]
    result = timed([sys.executable, "-m", "mlcli", "train", config, "--run-dir", str(run), "--quiet", *args])
    return json.loads((run / "summary.json").read_text()), result.wall_s


def evaluate(run: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "mlcli", "evaluate", str(run), "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout[out.stdout.index("{") :])


def measure(seeds: int, gan: bool) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows = [train("configs/cnn_digits.yaml", Path(tmp) / f"cnn{s}", f"seed={s}") for s in range(42, 42 + seeds)]
        results["cnn_digits"] = {
            "seeds": list(range(42, 42 + seeds)),
            "test_accuracy": spread([r[0]["test"]["accuracy"] for r in rows]),
            "wall_s": spread([r[1] for r in rows]),
        }
        summary, wall = train("configs/mlp_digits.yaml", Path(tmp) / "mlp")
        results["mlp_digits"] = {"test_accuracy": summary["test"]["accuracy"], "wall_s": wall}
        summary, wall = train("configs/lstm_co2.yaml", Path(tmp) / "lstm")
        test = summary["test"]
        results["lstm_co2"] = {
            "test_rmse_ppm": test["rmse"],  # summary.json scores a forecast in the series' units
            "naive_last_value_rmse_ppm": test["naive_last_value_rmse"],
            "skill_vs_naive": test["skill_vs_naive"],
            "wall_s": wall,
        }
        if gan:
            _, wall = train("configs/gan_digits.yaml", Path(tmp) / "gan")
            _, short = train("configs/gan_digits.yaml", Path(tmp) / "gan1", "training.epochs=1")
            results["gan_digits"] = {"wall_s": wall, "quality": evaluate(Path(tmp) / "gan"),
                                     "quality_after_1_epoch": evaluate(Path(tmp) / "gan1")}  # fmt: skip
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--skip-gan", action="store_true")
    args = parser.parse_args()
    record("presets", measure(args.seeds, not args.skip_gan), rounds=args.seeds)
