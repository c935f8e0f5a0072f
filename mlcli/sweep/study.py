"""`mlcli sweep`: an Optuna study whose trials are ordinary run directories `DIR/trial-NNN/`.

The study lives in storage (SQLite `DIR/study.db` unless `--storage` names another database), so
the same command again continues it up to `--trials`, several processes (`--jobs`, or other hosts
with a shared `--storage`) run trials of one study at once, and Ctrl-C loses no finished trial.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import keras
import optuna

from mlcli import rundir, tracking
from mlcli.config import load_config
from mlcli.errors import MlcliError, UserError
from mlcli.fileio import through_anchor
from mlcli.sweep.plan import HELPER_ENV, SweepPlan
from mlcli.sweep.report import LiveTable, write_reports
from mlcli.sweep.storage import open_study
from mlcli.training.entry import train_and_evaluate
from mlcli.training.run import start_run


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

        def stop_reason(self) -> dict | None:
            if self.pruned_at is None:
                return None
            return {"reason": "pruned", "epoch": self.pruned_at,
                    "message": f"Optuna's median pruner stopped the trial after epoch {self.pruned_at}"}  # fmt: skip

    return ReportToOptuna()


class NotNeeded(MlcliError):
    """The study already has its trials (finished or running elsewhere): this one never starts."""


class _QuietTrialFailures(logging.Filter):
    """Optuna logs each failed trial with its traceback. A trial that gave way to another process
    (NotNeeded) or was stopped by Ctrl-C did not fail; an mlcli error says all in its one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if re.fullmatch(r"Trial \d+ failed with value None\.", record.getMessage()):
            return False  # the line after each failure: the objective raised, so no value
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (NotNeeded, KeyboardInterrupt)):
            return False
        if isinstance(error, MlcliError):
            record.exc_info, record.exc_text = None, None
        return True


logging.getLogger("optuna.study._optimize").addFilter(_QuietTrialFailures())


def _objective(p: SweepPlan, live: LiveTable, parent_run_id: str | None = None):
    def objective(trial) -> float:
        states = (optuna.trial.TrialState.RUNNING,)
        # only running trials numbered before this one count: of two started at once, the later one gives
        # way, so several processes neither overshoot --trials nor both give way and stop one short
        others = [t for t in trial.study.get_trials(deepcopy=False, states=states) if t.number < trial.number]
        if finished(trial.study) + len(others) >= p.trials:
            trial.set_user_attr("not_needed", True)
            trial.study.stop()
            raise NotNeeded(f"the study has its {p.trials} trials")
        values = {d.path: d.suggest(trial) for d in p.dimensions}
        live.update(trial.study)  # the trial about to run shows as running, with its parameters
        overrides = [*p.overrides, *(d.override(values[d.path]) for d in p.dimensions)]
        cfg = load_config(p.config, overrides)
        run_dir = start_run(cfg, p.sweep_dir / f"trial-{trial.number:03d}")
        trial.set_user_attr("path", str(run_dir))
        try:
            argv = ["mlcli", "train", str(p.config), *[a for o in overrides for a in ("--set", o)]]
            pruning = _pruning_callback(trial, p.metric)
            keras.backend.clear_session()
            log = through_anchor(run_dir / "train.log")  # the trial's folder, reached through its descriptor
            log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
            with os.fdopen(log_fd, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                train_and_evaluate(cfg, run_dir, quiet=True, argv=argv, extra_callbacks=[pruning],
                                   started=time.perf_counter(), tracking_parent=parent_run_id)  # fmt: skip
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
    return [subprocess.Popen(args, env={**os.environ, HELPER_ENV: "1"}, preexec_fn=_die_with_parent)
            for _ in range(jobs - 1)]  # fmt: skip


def _die_with_parent() -> None:
    """In a helper, before it runs: the kernel sends it SIGTERM when the sweep that started it dies (even
    by kill -9), so no helper trains on alone. Linux only (prctl); elsewhere helpers outlive a kill -9."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def fail_stale_trials(study) -> list[int]:
    """Trials recorded as running whose process is gone (killed mid-trial) are marked failed, so neither
    the study nor sweep.json shows them running forever; returns their numbers."""
    stale = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        path = t.user_attrs.get("path")
        age = (datetime.now() - t.datetime_start).total_seconds() if t.datetime_start else 0
        gone = not rundir.held_by_a_process(Path(path)) if path else age > STALE_WITHOUT_PATH_S
        if gone:  # marked, so a killed sweep's trials do not count as the config failing
            study._storage.set_trial_user_attr(t._trial_id, "stale", True)
            study._storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
            stale.append(t.number)
    return stale


STALE_WITHOUT_PATH_S = 120  # a running trial that never claimed its run directory: gone after this long


def run_sweep(p: SweepPlan, jobs: int, quiet: bool) -> dict:
    try:
        p.sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--sweep-dir {p.sweep_dir}: cannot create it ({exc.strerror or exc})") from None
    study = open_study(p)
    for number in fail_stale_trials(study):
        print(f"trial {number} was running when its process died; marked failed", file=sys.stderr)
    done = finished(study)
    if done >= p.trials:
        print(f"{p.sweep_dir}: the study already has {done} finished trials (--trials {p.trials}); nothing to run")
        return write_reports(study, p)
    parent = tracking.open_run(load_config(p.config, p.overrides), p.sweep_dir)  # the trials' parent MLflow run
    helpers = _helpers(p, jobs)
    live = LiveTable(p, quiet)

    def after_trial(study, trial) -> None:
        live.update(study)
        write_reports(study, p, plot=False)
        failed = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
                  if not (t.user_attrs.get("stale") or t.user_attrs.get("not_needed"))]  # fmt: skip
        if finished(study) >= p.trials or len(failed) >= p.trials:  # never loop on a config that always fails
            study.stop()

    try:
        with live:
            study.optimize(_objective(p, live, parent and parent.run_id), callbacks=[after_trial], catch=(MlcliError,))
    finally:
        for proc in helpers:
            try:
                proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
        report = write_reports(study, p)
        if parent is not None:
            with contextlib.suppress(Exception):  # the study is what counts; MLflow mirrors it
                parent.client.log_artifact(parent.run_id, str(p.sweep_dir / "sweep.json"))
                parent.client.set_tag(parent.run_id, "mlcli.status", "completed")
                parent.client.set_terminated(parent.run_id, "FINISHED")
    return report
