"""Which names a run logs, and the checked monitor (name, direction) of each callback.

A monitor is checked against the names this config will log — loss, the chosen metrics, their
`val_` twins when there is validation data, the GAN trackers — and never replaced by another
metric. `mode: auto` takes the metric's direction from the one metric table (`mlcli.metrics`).
Pure Python, so `mlcli validate` runs these checks without TensorFlow; training runs them again
with the data's real task and split sizes.
"""

from __future__ import annotations

import difflib
from typing import Any

from mlcli.metrics import GAN_TRACKERS, default_metrics, direction


class MonitorError(ValueError):
    """A monitor that names nothing the run logs, or a `val_` one without validation data."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path


def logged_names(task: str, metrics: list[str] | None, has_val: bool) -> list[str]:
    """Every name that appears in the epoch logs (and so in metrics.csv)."""
    if task == "generation":
        base = list(GAN_TRACKERS)
    else:
        base = ["loss", *(metrics if metrics is not None else default_metrics(task == "classification"))]
    return base + ([f"val_{n}" for n in base] if has_val else [])


def resolve(
    path: tuple, monitor: str, mode: str, task: str, metrics: list[str] | None, has_val: bool
) -> tuple[str | None, str]:
    """The concrete (monitor, mode) for one callback; `auto` picks val_loss, else loss.

    For a GAN, `auto` means no monitor: the best checkpoint is the last epoch.
    """
    names = logged_names(task, metrics, has_val)
    if monitor == "auto":
        if task == "generation":
            return None, "min"
        monitor = "val_loss" if has_val else "loss"
    if monitor not in names:
        if monitor.startswith("val_") and monitor[4:] in names:
            raise MonitorError(
                path + ("monitor",),
                f"{monitor!r} needs validation data, but this run has none; set data.val_fraction > 0 "
                f"(or data.splits.val for TFDS), or monitor {monitor[4:]!r}",
            )
        guess = difflib.get_close_matches(monitor, names, n=1, cutoff=0.6)
        hint = f"; did you mean `{guess[0]}`?" if guess else ""
        raise MonitorError(
            path + ("monitor",), f"{monitor!r} is not logged by this run{hint} (logged: {', '.join(names)})"
        )
    return monitor, direction(monitor) if mode == "auto" else mode


def config_task(cfg: Any) -> str | None:
    """The task known from the config alone; None when only the data can tell (npz auto)."""
    return cfg.model.task_override or cfg.data.resolved_task()


def callback_sections(training: Any) -> list[tuple[tuple, Any]]:
    sections = [(("training", "checkpoint"), training.checkpoint)]
    if training.early_stopping:
        sections.append((("training", "early_stopping"), training.early_stopping))
    if training.reduce_lr_on_plateau:
        sections.append((("training", "reduce_lr_on_plateau"), training.reduce_lr_on_plateau))
    return sections


def _section(path: tuple, section: Any, cfg: Any, task: str, has_val: bool) -> tuple[str | None, str]:
    monitor, mode = resolve(path, section.monitor, section.mode, task, cfg.training.metrics, has_val)
    if monitor is None and path[-1] != "checkpoint":
        trackers = ", ".join(logged_names(task, None, has_val))
        raise MonitorError(path + ("monitor",), f"a GAN has no single loss to watch; name a tracker: {trackers}")
    return monitor, mode


def resolve_all(cfg: Any, task: str, has_val: bool) -> dict[str, tuple[str | None, str]]:
    """(monitor, mode) per callback section name; raises MonitorError for the first bad one."""
    return {path[-1]: _section(path, s, cfg, task, has_val) for path, s in callback_sections(cfg.training)}


def check_config(cfg: Any) -> list[tuple[tuple, str]]:
    """Monitor problems found from the config alone (skipped when the task needs the data)."""
    task = config_task(cfg)
    if task is None:
        return []
    problems = []
    for path, section in callback_sections(cfg.training):
        try:
            _section(path, section, cfg, task, cfg.data.has_val())
        except MonitorError as exc:
            problems.append((exc.path, str(exc)))
    return problems
