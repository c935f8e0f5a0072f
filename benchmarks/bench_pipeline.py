"""The input pipeline alone vs the training step: the pipeline must deliver batches >= 10x faster.

For each config: batches/s of iterating the training tf.data pipeline alone (after one warm epoch,
which fills the cache), and batches/s the training step consumes (model.fit on the same pipeline).

python benchmarks/bench_pipeline.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from mlcli.tfenv import import_tensorflow

import_tensorflow()
from mlcli.config import load_config  # noqa: E402
from mlcli.data import load_dataset  # noqa: E402
from mlcli.models import build_model  # noqa: E402
from mlcli.training.components import compile_model  # noqa: E402
from mlcli.training.device import resolve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"digits": ROOT / "configs/cnn_digits.yaml", "cifar-shaped": ROOT / "benchmarks/configs/cifar_shaped.yaml"}


def pipeline_rate(dataset, epochs: int = 5) -> float:
    for _ in dataset:  # warm: fills the cache
        pass
    rates = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for _ in dataset:
            n += 1
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def step_rate(cfg, bundle, epochs: int = 3) -> float:
    model = build_model(cfg, bundle.spec)
    steps = int(bundle.train.cardinality())
    compile_model(model, cfg, bundle.spec, steps, resolve(cfg.training))
    model.fit(bundle.train, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(bundle.train, epochs=epochs, verbose=0)
    return steps * epochs / (time.perf_counter() - start)


def measure() -> dict:
    results = {}
    for name, path in CONFIGS.items():
        cfg = load_config(path)
        bundle = load_dataset(cfg)
        supply, demand = pipeline_rate(bundle.train), step_rate(cfg, bundle)
        results[name] = {"pipeline_batches_per_s": supply, "train_batches_per_s": demand, "ratio": supply / demand}
        print(name, results[name], flush=True)
    return results


if __name__ == "__main__":
    from common import record

    record("pipeline", measure())
