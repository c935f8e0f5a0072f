"""Ludwig against mlcli on the shipped digits split: test accuracy and whole-process wall time.

Runs in Ludwig's own virtualenv (setup.sh); mlcli runs as `.venv/bin/python -m mlcli` from the
repository's environment, `configs/mlp_digits.yaml` (the same MLP as digits.yaml). Sides are separate
processes, alternated A B B A ...; the section `peer_ludwig` of results.json records both, with Ludwig's
and PyTorch's versions.

benchmarks/peer_ludwig/.venv/bin/python benchmarks/peer_ludwig/run.py [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import ROOT, abba, record, spread  # noqa: E402


def digits_frames():
    import numpy as np
    import pandas as pd

    with np.load(ROOT / "mlcli/data/shipped/digits.npz") as npz:
        frames = {}
        for split in ("train", "test"):
            x = npz[f"x_{split}"].reshape(len(npz[f"x_{split}"]), -1).astype("float32") / 255.0
            frame = pd.DataFrame(x, columns=[f"p{i}" for i in range(64)])
            frame["label"] = npz[f"y_{split}"].astype(str)
            frames[split] = frame
    return frames


def ludwig_once(seed: int) -> dict:
    """One Ludwig training in this process (the parent times the whole process)."""
    import yaml
    from ludwig.api import LudwigModel

    config = yaml.safe_load((HERE / "digits.yaml").read_text())
    config["input_features"] = [
        {"name": f"p{i}", "type": "number", "preprocessing": {"normalization": None}} for i in range(64)
    ]
    frames = digits_frames()
    train = frames["train"].sample(frac=1.0, random_state=seed)
    cut = int(len(train) * 0.9)
    with tempfile.TemporaryDirectory() as out:
        model = LudwigModel(config, logging_level=40)
        model.train(training_set=train[:cut], validation_set=train[cut:], output_directory=out, random_seed=seed,
                    skip_save_processed_input=True)  # fmt: skip
        predictions, _ = model.predict(frames["test"], output_directory=out)
    # counted here from the predicted labels, the way mlcli's side is scored (correct / test images)
    correct = (predictions["label_predictions"].astype(str).to_numpy() == frames["test"]["label"].to_numpy()).sum()
    return {"test_accuracy": float(correct) / len(frames["test"])}


def mlcli_side_versions() -> dict:
    """What mlcli ran on: its own virtualenv, not this one."""
    code = ("import json; from importlib import metadata as m; "
            "print(json.dumps({p: m.version(p) for p in ('mlcli', 'tensorflow', 'keras')}))")  # fmt: skip
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def side(name: str, seed: int) -> dict:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if name == "mlcli":
            cmd = [str(ROOT / ".venv/bin/python"), "-m", "mlcli", "train", "configs/mlp_digits.yaml", "--run-dir",
                   f"{tmp}/run", "--quiet", "--set", f"seed={seed}"]  # fmt: skip
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            result = {"test_accuracy": json.loads((Path(tmp) / "run/summary.json").read_text())["test"]["accuracy"]}
        else:
            # cwd: Ludwig drops a .lock_preprocessing file in the working directory
            cmd = [sys.executable, str(HERE / "run.py"), "--ludwig-once", str(seed)]
            out = subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
    return {**result, "wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--ludwig-once", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ludwig_once is not None:
        print(json.dumps(ludwig_once(args.ludwig_once)))
        return
    runs: dict[str, list[dict]] = {"mlcli": [], "ludwig": []}
    for r, order in enumerate(abba(["mlcli", "ludwig"], args.rounds)):
        for name in order:
            runs[name].append(side(name, 42 + r))
            print(name, runs[name][-1], flush=True)
    results = {
        name: {
            "test_accuracy": spread([x["test_accuracy"] for x in rows]),
            "wall_s": spread([x["wall_s"] for x in rows]),
        }
        for name, rows in runs.items()
    }
    results["wall_ratio_ludwig/mlcli"] = spread(
        [b["wall_s"] / a["wall_s"] for a, b in zip(runs["mlcli"], runs["ludwig"])]
    )
    results["mlcli_side_versions"] = mlcli_side_versions()
    results["configs"] = {"mlcli": "configs/mlp_digits.yaml", "ludwig": "benchmarks/peer_ludwig/digits.yaml"}
    record("peer_ludwig", results, rounds=args.rounds)


if __name__ == "__main__":
    main()
