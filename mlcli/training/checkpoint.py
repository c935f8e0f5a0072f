"""The resume checkpoint: one atomic folder per epoch with everything needed to continue exactly.

`backup/epoch-NNNNNN/` holds `model.keras` (weights, optimizer, iterations, learning rate),
`rng.npz` (every Keras SeedGenerator's state: dropout, GAN latents), `state.json` (epoch, best
value and epoch, early-stopping and plateau counters, Python and NumPy RNG states, the metrics.csv
rows so far) and, when early stopping restores best weights, `early_stopping_best.weights.h5`.
The folder is written under a temp name, fsynced and renamed, so it exists whole or not at all;
the data order needs no saving, since each epoch's order is a function of (seed, epoch).
The last `KEEP` folders are kept: multi-worker resume may need the one before the newest.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import keras
import numpy as np

from mlcli.fileio import atomic_link, atomic_write, fsync_dir, remove_tree
from mlcli.rundir import BACKUP_DIR, CHECKPOINTS, backup_dirs, epochs_saved, read_state, write_metrics

KEEP = 2
MODEL = "model.keras"
STATE = "state.json"
RNG = "rng.npz"
ES_BEST = "early_stopping_best.weights.h5"


def crash_point(name: str, epoch: int) -> None:
    """Fault injection for the resume tests: MLCLI_CRASH_AT=name:epoch sends this process SIGKILL,
    name:epoch:SIGNAL (e.g. after_backup:2:SIGTERM) that signal."""
    point, _, how = os.environ.get("MLCLI_CRASH_AT", "").partition(":")
    at, _, sig = how.partition(":")
    if (point, at) == (name, str(epoch)):
        import signal

        os.kill(os.getpid(), signal.Signals[sig] if sig else signal.SIGKILL)


def _seed_generators(model: keras.Model) -> dict[str, Any]:
    """Every SeedGenerator's state, keyed by the layer's position in the model: layer paths repeat
    inside KerasHub blocks (each transformer layer has a `feedforward_dropout`), positions do not."""
    out = {}
    for n, layer in enumerate(model._flatten_layers(include_self=True, recursive=True)):
        for i, generator in enumerate(getattr(layer, "_seed_generators", [])):
            out[f"{n:04d}.{layer.name}.{i}"] = generator.state
    return out


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _numpy_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"kind": kind, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "cached": cached}


def write(run_dir: Path, model: keras.Model, state: dict, es_best_weights: list | None) -> Path:
    """Commit epoch `state['epoch']` atomically, then prune older folders."""
    run_dir = Path(run_dir)
    epoch = int(state["epoch"])
    target = run_dir / BACKUP_DIR / f"epoch-{epoch:06d}"
    state = {**state, "python_random": _python_state(), "numpy_random": _numpy_state()}

    def fill(tmp: Path) -> None:
        tmp.mkdir()
        model.save(tmp / MODEL)
        np.savez(tmp / RNG, **{k: np.asarray(v.numpy()) for k, v in _seed_generators(model).items()})
        if es_best_weights is not None:
            _save_weight_list(tmp / ES_BEST, es_best_weights)
        (tmp / STATE).write_text(json.dumps(state, indent=1, default=float) + "\n", encoding="utf-8")

    atomic_write(target, fill, suffix="")
    crash_point("after_backup", epoch)
    for old in backup_dirs(run_dir)[:-KEEP]:
        remove_tree(old)
    fsync_dir(run_dir / BACKUP_DIR)
    return target


def _save_weight_list(path: Path, weights: list) -> None:
    with open(path, "wb") as fh:  # an open file keeps numpy from appending ".npz" to the name
        np.savez(fh, *weights)


def load_weight_list(path: Path) -> list:
    with np.load(path, allow_pickle=False) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def restore(model: keras.Model, state: dict) -> list | None:
    """Load a committed epoch into a compiled model: weights, optimizer, seeds, Python/NumPy RNGs.

    Returns the early-stopping best weights when that epoch saved them.
    """
    folder = Path(state["_dir"])
    model.load_weights(folder / MODEL)
    generators = _seed_generators(model)
    with np.load(folder / RNG) as saved:
        for key, variable in generators.items():
            if key in saved.files:
                variable.assign(saved[key])
    version, internal, gauss = state["python_random"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy_random"]
    np.random.set_state((n["kind"], np.array(n["keys"], np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    es_path = folder / ES_BEST
    return load_weight_list(es_path) if es_path.is_file() else None


def publish(run_dir: Path, state: dict, improved: bool) -> None:
    """Derive the user-facing files from a committed epoch: last.keras, best.keras, metrics.csv."""
    run_dir = Path(run_dir)
    folder = Path(state["_dir"]) if "_dir" in state else run_dir / BACKUP_DIR / f"epoch-{int(state['epoch']):06d}"
    checkpoints = run_dir / CHECKPOINTS
    if improved:  # hard links to the committed epoch's model: mlcli never writes a file in place
        atomic_link(folder / MODEL, checkpoints / "best.keras")
        crash_point("after_best", int(state["epoch"]))
    atomic_link(folder / MODEL, checkpoints / "last.keras")
    crash_point("after_last", int(state["epoch"]))
    write_metrics(run_dir, state["rows"])
    crash_point("after_metrics", int(state["epoch"]))


__all__ = ["BACKUP_DIR", "backup_dirs", "epochs_saved", "read_state", "write", "restore", "publish"]
