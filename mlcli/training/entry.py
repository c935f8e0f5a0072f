"""`train_and_evaluate(cfg, run_dir)`: the one entry — record the run, pick the driver, finish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from mlcli import STARTED, rundir, tracking
from mlcli.errors import TrainingFailed
from mlcli.training import custom_loop, fit
from mlcli.training import device as device_mod
from mlcli.training.components import set_seeds
from mlcli.training.distribute import multi_worker_strategy, task_role


def train_and_evaluate(
    cfg: Any,
    run_dir: Path,
    *,
    resume: bool = False,
    quiet: bool = False,
    argv: list[str] | None = None,
    extra_callbacks: list | None = None,
    started: float = STARTED,
    tracking_parent: str | None = None,
) -> dict:
    """Train `cfg` into `run_dir` (resuming from its last committed epoch if asked); return summary."""
    # collectives must be configured before TensorFlow runs anything else
    strategy = multi_worker_strategy(cfg.distribute) if cfg.distribute.strategy == "multi_worker" else None
    wall = rundir.Stopwatch(started)  # the whole command: TensorFlow's start-up, data, training, test scoring
    run_dir = Path(run_dir)
    set_seeds(cfg.seed, cfg.training.deterministic)
    device = device_mod.resolve(cfg.training)
    keras.mixed_precision.set_global_policy(device.mixed_precision)
    chief = strategy is None or task_role()[0]
    tracked = tracking.open_run(cfg, run_dir, tracking_parent) if chief else None  # unreachable: exit 2 here
    record = rundir.start_record(run_dir, cfg.seed, argv or [], device.as_dict(), resumed=resume)
    callbacks = [*(extra_callbacks or []), *([TrackEpochs(tracked)] if tracked else [])]
    try:
        if strategy is not None:
            summary = custom_loop.train(
                cfg, run_dir, strategy, device, resume=resume, quiet=quiet, is_chief=chief, wall=wall
            )
        else:
            summary = fit.train(cfg, run_dir, device, resume=resume, quiet=quiet, wall=wall, extra_callbacks=callbacks)
    except KeyboardInterrupt:
        rundir.finish_record(run_dir, record, "interrupted", wall_time_s=round(wall.elapsed(), 3))
        _finish(tracked, "interrupted")
        raise
    except TrainingFailed as exc:
        rundir.finish_record(run_dir, record, "failed", error=str(exc), wall_time_s=round(wall.elapsed(), 3))
        _finish(tracked, "failed")
        raise
    except BaseException as exc:
        rundir.finish_record(run_dir, record, "failed", error=f"{type(exc).__name__}: {exc}",
                             wall_time_s=round(wall.elapsed(), 3))  # fmt: skip
        _finish(tracked, "failed")
        raise
    rundir.finish_record(run_dir, record, "completed", wall_time_s=round(wall.elapsed(), 3))
    _finish(tracked, "completed")
    return summary


class TrackEpochs(keras.callbacks.Callback):
    """After mlcli's own epoch-end writes (callbacks run in order; this one is last): committed epochs to MLflow."""

    def __init__(self, tracked: tracking.MlflowRun):
        super().__init__()
        self.tracked = tracked

    def on_epoch_end(self, epoch, logs=None):
        try:
            self.tracked.sync_epochs()
        except Exception as exc:  # noqa: BLE001 - a tracker never stops a training
            tracking.warn_and_continue("epoch logging", exc)


def _finish(tracked: tracking.MlflowRun | None, status: str) -> None:
    if tracked is None:
        return
    try:
        tracked.finish(status)
    except Exception as exc:  # noqa: BLE001 - the run directory is what counts; MLflow is a mirror
        tracking.warn_and_continue("final logging", exc)
