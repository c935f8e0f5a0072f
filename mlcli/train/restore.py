"""Reopen a finished run: its config, data spec and a checkpoint, without refitting anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcli.errors import UserError
from mlcli.train import rundir


@dataclass
class Run:
    path: Path
    cfg: Any
    spec: Any


def open_run(run_dir: Path) -> Run:
    from mlcli.config import load_config
    from mlcli.data.spec import DataSpec

    run_dir = Path(run_dir)
    if not (run_dir / rundir.CONFIG_FILE).is_file():
        raise UserError(f"{run_dir}: not a run directory (no {rundir.CONFIG_FILE}); pass runs/<name>/<time>")
    if not (run_dir / rundir.SPEC_FILE).is_file():
        raise UserError(f"{run_dir}: run has no {rundir.SPEC_FILE}; it did not get far enough to train")
    return Run(run_dir, load_config(run_dir / rundir.CONFIG_FILE), DataSpec.load(run_dir / rundir.SPEC_FILE))


def checkpoint_path(run: Run, which: str) -> Path:
    if which in ("best", "last"):
        path = run.path / "checkpoints" / f"{which}.keras"
        if not path.is_file() and which == "best":
            path = run.path / "checkpoints" / "last.keras"
    else:
        path = Path(which)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint (choose --checkpoint best, last or a .keras file)")
    return path


def load_checkpoint(run: Run, which: str, verbose: bool = False):
    from mlcli.train.quiet import import_tensorflow

    import_tensorflow(verbose)
    import keras

    if run.cfg.model.type == "gan":
        from mlcli.models import gan as _gan  # noqa: F401  (registers GAN classes)
    from mlcli.models import layers as _layers  # noqa: F401  (registers custom layers)
    from mlcli.train import metrics as _metrics  # noqa: F401  (registers custom metrics/losses)

    path = checkpoint_path(run, which)
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot load checkpoint: {exc}") from None
