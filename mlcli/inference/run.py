"""Open a finished (or interrupted) run for evaluate / predict / sample / export, and load a checkpoint."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

import mlcli.models  # noqa: F401  (registers mlcli's Keras classes for deserialisation)
from mlcli import rundir
from mlcli.config import load_config
from mlcli.errors import UserError
from mlcli.spec import DataSpec


@dataclass
class Run:
    path: Path
    cfg: Any
    spec: DataSpec


def open_run(run_dir: Path) -> Run:
    run_dir = Path(run_dir)
    if not (run_dir / rundir.CONFIG_FILE).is_file():
        raise rundir.not_a_run_dir(run_dir, hint="; pass runs/<name>/<time>")
    if not (run_dir / rundir.SPEC_FILE).is_file():
        raise UserError(f"{run_dir}: run has no {rundir.SPEC_FILE}; it did not get far enough to train")
    return Run(run_dir, load_config(run_dir / rundir.CONFIG_FILE), DataSpec.load(run_dir / rundir.SPEC_FILE))


def checkpoint_path(run: Run, which: str) -> Path:
    if which in ("best", "last"):
        path = run.path / rundir.CHECKPOINTS / f"{which}.keras"
        if not path.is_file() and which == "best":
            path = run.path / rundir.CHECKPOINTS / "last.keras"
    else:
        path = Path(which)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint (choose --checkpoint best, last or a .keras file)")
    return path


def load_checkpoint(run: Run, which: str):
    """A run's checkpoint as a keras.Model (KerasHub's classes registered first for pretrained runs)."""
    if run.cfg.model.wraps_preprocessing:
        import keras_hub  # noqa: F401  (registers the KerasHub classes the checkpoint is made of)
    path = checkpoint_path(run, which)
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a Keras checkpoint (a .keras file is a zip archive; this one is truncated or "
                        "corrupt); try --checkpoint last, or the backup/ folder's model.keras")  # fmt: skip
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: cannot load checkpoint: {first}") from None
