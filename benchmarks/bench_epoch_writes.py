"""What mlcli writes at every epoch end, timed alone: the resume folder (model.keras with optimizer state,
RNG states, state.json), last.keras and best.keras, metrics.csv, each fsynced and renamed.

The expert Keras script writes nothing per epoch, so this is the part of an epoch mlcli spends on
never losing work; bench_vs_keras.py's throughput includes it. The models are the seed CNNs of
benchmarks/configs/, compiled and trained for a few steps so the optimizer state is there to save.

python benchmarks/bench_epoch_writes.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import ROOT, record, spread

CASES = {"mnist-shaped": "benchmarks/configs/mnist_shaped.yaml", "cifar-shaped": "benchmarks/configs/cifar_shaped.yaml"}


def measure(config: str, rounds: int) -> dict:
    from mlcli.config import load_config
    from mlcli.data import load_dataset
    from mlcli.models import build_model
    from mlcli.training import checkpoint
    from mlcli.training.components import compile_model
    from mlcli.training.device import resolve

    cfg = load_config(ROOT / config)
    bundle = load_dataset(cfg)
    device = resolve(cfg.training)
    model = build_model(cfg, bundle.spec)
    compile_model(model, cfg, bundle.spec, int(bundle.train.cardinality()), device)
    model.fit(bundle.train.take(device.steps_per_execution), epochs=1, verbose=0)
    seconds, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        for epoch in range(1, rounds + 1):
            rows.append({"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.0 / epoch})
            state = {"epoch": epoch, "monitor": "val_loss", "mode": "min", "best": 1.0 / epoch, "best_epoch": epoch,
                     "stopped": False, "rows": rows, "callbacks": {}}  # fmt: skip
            start = time.perf_counter()
            folder = checkpoint.write(run, model, state, None)
            checkpoint.publish(run, {**state, "_dir": str(folder)}, improved=True)  # the costlier case: both copies
            seconds.append(time.perf_counter() - start)
        size = (folder / checkpoint.MODEL).stat().st_size
    return {"ms_per_epoch": spread([s * 1000 for s in seconds]), "model_keras_mib": size / 2**20,
            "parameters": model.count_params(), "config": config}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    from mlcli.tfenv import import_tensorflow

    import_tensorflow()
    results = {}
    for name, config in CASES.items():
        results[name] = measure(config, args.rounds)
        r = results[name]
        print(f"{name}: {r['ms_per_epoch']['median']:.0f} ms per epoch end (min {r['ms_per_epoch']['min']:.0f}, "
              f"max {r['ms_per_epoch']['max']:.0f}); model.keras {r['model_keras_mib']:.1f} MiB")  # fmt: skip
    record("epoch_writes", results, rounds=args.rounds)


if __name__ == "__main__":
    main()
