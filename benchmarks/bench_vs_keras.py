"""mlcli against Keras written by hand, on the seed tutorials' CNNs: throughput, wall time, memory,
and efficiency against the machine.

Sides, each its own process: `mlcli train` with its defaults (checkpoints and TensorBoard on),
baselines/tutorial.py (NumPy arrays into `fit`, as the tutorials write it) and baselines/expert.py
(tf.data, steps_per_execution). Every side prints `epoch K` when an epoch is done; this script stamps
those lines from outside, so throughput = samples × (N−1) / (end of epoch N − end of epoch 1) means
the same for all: training, validation and whatever the program writes per epoch. Sides alternate
A B C, C B A, ...; ratios are per round, reported as median and min–max.

Each case runs at every batch size asked (default 32, Keras' default and the tutorials', and 128).

python benchmarks/bench_vs_keras.py [--rounds 6] [--epochs 4] [--cases mnist-shaped,cifar-shaped] [--batch-sizes 32,128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from common import ROOT, abba, record, spread, timed

CASES = {  # bench config, the seed config whose model it must be, the baselines' model name
    "mnist-shaped": ("benchmarks/configs/mnist_shaped.yaml", "configs/cnn_mnist.yaml", "mnist"),
    "cifar-shaped": ("benchmarks/configs/cifar_shaped.yaml", "configs/cnn_cifar10.yaml", "cifar"),
}
SIDES = ["mlcli", "tutorial", "expert"]


def same_model(bench: str, seed: str, keys: tuple = ("model", "optimizer")) -> dict:
    """The benchmark config trains the seed config's model with its optimizer, or the table lies."""
    a, b = (yaml.safe_load((ROOT / p).read_text()) for p in (bench, seed))
    for key in keys:
        if a[key] != b[key]:
            raise SystemExit(f"{bench}: {key} differs from {seed}")
    return a


def split_sizes(run: Path) -> tuple[int, int]:
    spec = json.loads((run / "data_spec.json").read_text())
    return spec["num_train"], spec["num_val"]


def machine_peak() -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/machine_peak.py")], capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def label(case: str, batch: int) -> str:
    return f"{case}, batch {batch}"


def measure(cases: list[str], rounds: int, epochs: int, batch_sizes: list[int]) -> dict:
    peaks = [machine_peak()]
    results = {}
    for case, batch in [(c, b) for c in cases for b in batch_sizes]:
        name = label(case, batch)
        bench, seed, model = CASES[case]
        cfg = same_model(bench, seed)
        sizes: tuple[int, int] | None = None
        runs: dict[str, list] = {side: [] for side in SIDES}
        for order in abba(SIDES, rounds):
            for side in order:
                with tempfile.TemporaryDirectory() as tmp:
                    if side == "mlcli":
                        cmd = [sys.executable, "-m", "mlcli", "train", bench, "--run-dir", f"{tmp}/run",
                               "--set", f"training.epochs={epochs}", "--set", f"data.batch_size={batch}"]  # fmt: skip
                    else:
                        if sizes is None:
                            raise SystemExit("the first side of the first round must be mlcli (it gives the splits)")
                        cmd = [sys.executable, f"benchmarks/baselines/{side}.py", "--model", model,
                               "--train", str(sizes[0]), "--val", str(sizes[1]), "--epochs", str(epochs),
                               "--batch-size", str(batch), "--seed", str(cfg["seed"])]  # fmt: skip
                    result = timed(cmd)
                    if side == "mlcli":
                        sizes = split_sizes(Path(tmp) / "run")
                runs[side].append(result)
                print(f"{name} {side}: {result.rate(sizes[0]):,.0f} samples/s, {result.wall_s:.1f} s", flush=True)
        rate = {s: [r.rate(sizes[0]) for r in runs[s]] for s in SIDES}
        wall = {s: [r.wall_s for r in runs[s]] for s in SIDES}
        results[name] = {
            "case": case,
            "batch_size": batch,
            "train_samples": sizes[0],
            "val_samples": sizes[1],
            "epochs": epochs,
            "samples_per_s": {s: spread(rate[s]) for s in SIDES},
            "wall_s": {s: spread(wall[s]) for s in SIDES},
            "peak_rss_mib": {s: spread([r.peak_rss_mib for r in runs[s]]) for s in SIDES},
            "throughput_ratio": {
                f"mlcli/{s}": spread([a / b for a, b in zip(rate["mlcli"], rate[s])]) for s in SIDES[1:]
            },
            "wall_speedup": {f"{s}/mlcli": spread([b / a for a, b in zip(wall["mlcli"], wall[s])]) for s in SIDES[1:]},
        }
        print(name, json.dumps(results[name]["throughput_ratio"]), json.dumps(results[name]["wall_speedup"]))
    peaks.append(machine_peak())
    matmul = statistics.median(p["matmul_gflops"] for p in peaks)
    for name in [n for n in results if n != "matmul_gflops_runs"]:
        flops = peaks[0]["train_flops_per_sample"][CASES[results[name]["case"]][2]]
        achieved = {s: flops * results[name]["samples_per_s"][s]["median"] / 1e9 for s in SIDES}
        results[name]["efficiency"] = {
            "train_flops_per_sample": flops,
            "achieved_gflops": achieved,
            "matmul_gflops": matmul,
            "fraction_of_matmul": {s: g / matmul for s, g in achieved.items()},
        }
    results["matmul_gflops_runs"] = [p["matmul_gflops"] for p in peaks]
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--batch-sizes", default="32,128")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    record("vs_keras", measure(args.cases.split(","), args.rounds, args.epochs, sizes), rounds=args.rounds)
