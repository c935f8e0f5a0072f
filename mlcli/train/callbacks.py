"""Callbacks that write the run directory: checkpoints, resume state, metrics.csv, NaN guard.

Every epoch end writes `checkpoints/last.keras` (model + optimizer), `backup/state.json` and
`metrics.csv`, each atomically, in that order; resume truncates metrics.csv to the state's epoch,
so a SIGKILL anywhere still leaves every epoch in metrics.csv exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import keras

from mlcli.train.rundir import atomic_write, atomic_write_json, atomic_write_text

METRICS_FILE = "metrics.csv"
STATE_FILE = "backup/state.json"


def _finite(logs: dict) -> bool:
    return all(math.isfinite(float(v)) for v in (logs or {}).values() if isinstance(v, (int, float)))


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def write_metrics(run_dir: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(run_dir) / METRICS_FILE, buf.getvalue())


def read_state(run_dir: Path) -> dict | None:
    path = Path(run_dir) / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def save_model(model: keras.Model, path: Path) -> None:
    atomic_write(path, lambda tmp: model.save(tmp), suffix=".keras")


class RunWriter(keras.callbacks.Callback):
    """Best/last checkpoints, resume state and metrics.csv, written atomically every epoch."""

    def __init__(
        self, run_dir: Path, monitor: str, mode: str, rows: list[dict], best: float | None = None, extra_state=None
    ):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.monitor, self.rows = monitor, rows
        self.mode = (
            mode
            if mode != "auto"
            else ("max" if any(k in monitor for k in ("acc", "f1", "precision", "recall", "top_k")) else "min")
        )
        self.best = best
        self.best_epoch: int | None = None
        self.extra_state = extra_state or (lambda: {})
        self.skipped_nan = False

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not _finite({k: v for k, v in logs.items() if k != "samples_per_sec"}):
            self.skipped_nan = True  # never overwrite a good checkpoint with NaN weights
            return
        value = logs.get(self.monitor, logs.get("loss"))
        checkpoints = self.run_dir / "checkpoints"
        save_model(self.model, checkpoints / "last.keras")
        if value is None or self._improved(float(value)):  # no monitor (GANs): best tracks last
            self.best, self.best_epoch = (None if value is None else float(value)), epoch
            atomic_write(checkpoints / "best.keras", lambda tmp: shutil.copyfile(checkpoints / "last.keras", tmp))
        row = {
            "epoch": epoch + 1,
            **{k: f"{float(v):.6g}" for k, v in logs.items() if isinstance(v, (int, float)) and k != "samples_per_sec"},
        }
        self.rows.append(row)
        write_metrics(self.run_dir, self.rows)
        atomic_write_json(
            self.run_dir / STATE_FILE,
            {
                "epoch": epoch + 1,
                "monitor": self.monitor,
                "mode": self.mode,
                "best": self.best,
                "best_epoch": (self.best_epoch + 1) if self.best_epoch is not None else None,
                **self.extra_state(),
            },
        )


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where it happened."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.where: str | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key in ("loss", "d_loss", "g_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                self.where = f"{key} became {float(value)} at epoch {self.epoch + 1}, step {batch + 1}"
                self.model.stop_training = True
                return


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose patience counter and best value survive a resume."""

    def __init__(self, restored: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.restored = restored or {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if "early_stopping_best" in self.restored:
            self.best = self.restored["early_stopping_best"]
            self.wait = self.restored.get("early_stopping_wait", 0)

    def state(self) -> dict:
        best = self.best
        return {
            "early_stopping_best": None if best is None or not math.isfinite(best) else float(best),
            "early_stopping_wait": int(self.wait),
        }
