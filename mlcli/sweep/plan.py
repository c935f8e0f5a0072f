"""What a sweep will do, checked before any trial starts (no TensorFlow): the space, the metric, the
direction, where trials and the study live."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlcli.config import load_config
from mlcli.config.monitors import config_task, logged_names
from mlcli.config.schema import Sweep
from mlcli.errors import ConfigError, UserError
from mlcli.metrics import direction
from mlcli.sweep.space import Dimension, parse_param, parse_spec

HELPER_ENV = "MLCLI_SWEEP_HELPER"


@dataclass
class SweepPlan:
    config: Path
    overrides: list[str]
    dimensions: list[Dimension]
    trials: int
    metric: str
    direction: str  # minimize | maximize
    sweep_dir: Path
    storage: str
    name: str
    seed: int
    pruner: str = "median"
    startup_trials: int = 5
    warmup_epochs: int = 1
    argv: list[str] = field(default_factory=list)


def plan(config: Path, overrides: list[str], params: list[str], trials: int | None, metric: str | None,
         direction_: str | None, sweep_dir: Path | None, storage: str | None) -> SweepPlan:  # fmt: skip
    """Everything checked before a trial starts: the config, each parameter's path and range, the metric."""
    cfg = load_config(config, overrides)
    section = cfg.sweep
    dims = {
        d.path: d for d in (parse_spec(p, s, "sweep.params:") for p, s in (section.params if section else {}).items())
    }
    dims.update({d.path: d for d in map(parse_param, params)})  # the command line wins
    if not dims:
        raise UserError("nothing to sweep: give --param PATH=SPEC or a `sweep: {params: ...}` section")
    for dim in dims.values():
        for value in dim.extremes():
            try:
                load_config(config, [*overrides, dim.override(value)])
            except ConfigError as exc:
                raise UserError(f"--param {dim.path}: {value!r} is not a valid value: {exc.problems[0]}") from None
    if cfg.distribute.strategy == "multi_worker":
        raise UserError("sweeps run single-process trials; set distribute.strategy to none or mirrored")
    has_val = cfg.data.has_val()
    chosen = metric or (section.metric if section else "auto")
    chosen = ("val_loss" if has_val else "loss") if chosen == "auto" else chosen
    task = config_task(cfg)
    names = logged_names(task, cfg.training.metrics, has_val) if task else None
    if names is not None and chosen not in names:
        raise UserError(f"--metric {chosen!r} is not logged by this config (logged: {', '.join(names)})")
    how = direction_ or (section.direction if section else "auto")
    if how == "auto":
        how = "maximize" if direction(chosen) == "max" else "minimize"
    target = Path(sweep_dir) if sweep_dir else Path("sweeps") / cfg.name
    return SweepPlan(
        config=Path(config), overrides=overrides, dimensions=list(dims.values()),
        trials=trials or (section.trials if section else 10), metric=chosen, direction=how, sweep_dir=target,
        storage=storage or f"sqlite:///{target.resolve() / 'study.db'}", name=cfg.name, seed=cfg.seed,
        pruner=(section or Sweep()).pruner, startup_trials=(section or Sweep()).startup_trials,
        warmup_epochs=(section or Sweep()).warmup_epochs,
    )  # fmt: skip
