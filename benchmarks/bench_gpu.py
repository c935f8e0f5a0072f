"""`make bench-gpu`: the CPU tables again on a machine with one CUDA GPU, mixed precision on and off,
and the ResNet-9 recipe's time per epoch on CIFAR-shaped data. Where no GPU is visible it says so
and measures nothing (results.json is left as it is).

python benchmarks/bench_gpu.py [--rounds 6] [--epochs 4] [--even-without-gpu: run it on CPU, to check the script]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile

import bench_autos
import bench_vs_keras
from common import record, spread, timed

RESNET = ("benchmarks/configs/resnet_cifar_shaped.yaml", "configs/resnet_cifar10.yaml")
PRECISION = {
    "mixed_precision": {
        "auto (on)": (["training.mixed_precision=auto"], {}),
        "off": (["training.mixed_precision=false"], {}),
    },
    "jit_compile": {"auto (on)": (["training.jit_compile=auto"], {}), "off": (["training.jit_compile=false"], {})},
}


def gpus() -> list[str]:
    """The GPUs TensorFlow sees, asked in a child process so this one stays light."""
    code = "import tensorflow as tf; print('\\n'.join(d.name for d in tf.config.list_physical_devices('GPU')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line.strip()]


def resnet_epoch_seconds(rounds: int, epochs: int, sets: list[str]) -> dict:
    bench_vs_keras.same_model(*RESNET, keys=("model", "optimizer", "training"))
    per_round = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            args = [a for s in [*sets, f"training.epochs={epochs}"] for a in ("--set", s)]
            result = timed([sys.executable, "-m", "mlcli", "train", RESNET[0], "--run-dir", f"{tmp}/run", *args])
        ends = [result.epoch_ends[e] for e in sorted(result.epoch_ends)]
        per_round.append(statistics.median(b - a for a, b in zip(ends, ends[1:])))
        print(f"resnet {sets}: {per_round[-1]:.1f} s per epoch", flush=True)
    return spread(per_round)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--even-without-gpu", action="store_true")
    args = parser.parse_args()
    found = gpus()
    if not found and not args.even_without_gpu:
        print("no CUDA GPU visible to TensorFlow here: nothing measured, benchmarks/results.json unchanged. "
              "Run `make bench-gpu` on a machine with one.")  # fmt: skip
        return
    print(f"GPUs: {', '.join(found) or 'none (--even-without-gpu: CPU)'}", flush=True)
    prefix = "gpu" if found else "gpu_script_check_on_cpu"
    # without a GPU (a check of this script) only the small case runs, and the ResNet on 1,200 images
    cases = list(bench_vs_keras.CASES) if found else ["mnist-shaped"]
    small = [] if found else ["data.num_samples=1200"]
    rounds = max(2, args.rounds // 2)
    record(f"{prefix}_vs_keras", bench_vs_keras.measure(cases, args.rounds, args.epochs), rounds=args.rounds)
    configs = {c: bench_autos.CONFIGS[c] for c in cases}
    record(f"{prefix}_precision", bench_autos.measure(list(PRECISION), rounds, args.epochs, PRECISION, configs),
           rounds=rounds)  # fmt: skip
    resnet = {
        "mixed precision auto (on)": resnet_epoch_seconds(rounds, args.epochs, small),
        "mixed precision off": resnet_epoch_seconds(rounds, args.epochs, [*small, "training.mixed_precision=false"]),
    }
    record(f"{prefix}_resnet9_epoch_s", resnet, rounds=max(2, args.rounds // 2))


if __name__ == "__main__":
    main()
