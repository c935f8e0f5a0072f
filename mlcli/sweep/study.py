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

import keras
import optuna

from mlcli import rundir
from mlcli.config import load_config
from mlcli.errors import MlcliError, UserError
from mlcli.sweep.plan import HELPER_ENV, SweepPlan
from mlcli.sweep.report import LiveTable, write_reports
from mlcli.training.entry import train_and_evaluate
from mlcli.training.run import start_run


def _storage(url: str):
    if url.startswith("sqlite:"):  # concurrent processes wait for the file lock instead of failing
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    return url


def open_study(p: SweepPlan):
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
    def objective(trial) -> float:
        values = {d.path: d.suggest(trial) for d in p.dimensions}
        overrides = [*p.overrides, *(d.override(values[d.path]) for d in p.dimensions)]
        cfg = load_config(p.config, overrides)
        run_dir = start_run(cfg, p.sweep_dir / f"trial-{trial.number:03d}")
        trial.set_user_attr("path", str(run_dir))
        try:
            argv = ["mlcli", "train", str(p.config), *[a for o in overrides for a in ("--set", o)]]
            pruning = _pruning_callback(trial, p.metric)
            keras.backend.clear_session()
            with (run_dir / "train.log").open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                train_and_evaluate(cfg, run_dir, quiet=True, argv=argv, extra_callbacks=[pruning])
            rows = rundir.read_metrics(run_dir)
            scores = [float(r[p.metric]) for r in rows if r.get(p.metric) not in (None, "")]
            if pruning.pruned_at is not None:
                record = rundir.read_record(run_dir)
                rundir.finish_record(run_dir, record, "pruned", pruned_at_epoch=pruning.pruned_at)
                raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
            if not scores:
                raise MlcliError(f"{run_dir}: no {p.metric} was logged")
            return max(scores) if p.direction == "maximize" else min(scores)
        finally:
            rundir.release_run_dir(run_dir)

    return objective


def finished(study) -> int:
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
    p.sweep_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(p)
    done = finished(study)
    if done >= p.trials:
        print(f"{p.sweep_dir}: the study already has {done} finished trials (--trials {p.trials}); nothing to run")
        return write_reports(study, p)
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
