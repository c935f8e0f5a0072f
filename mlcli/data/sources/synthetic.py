"""Generated data of a given shape and task, deterministic by seed, for smoke tests and benchmarks.

Each kind carries a learnable signal so a smoke run's loss really goes down.
"""

from __future__ import annotations

import numpy as np

from mlcli.config.data import SyntheticData
from mlcli.data.raw import RawData, split_fraction
from mlcli.data.sources.registry import SOURCES


def _images(cfg: SyntheticData, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape = tuple(cfg.shape) if len(cfg.shape) == 3 else (*cfg.shape[:2], 1)
    y = rng.integers(0, cfg.num_classes, cfg.num_samples).astype(np.int32)
    noise = rng.normal(0, 40, (cfg.num_samples, *shape))
    # class k brightens a band of rows whose position depends on k: visible to any conv net
    rows = np.arange(shape[0])[None, :, None, None]
    centre = (y[:, None, None, None] + 0.5) * shape[0] / cfg.num_classes
    signal = 120 * (np.abs(rows - centre) < max(1.0, shape[0] / (2 * cfg.num_classes)))
    x = np.clip(70 + signal + noise, 0, 255).astype(np.uint8)
    return x, y


def _tokens(cfg: SyntheticData, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length = cfg.shape[0]
    y = rng.integers(0, cfg.num_classes, cfg.num_samples).astype(np.int32)
    x = rng.integers(cfg.num_classes + 2, cfg.vocab_size, (cfg.num_samples, length))
    # each class plants its own marker token (id 2 + class) at a few random positions
    for i in range(cfg.num_samples):
        x[i, rng.choice(length, size=max(1, length // 8), replace=False)] = 2 + y[i]
    return x.astype(np.int32), y


def _regression(cfg: SyntheticData, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    features = cfg.shape[0]
    x = rng.normal(0, 1, (cfg.num_samples, features)).astype(np.float32)
    w = rng.normal(0, 1, features)
    y = (x @ w + 0.1 * rng.normal(0, 1, cfg.num_samples)).astype(np.float32)
    return x, y


@SOURCES.register("synthetic")
def load(cfg: SyntheticData, seed: int) -> RawData:
    rng = np.random.default_rng(seed)
    if cfg.kind == "sequences":
        t = np.arange(cfg.num_samples, dtype=np.float32)
        series = (10 + np.sin(2 * np.pi * t / 25) + 0.01 * t + 0.1 * rng.normal(0, 1, len(t))).astype(np.float32)
        n_test = int(len(series) * cfg.test_fraction)
        n_val = int(len(series) * cfg.val_fraction)
        n_train = len(series) - n_test - n_val
        return RawData(
            "series", "forecast", series[:n_train], series[n_train : n_train + n_val], series[n_train + n_val :]
        )
    make = {"images": _images, "tokens": _tokens, "regression": _regression}[cfg.kind]
    x, y = make(cfg, rng)
    (x, y), test = split_fraction(x, y, cfg.test_fraction, seed)
    train, val = split_fraction(x, y, cfg.val_fraction, seed + 1)
    if cfg.kind == "regression":
        return RawData("features", "regression", train, val, test)
    kind = "image" if cfg.kind == "images" else "tokens"
    return RawData(
        kind,
        "classification",
        train,
        val,
        test,
        class_names=[f"class_{i}" for i in range(cfg.num_classes)],
        vocab_size=cfg.vocab_size if kind == "tokens" else None,
    )
