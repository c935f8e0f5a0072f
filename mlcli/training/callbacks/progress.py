"""Progress display: a Rich epoch + step bar with live metrics, or one plain line per epoch.

Modelled on keras' ProgbarLogger: `set_params` gives epochs and steps; unknown step counts are
allowed; validation batches inside `fit` stay quiet.
"""

from __future__ import annotations

import math
import sys
import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _fmt(logs: dict, keys: list[str] | None = None) -> str:
    parts = []
    for k, v in (logs or {}).items():
        if keys is not None and k not in keys:
            continue
        if isinstance(v, (int, float)) or hasattr(v, "__float__"):
            v = float(v)
            parts.append(f"{k} {v:.4g}" if math.isfinite(v) else f"{k} {v}")
    return "  ".join(parts)


class EpochTimer(keras.callbacks.Callback):
    """Measures samples per second per epoch (training steps only) for progress and summary.json."""

    def __init__(self, samples_per_epoch: int):
        super().__init__()
        self.samples_per_epoch = samples_per_epoch
        self.rates: list[float] = []
        self.epoch_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = getattr(self, "_train_end", None) or time.perf_counter()
        seconds = max(end - self._start, 1e-9)
        self._train_end = None
        self.epoch_seconds.append(time.perf_counter() - self._start)
        self.rates.append(self.samples_per_epoch / seconds)
        if logs is not None:
            logs["samples_per_sec"] = self.rates[-1]


class PlainProgress(keras.callbacks.Callback):
    """One line per epoch, for logs, CI and `--quiet`."""

    def __init__(self, stream=None, total_epochs: int | None = None):
        super().__init__()
        self.stream = stream or sys.stdout
        self.total_epochs = total_epochs  # the run's, when `fit` is called in phases (freeze_epochs)

    def on_train_begin(self, logs=None):
        self.epochs = self.total_epochs or self.params.get("epochs")

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        print(f"epoch {epoch + 1}/{self.epochs}  {_fmt(logs)}  ({seconds:.1f}s)", file=self.stream, flush=True)


class RichProgress(keras.callbacks.Callback):
    """An epoch bar and a step bar with ETA, live loss/metrics and samples per second."""

    def __init__(self, console: Console | None = None, batch_size: int = 0, total_epochs: int | None = None):
        super().__init__()
        self.console = console or Console()
        self.batch_size = batch_size
        self.total_epochs = total_epochs
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )

    def on_train_begin(self, logs=None):
        self.epochs = self.total_epochs or self.params.get("epochs") or 0
        self.steps = self.params.get("steps")
        self.progress.start()
        self.epoch_task = self.progress.add_task("epochs", total=self.epochs, info="")
        self.step_task = self.progress.add_task("steps", total=self.steps, info="")
        self._initial = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._initial:
            self.progress.update(self.epoch_task, completed=epoch)
            self._initial = False
        self._start = time.perf_counter()
        self.progress.reset(self.step_task, total=self.steps, description=f"epoch {epoch + 1}", info="")

    def on_train_batch_end(self, batch, logs=None):
        seconds = max(time.perf_counter() - self._start, 1e-9)
        rate = (batch + 1) * self.batch_size / seconds if self.batch_size else 0
        info = _fmt(logs, ["loss", "accuracy", "d_loss", "g_loss", "mae"])
        info += f"  {rate:,.0f} samples/s" if rate else ""
        done = batch + 1 if not self.steps else min(batch + 1, self.steps)  # steps_per_execution overshoots
        self.progress.update(self.step_task, completed=done, info=info)

    def on_epoch_end(self, epoch, logs=None):
        self.progress.update(self.epoch_task, completed=epoch + 1, info=_fmt(logs))
        self.progress.console.print(f"epoch {epoch + 1}/{self.epochs}  {_fmt(logs)}")

    def on_train_end(self, logs=None):
        self.progress.stop()


def make_progress(quiet: bool, batch_size: int, total_epochs: int | None = None) -> keras.callbacks.Callback:
    """Rich bars on a terminal; plain lines when stdout is not a terminal or with --quiet."""
    if quiet or not sys.stdout.isatty():
        return PlainProgress(total_epochs=total_epochs)
    return RichProgress(batch_size=batch_size, total_epochs=total_epochs)
