"""Which names a run logs, and the checked monitor (name, direction) of each callback.

A monitor is checked against the names this config will log — loss, the chosen metrics, their
`val_` twins when there is validation data, the GAN trackers — and never replaced by another
metric. `mode: auto` takes the metric's direction from `DIRECTIONS`. Pure Python, so
`mlcli validate` runs these checks without TensorFlow; training runs them again with the data's
real task and split sizes.
"""

from __future__ import annotations

import difflib
from typing import Any

# The direction in which each logged name improves ("max" or "min").
DIRECTIONS = {
    "loss": "min",
    "accuracy": "max",
    "top_k": "max",
    "precision": "max",
    "recall": "max",
    "f1": "max",
    "mae": "min",
    "rmse": "min",
    "mse": "min",
    "d_loss": "min",
    "g_loss": "min",
    "d_acc_real": "max",
    "d_acc_fake": "max",
}
GAN_TRACKERS = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
CLASS_METRICS = ("accuracy", "top_k", "precision", "recall", "f1")
VALUE_METRICS = ("mae", "rmse", "mse")


class MonitorError(ValueError):
    """A monitor that names nothing the run logs, or a `val_` one without validation data."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path


def default_metrics(task: str) -> list[str]:
    return ["accuracy"] if task == "classification" else ["mae", "rmse"]


def logged_names(task: str, metrics: list[str] | None, has_val: bool) -> list[str]:
    """Every name that appears in the epoch logs (and so in metrics.csv)."""
    if task == "generation":
        base = list(GAN_TRACKERS)
    else:
        base = ["loss", *(metrics if metrics is not None else default_metrics(task))]
    return base + ([f"val_{n}" for n in base] if has_val else [])


def direction(name: str) -> str:
    return DIRECTIONS[name.removeprefix("val_")]


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
    natural = direction(monitor)
    if mode == "auto":
        return monitor, natural
    return monitor, mode


def config_task(cfg: Any) -> str | None:
    """The task known from the config alone; None when only the data can tell (npz auto)."""
    data = cfg.data
    if cfg.model.type == "gan":
        return "generation"
    source = data.source
    if source in ("tfds", "image_folder", "text_folder"):
        return "classification"
    if source == "builtin":
        return "classification" if data.name == "digits" else "forecast"
    if source == "csv":
        return {"timeseries": "forecast"}.get(data.task, data.task)
    if source == "synthetic":
        return {"regression": "regression", "sequences": "forecast"}.get(data.kind, "classification")
    if source == "npz":
        return None if data.task == "auto" else data.task
    return None


def config_has_val(cfg: Any) -> bool:
    """Whether the config promises validation data (val carved from train, or a val split)."""
    data = cfg.data
    return data.val_fraction > 0 or bool(getattr(getattr(data, "splits", None), "val", None))


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
            _section(path, section, cfg, task, config_has_val(cfg))
        except MonitorError as exc:
            problems.append((exc.path, str(exc)))
    return problems
