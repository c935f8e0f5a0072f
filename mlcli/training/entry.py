"""`train_and_evaluate(cfg, run_dir)`: the one entry — record the run, pick the driver, finish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from mlcli import STARTED, rundir
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
) -> dict:
    """Train `cfg` into `run_dir` (resuming from its last committed epoch if asked); return summary."""
    # collectives must be configured before TensorFlow runs anything else
    strategy = multi_worker_strategy(cfg.distribute) if cfg.distribute.strategy == "multi_worker" else None
    wall = rundir.Stopwatch(started)  # the whole command: TensorFlow's start-up, data, training, test scoring
    run_dir = Path(run_dir)
    set_seeds(cfg.seed, cfg.training.deterministic)
    device = device_mod.resolve(cfg.training)
    keras.mixed_precision.set_global_policy(device.mixed_precision)
    record = rundir.start_record(run_dir, cfg.seed, argv or [], device.as_dict(), resumed=resume)
    try:
        if strategy is not None:
            summary = custom_loop.train(
                cfg, run_dir, strategy, device, resume=resume, quiet=quiet, is_chief=task_role()[0], wall=wall
            )
        else:
            summary = fit.train(
                cfg, run_dir, device, resume=resume, quiet=quiet, wall=wall, extra_callbacks=extra_callbacks
            )
    except KeyboardInterrupt:
        rundir.finish_record(run_dir, record, "interrupted", wall_time_s=round(wall.elapsed(), 3))
        raise
    except TrainingFailed as exc:
        rundir.finish_record(run_dir, record, "failed", error=str(exc), wall_time_s=round(wall.elapsed(), 3))
        raise
    except BaseException as exc:
        rundir.finish_record(run_dir, record, "failed", error=f"{type(exc).__name__}: {exc}",
                             wall_time_s=round(wall.elapsed(), 3))  # fmt: skip
        raise
    rundir.finish_record(run_dir, record, "completed", wall_time_s=round(wall.elapsed(), 3))
    return summary
