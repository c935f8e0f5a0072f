"""How `training.steps_per_execution: auto` was chosen on CPU: samples/s for several values."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from mlcli.tfenv import import_tensorflow

import_tensorflow()
from mlcli.config import load_config  # noqa: E402
from mlcli.data import load_dataset  # noqa: E402
from mlcli.models import build_model  # noqa: E402
from mlcli.training.device import resolve  # noqa: E402
from mlcli.training.setup import compile_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"digits": ROOT / "configs/cnn_digits.yaml", "cifar-shaped": ROOT / "benchmarks/cifar_synthetic.yaml"}
VALUES = (1, 4, 8, 16, 32)


def rate(cfg, bundle, spe: int, repeats: int = 3) -> float:
    device = resolve(cfg.training)
    device.steps_per_execution = spe
    model = build_model(cfg, bundle.spec)
    compile_model(model, cfg, bundle.spec, int(bundle.train.cardinality()), device)
    model.fit(bundle.train, epochs=1, verbose=0)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(bundle.train, epochs=1, verbose=0)
        rates.append(bundle.spec.num_train / (time.perf_counter() - start))
    return statistics.median(rates)


def measure() -> dict:
    results = {}
    for name, path in CONFIGS.items():
        cfg = load_config(path)
        bundle = load_dataset(cfg)
        results[name] = {spe: rate(cfg, bundle, spe) for spe in VALUES}
        print(name, {k: round(v) for k, v in results[name].items()}, flush=True)
    return results


if __name__ == "__main__":
    measure()
