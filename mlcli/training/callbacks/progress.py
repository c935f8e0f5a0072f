"""Progress display: a Rich epoch + step bar with live metrics, or one plain line per epoch.

Modelled on keras' ProgbarLogger: `set_params` gives epochs and steps; unknown step counts are
allowed; validation batches inside `fit` stay quiet. The bars have a fixed width and the metrics text
is cut to what fits, so bar and ETA stay on screen in an 80-column terminal. When the best checkpoint
improves, a line says so (with --quiet, the epoch line is marked instead).
"""

from __future__ import annotations

import math
import sys
import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.table import Column
from rich.text import Text

SHOWN_WHILE_STEPPING = ["loss", "accuracy", "d_loss", "g_loss", "mae"]


def _fmt(logs: dict, keys: list[str] | None = None) -> str:
    parts = []
    logs = logs or {}
    for k in keys if keys is not None else [k for k in logs if k != "samples_per_sec"]:  # speed: in `done:`
        if k not in logs:
            continue
        v = logs[k]
        if isinstance(v, (int, float)) or hasattr(v, "__float__"):
            v = float(v)
            name = k.replace("learning_rate", "lr")  # lr, g_lr, d_lr
            parts.append(f"{name} {v:.4g}" if math.isfinite(v) else f"{name} {v}")
    return "  ".join(parts)


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else (
        f"{seconds // 60}:{seconds % 60:02d}")  # fmt: skip


class TimesColumn(ProgressColumn):
    """`0:12 elapsed, 0:30 left`: labelled, so nobody has to guess which clock is which."""

    def render(self, task) -> Text:
        left = task.time_remaining if not task.finished else 0
        return Text(f"{_clock(task.elapsed)} elapsed, {_clock(left)} left", style="progress.remaining")


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


class LearningRate(keras.callbacks.Callback):
    """The learning rate of each optimizer at the epoch's first step, into the logs (metrics.csv,
    progress, TensorBoard): the rate the epoch started with, as a schedule or warm-up was configured,
    not the decayed value after its last step (which is the next epoch's start).

    A GAN trains with two optimizers of its own; its compiled `optimizer` is Keras' unused default, so
    its rates are logged per network (`g_learning_rate`, `d_learning_rate`) and that one is left out.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._at_start = learning_rates(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(getattr(self, "_at_start", None) or learning_rates(self.model))


def learning_rates(model) -> dict[str, float]:
    """{log name: rate} for the optimizers that actually update `model`'s weights."""
    pairs = [("g_learning_rate", "g_optimizer"), ("d_learning_rate", "d_optimizer")]
    if not all(getattr(model, attr, None) is not None for _, attr in pairs):
        pairs = [("learning_rate", "optimizer")]
    return {name: float(keras.ops.convert_to_numpy(getattr(model, attr).learning_rate))
            for name, attr in pairs if getattr(model, attr, None) is not None}  # fmt: skip


def _best_line(writer) -> str | None:
    """`best val_accuracy 0.9810 → 0.9870 (epoch 4): checkpoints/best.keras`, when this epoch improved it."""
    event = getattr(writer, "last_improvement", None) if writer is not None else None
    if not event:
        return None
    before = f"{event['before']:.4g} → " if event.get("before") is not None else ""
    return f"  best {event['monitor']} {before}{event['value']:.4g} (epoch {event['epoch']}): checkpoints/best.keras"


class PlainProgress(keras.callbacks.Callback):
    """One line per epoch, for logs, CI and `--quiet`; a new best checkpoint marks its epoch's line."""

    def __init__(self, stream=None, total_epochs: int | None = None, writer=None):
        super().__init__()
        self.stream = stream or sys.stdout
        self.total_epochs = total_epochs  # the run's, when `fit` is called in phases (freeze_epochs)
        self.writer = writer

    def on_train_begin(self, logs=None):
        self.epochs = self.total_epochs or self.params.get("epochs")

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        best = "  (best)" if _best_line(self.writer) else ""
        print(f"epoch {epoch + 1}/{self.epochs}  {_fmt(logs)}  ({seconds:.1f}s){best}", file=self.stream, flush=True)


class RichProgress(keras.callbacks.Callback):
    """An epoch bar and a step bar with labelled elapsed/left times, live loss/metrics and samples/s."""

    async_safe = True  # Rich's Progress takes its own lock; see NanGuard

    def __init__(self, console: Console | None = None, batch_size: int = 0, total_epochs: int | None = None,
                 writer=None):  # fmt: skip
        super().__init__()
        self.console = console or Console()
        self.batch_size = batch_size
        self.total_epochs = total_epochs
        self.writer = writer
        self.progress = Progress(
            TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True, min_width=9)),
            BarColumn(bar_width=20),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimesColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=self.console,
            transient=False,
            expand=True,
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
        info = _fmt(logs, SHOWN_WHILE_STEPPING)
        info += f"  {rate:,.0f} samples/s" if rate else ""
        done = batch + 1 if not self.steps else min(batch + 1, self.steps)  # steps_per_execution overshoots
        self.progress.update(self.step_task, completed=done, info=info)

    def on_epoch_end(self, epoch, logs=None):
        self.progress.update(self.epoch_task, completed=epoch + 1, info="")
        self.progress.console.print(f"epoch {epoch + 1}/{self.epochs}  {_fmt(logs)}")
        best = _best_line(self.writer)
        if best:
            self.progress.console.print(best, style="green")

    def on_train_end(self, logs=None):
        self.progress.stop()


def make_progress(
    quiet: bool, batch_size: int, total_epochs: int | None = None, writer=None
) -> keras.callbacks.Callback:
    """Rich bars on a terminal; plain lines when stdout is not a terminal or with --quiet."""
    if quiet or not sys.stdout.isatty():
        return PlainProgress(total_epochs=total_epochs, writer=writer)
    return RichProgress(batch_size=batch_size, total_epochs=total_epochs, writer=writer)
