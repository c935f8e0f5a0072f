"""`mlcli sweep`: an Optuna study whose trials are ordinary run directories `DIR/trial-NNN/`.

The study lives in storage (SQLite `DIR/study.db` unless `--storage` names another database), so
the same command again continues it up to `--trials`, several processes (`--jobs`, or other hosts
with a shared `--storage`) run trials of one study at once, and Ctrl-C loses no finished trial.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlcli import runs
from mlcli.config import load_config
from mlcli.config.monitors import config_has_val, config_task, direction, logged_names
from mlcli.config.render import to_yaml
from mlcli.errors import ConfigError, MlcliError, UserError
from mlcli.fileio import atomic_write_text
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
    startup_trials: int = 2
    warmup_epochs: int = 0
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
    has_val = config_has_val(cfg)
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
        pruner=section.pruner if section else "median", startup_trials=section.startup_trials if section else 2,
        warmup_epochs=section.warmup_epochs if section else 0,
    )  # fmt: skip


def _storage(url: str):
    import optuna

    if url.startswith("sqlite:"):  # concurrent processes wait for the file lock instead of failing
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    return url


def open_study(p: SweepPlan):
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs)
        if p.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    for attempt in range(6):
        try:
            study = optuna.create_study(
                study_name=p.name, storage=_storage(p.storage), direction=p.direction, load_if_exists=True,
                pruner=pruner,
            )  # fmt: skip
            break
        except (OperationalError, IntegrityError):  # two processes creating one new database: one retries
            if attempt == 5:
                raise
            time.sleep(0.5 * (attempt + 1))
        except ValueError as exc:  # e.g. the stored study has another direction
            raise UserError(f"{p.storage}: {exc}") from None
    # seeded by the config and the trials so far, so a continued study does not replay its first
    # suggestions; helper processes (--jobs) add their pid so they do not duplicate each other
    offset = len(study.get_trials(deepcopy=False)) + (os.getpid() if os.environ.get(HELPER_ENV) else 0)
    study.sampler = optuna.samplers.TPESampler(seed=(p.seed + offset) % 2**31)
    return study


def _pruning_callback(trial, metric: str):
    import keras

    class ReportToOptuna(keras.callbacks.Callback):
        """Reports the metric each epoch; stops training (after the epoch is saved) if Optuna prunes."""

        pruned_at: int | None = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(metric)
            if value is None:
                return
            trial.report(float(value), step=epoch + 1)
            if trial.should_prune():
                self.pruned_at = epoch + 1
                self.model.stop_training = True

    return ReportToOptuna()


def _objective(p: SweepPlan):
    import keras
    import optuna

    from mlcli.training.entry import train_and_evaluate

    def objective(trial) -> float:
        values = {d.path: d.suggest(trial) for d in p.dimensions}
        overrides = [*p.overrides, *(d.override(values[d.path]) for d in p.dimensions)]
        cfg = load_config(p.config, overrides)
        run_dir = runs.claim_run_dir(p.sweep_dir / f"trial-{trial.number:03d}", resume=False)
        trial.set_user_attr("path", str(run_dir))
        try:
            atomic_write_text(run_dir / runs.CONFIG_FILE, to_yaml(cfg))
            argv = ["mlcli", "train", str(p.config), *[a for o in overrides for a in ("--set", o)]]
            pruning = _pruning_callback(trial, p.metric)
            keras.backend.clear_session()
            with (run_dir / "train.log").open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                train_and_evaluate(cfg, run_dir, quiet=True, argv=argv, extra_callbacks=[pruning])
            rows = runs.read_metrics(run_dir)
            scores = [float(r[p.metric]) for r in rows if r.get(p.metric) not in (None, "")]
            if pruning.pruned_at is not None:
                record = runs.read_record(run_dir)
                runs.finish_record(run_dir, record, "pruned", pruned_at_epoch=pruning.pruned_at)
                raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
            if not scores:
                raise MlcliError(f"{run_dir}: no {p.metric} was logged")
            return max(scores) if p.direction == "maximize" else min(scores)
        finally:
            runs.release_run_dir(run_dir)

    return objective


def finished(study) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _helpers(p: SweepPlan, jobs: int) -> list[subprocess.Popen]:
    """J-1 more processes on the same storage: Optuna's own way of running trials in parallel."""
    args = [sys.executable, "-m", "mlcli", "sweep", str(p.config), "--trials", str(p.trials),
            "--sweep-dir", str(p.sweep_dir), "--storage", p.storage, "--metric", p.metric,
            "--direction", p.direction, "--quiet", *[a for o in p.overrides for a in ("--set", o)],
            *[a for d in p.dimensions for a in ("--param", d.as_param())]]  # fmt: skip
    return [subprocess.Popen(args, env={**os.environ, HELPER_ENV: "1"}) for _ in range(jobs - 1)]


def run_sweep(p: SweepPlan, jobs: int, quiet: bool) -> dict:
    import optuna

    from mlcli.sweep.report import LiveTable, write_reports
    from mlcli.tfenv import import_tensorflow

    p.sweep_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(p)
    done = finished(study)
    if done >= p.trials:
        print(f"{p.sweep_dir}: the study already has {done} finished trials (--trials {p.trials}); nothing to run")
        return write_reports(study, p)
    import_tensorflow()
    helpers = _helpers(p, jobs)
    live = LiveTable(p, quiet)

    def after_trial(study, trial) -> None:
        live.update(study)
        write_reports(study, p, plot=False)
        failed = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)))
        if finished(study) >= p.trials or failed >= p.trials:  # never loop on a config that always fails
            study.stop()

    try:
        with live:
            study.optimize(_objective(p), callbacks=[after_trial], catch=(MlcliError,))
    finally:
        for proc in helpers:
            try:
                proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
        report = write_reports(study, p)
    return report
