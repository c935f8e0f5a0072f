"""Where each `auto` comes from: mlcli on the seed CNNs with one setting varied, through the real CLI.

- `training.jit_compile`: XLA on against off (the CPU `auto` is off, as in Keras' own rule).
- `training.steps_per_execution`: 1, 8 and 32 (the CPU `auto` is 8: it was 32 until this table).
- threads: TensorFlow's defaults against one inter-op thread (TF_NUM_INTEROP_THREADS=1).
- oneDNN: mlcli sets TF_ENABLE_ONEDNN_OPTS=1 unless the environment says otherwise; against =0.
- `training.mixed_precision`: float32 (the CPU `auto`) against mixed_bfloat16.
Each setting is its own section of results.json (`autos:SETTING`), so one can be remeasured alone.
Each variant is a separate `mlcli train` process, timed from outside as in bench_vs_keras.py; variants
alternate A B C, C B A, ...; ratios to the current `auto` are per round, median and min–max.

python benchmarks/bench_autos.py [--rounds 3] [--epochs 3]
    [--only jit_compile,steps_per_execution,threads,oneDNN,mixed_precision]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import abba, record, spread, timed

CONFIGS = {
    "mnist-shaped": "benchmarks/configs/mnist_shaped.yaml",
    "cifar-shaped": "benchmarks/configs/cifar_shaped.yaml",
}
# variant -> (--set overrides, environment); the first of each is what `auto` picks on CPU
SETTINGS = {
    "jit_compile": {"off (auto)": (["training.jit_compile=false"], {}), "on": (["training.jit_compile=true"], {})},
    "steps_per_execution": {
        "8 (auto)": (["training.steps_per_execution=8"], {}),
        "32": (["training.steps_per_execution=32"], {}),
        "1": (["training.steps_per_execution=1"], {}),
    },
    "threads": {"TensorFlow defaults (auto)": ([], {}), "inter_op=1": ([], {"TF_NUM_INTEROP_THREADS": "1"})},
    "oneDNN": {"forced on (mlcli)": ([], {}), "TF_ENABLE_ONEDNN_OPTS=0": ([], {"TF_ENABLE_ONEDNN_OPTS": "0"})},
    "mixed_precision": {  # bfloat16 compute: fast only on CPUs with AMX or AVX512_BF16 (oneDNN's bf16 kernels)
        "float32 (auto on CPU)": (["training.mixed_precision=false"], {}),
        "mixed_bfloat16": (["training.mixed_precision=true"], {}),
    },
}


def measure(only: list[str], rounds: int, epochs: int, settings: dict = SETTINGS, configs: dict = CONFIGS) -> dict:
    results: dict = {}
    for setting in only:
        if setting not in settings:
            raise SystemExit(f"unknown setting {setting!r}; choose from {', '.join(settings)}")
        variants = settings[setting]
        for case, config in configs.items():
            rates: dict[str, list[float]] = {v: [] for v in variants}
            walls: dict[str, list[float]] = {v: [] for v in variants}
            for order in abba(list(variants), rounds):
                for variant in order:
                    sets, env = variants[variant]
                    with tempfile.TemporaryDirectory() as tmp:
                        args = [a for s in [*sets, f"training.epochs={epochs}"] for a in ("--set", s)]
                        result = timed([sys.executable, "-m", "mlcli", "train", config, "--run-dir", f"{tmp}/run",
                                        *args], env=env)  # fmt: skip
                        train = json.loads((Path(tmp) / "run" / "data_spec.json").read_text())["num_train"]
                    rates[variant].append(result.rate(train))
                    walls[variant].append(result.wall_s)
                    print(f"{setting} {case} {variant}: {rates[variant][-1]:,.0f} samples/s", flush=True)
            auto = next(iter(variants))
            results.setdefault(setting, {})[case] = {
                variant: {
                    "samples_per_s": spread(rates[variant]),
                    "wall_s": spread(walls[variant]),
                    "rate_vs_auto": spread([a / b for a, b in zip(rates[variant], rates[auto])]),
                }
                for variant in variants
            }
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only", default=",".join(SETTINGS))
    args = parser.parse_args()
    for setting, cases in measure(args.only.split(","), args.rounds, args.epochs).items():
        record(f"autos:{setting}", {setting: cases}, rounds=args.rounds, replaces=("autos",))
