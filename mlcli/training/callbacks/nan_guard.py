"""Stop at the first non-finite loss and remember where, so the run fails with a clear message."""

from __future__ import annotations

import math
from pathlib import Path

import keras

from mlcli.errors import TrainingFailed


class NanGuard(keras.callbacks.Callback):
    # Keras runs batch hooks in a thread when every callback allows it, so a step chunk's end does not
    # wait for its logs; epoch ends wait for them, so a NaN still stops the run before its checkpoint.
    async_safe = True

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
                # with steps_per_execution, Keras numbers a chunk by its would-be last step, which for an
                # epoch's final, shorter chunk lies past the epoch's end
                step = min(batch + 1, (self.params or {}).get("steps") or batch + 1)
                self.where = f"{key} became {float(value)} at epoch {self.epoch + 1}, step {step}"
                self.model.stop_training = True
                return

    def stop_reason(self) -> dict | None:
        return {"reason": "nan", "epoch": self.epoch + 1, "message": self.where} if self.where else None

    def raise_if_stopped(self, checkpoints: Path) -> None:
        """The run's failure, with what to change, once training has returned."""
        if self.where:
            kept = (
                f"the last good epoch's checkpoints are kept in {checkpoints}"
                if (checkpoints / "last.keras").is_file()
                else "no epoch finished, so there is no checkpoint to keep"
            )
            raise TrainingFailed(
                f"training stopped: {self.where}; lower optimizer.learning_rate or add optimizer.clipnorm; {kept}"
            )
