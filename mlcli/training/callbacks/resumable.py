"""Keras' EarlyStopping and ReduceLROnPlateau, with counters that survive a resume.

Both get an explicit monitor and mode from `mlcli.config.monitors` (never guessed); `state()` goes
into the epoch checkpoint and `restored` brings it back before the first resumed epoch.
"""

from __future__ import annotations

import math

import keras


def _plain(value) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    key = "early_stopping"

    def __init__(self, restored: dict | None = None, best_weights: list | None = None, **kwargs):
        super().__init__(**kwargs)
        self.restored = restored or {}
        self.restored_weights = best_weights

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restored:
            self.best = self.restored["best"]
            self.wait = self.restored["wait"]
            self.best_epoch = self.restored["best_epoch"]
            self.best_weights = self.restored_weights

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get(self.monitor) is None:
            raise KeyError(f"early stopping monitor {self.monitor!r} is missing from the logs: {sorted(logs or {})}")
        super().on_epoch_end(epoch, logs)

    def state(self) -> dict:
        return {"best": _plain(self.best), "wait": int(self.wait), "best_epoch": int(self.best_epoch)}

    def stop_reason(self) -> dict | None:
        """Why training stopped, when this callback stopped it (summary.json, the last line on screen)."""
        if not self.stopped_epoch:
            return None
        best = _plain(self.best)
        return {
            "reason": "early_stopping",
            "epoch": int(self.stopped_epoch) + 1,
            "message": f"{self.monitor} did not improve by more than {abs(self.min_delta):g} for {self.patience} "
            f"epochs (best {best:.4g} at epoch {int(self.best_epoch) + 1})" if best is not None else
            f"{self.monitor} did not improve for {self.patience} epochs",
        }  # fmt: skip


class ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
    """The learning rate itself lives in the optimizer (saved with the model); counters live here."""

    key = "reduce_lr_on_plateau"

    def __init__(self, restored: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.restored = restored or {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restored:
            self.best = self.restored["best"]
            self.wait = self.restored["wait"]
            self.cooldown_counter = self.restored["cooldown_counter"]

    def state(self) -> dict:
        return {"best": _plain(self.best), "wait": int(self.wait), "cooldown_counter": int(self.cooldown_counter)}
