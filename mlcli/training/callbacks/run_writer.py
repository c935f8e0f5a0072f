"""Every epoch end: commit the resume checkpoint, then derive best/last checkpoints and metrics.csv.

The checkpoint (`mlcli.training.checkpoint`) is the one source of truth and is written first, in
one atomic step; `best.keras`, `last.keras` and `metrics.csv` are copies of it, so a SIGKILL at
any moment leaves a state that `--resume` continues exactly (it re-derives the copies).
The monitor is checked before training starts and must be in the logs: it never falls back.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras

from mlcli.metrics import improved
from mlcli.training import checkpoint, signals


def _finite(logs: dict) -> bool:
    return all(math.isfinite(float(v)) for v in (logs or {}).values() if isinstance(v, (int, float)))


def metrics_row(epoch: int, logs: dict) -> dict:
    return {
        "epoch": epoch + 1,
        **{k: f"{float(v):.6g}" for k, v in logs.items() if isinstance(v, (int, float)) and k != "samples_per_sec"},
    }


class RunWriter(keras.callbacks.Callback):
    """Best/last checkpoints, resume state and metrics.csv for one run directory.

    `monitor` None (a GAN's `auto`) makes the best checkpoint the last epoch.
    """

    def __init__(
        self,
        run_dir: Path,
        monitor: str | None,
        mode: str,
        state: dict | None,
        stateful: list,
        early_stopping=None,
        min_delta: float = 0.0,
    ):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.monitor, self.mode, self.min_delta = monitor, mode, min_delta
        state = state or {}
        self.rows: list[dict] = list(state.get("rows", []))
        self.best = state.get("best")
        self.best_epoch: int | None = state.get("best_epoch")
        self.stateful = stateful
        self.early_stopping = early_stopping
        self.skipped_nan = False
        self.last_improvement: dict | None = None  # what the progress display announces

    def _improved(self, value: float | None) -> bool:
        if self.monitor is None:  # a GAN's `auto`: the newest epoch is the best
            return True
        return improved(value, self.best, self.mode, self.min_delta)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not _finite({k: v for k, v in logs.items() if k != "samples_per_sec"}):
            self.skipped_nan = True  # never overwrite a good checkpoint with NaN weights
            self.last_improvement = None
            return
        value = None
        if self.monitor is not None:
            if self.monitor not in logs:
                raise KeyError(f"checkpoint monitor {self.monitor!r} is missing from the logs: {sorted(logs)}")
            value = float(logs[self.monitor])
        is_best = self._improved(value)
        self.last_improvement = None
        if is_best:
            if self.monitor is not None:
                self.last_improvement = {"monitor": self.monitor, "before": self.best, "value": value,
                                         "epoch": epoch + 1}  # fmt: skip
            self.best, self.best_epoch = value, epoch + 1
        self.rows.append(metrics_row(epoch, logs))
        es = self.early_stopping
        state = {
            "epoch": epoch + 1,
            "monitor": self.monitor,
            "mode": self.mode,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped": bool(self.model.stop_training),
            "rows": self.rows,
            "callbacks": {c.key: c.state() for c in self.stateful},
        }
        es_weights = es.best_weights if es is not None and es.restore_best_weights else None
        with signals.held():  # an interrupt here would leave the backup ahead of metrics.csv and best.keras
            folder = checkpoint.write(self.run_dir, self.model, state, es_weights)
            checkpoint.publish(self.run_dir, {**state, "_dir": str(folder)}, is_best)
