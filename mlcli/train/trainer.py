"""`train_and_evaluate(cfg, run_dir)`: the one entry that builds, trains, checkpoints and scores."""

from __future__ import annotations

import contextlib
import math
import statistics
from pathlib import Path
from typing import Any

from mlcli.errors import TrainingFailed
from mlcli.train import rundir
from mlcli.train.rundir import Stopwatch, atomic_write_json


def set_seeds(seed: int, deterministic: bool) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def compile_model(model, cfg: Any, spec: Any, steps_per_epoch: int, device: Any) -> None:
    from mlcli.train.metrics import make_loss, make_metrics
    from mlcli.train.optim import make_optimizer

    if hasattr(model, "compile_gan"):  # GAN: two optimizers, its own losses
        model.compile_gan(cfg, steps_per_epoch, jit_compile=device.jit_compile)
        return
    model.compile(
        optimizer=make_optimizer(cfg.optimizer, steps_per_epoch, cfg.training.epochs),
        loss=make_loss(cfg.training, spec),
        metrics=make_metrics(cfg.training, spec),
        jit_compile=device.jit_compile,
        steps_per_execution=device.steps_per_execution,
    )
    model.optimizer.build(model.trainable_variables)  # now, so a checkpoint's optimizer state can load


def prepare_run(cfg: Any, run_dir: Path, resume: bool):
    """Data (with the run's saved preprocessing when resuming) and the resume state, if any."""
    from mlcli.data import load_dataset
    from mlcli.data.spec import DataSpec
    from mlcli.train.callbacks import read_state

    spec_path = run_dir / rundir.SPEC_FILE
    state = read_state(run_dir) if resume else None
    bundle = load_dataset(cfg, DataSpec.load(spec_path) if resume and spec_path.is_file() else None)
    if not spec_path.is_file():
        bundle.spec.save(spec_path)
    return bundle, state


def restore(model, run_dir: Path, state: dict | None, epochs: int) -> tuple[int, list[dict]]:
    """Load last.keras (weights and optimizer state) into a compiled model; the epoch to start from
    and the metrics.csv rows up to it. The same for every model, GANs and multi-worker included."""
    from mlcli.errors import UserError
    from mlcli.train.callbacks import read_metrics

    last = run_dir / "checkpoints" / "last.keras"
    if not (state and last.is_file()):
        return 0, []
    model.load_weights(last)
    initial_epoch = int(state["epoch"])
    if initial_epoch >= epochs:
        raise UserError(
            f"{run_dir}: already trained {initial_epoch} of {epochs} epochs; "
            f"raise the budget with --set training.epochs={initial_epoch + 10}"
        )
    return initial_epoch, [r for r in read_metrics(run_dir) if int(r["epoch"]) <= initial_epoch]


def make_callbacks(
    cfg: Any,
    run_dir: Path,
    samples_per_epoch: int,
    rows: list,
    state: dict | None,
    *,
    quiet: bool,
    progress: bool = True,
    custom_loop: bool = False,
):
    """The callbacks that write the run directory, for `fit` or for the multi-worker loop.

    The custom loop drives them through a CallbackList; it skips TensorBoard and best-weight
    restoring, which were not tested there.
    """
    import keras

    from mlcli.train.callbacks import NanGuard, ResumableEarlyStopping, RunWriter
    from mlcli.train.progress import EpochTimer, make_progress

    t = cfg.training
    timer = EpochTimer(samples_per_epoch)
    guard = NanGuard()
    early = None
    if t.early_stopping:
        early = ResumableEarlyStopping(
            restored=state,
            monitor=t.early_stopping.monitor,
            patience=t.early_stopping.patience,
            min_delta=t.early_stopping.min_delta,
            restore_best_weights=t.early_stopping.restore_best_weights and not custom_loop,
        )
    monitor = t.checkpoint.monitor
    writer = RunWriter(
        run_dir,
        monitor,
        t.checkpoint.mode,
        rows,
        best=(state or {}).get("best"),
        extra_state=early.state if early else None,
    )
    callbacks = ([early] if early else []) + [timer, guard, writer]
    if t.reduce_lr_on_plateau:
        r = t.reduce_lr_on_plateau
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=r.monitor, factor=r.factor, patience=r.patience, min_lr=r.min_lr, verbose=0
            )
        )
    if t.tensorboard and not custom_loop:
        callbacks.append(
            keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"), write_graph=False, profile_batch=0)
        )
    if cfg.model.type == "gan":
        from mlcli.train.gan_callbacks import CollapseWatch, SampleGrid

        callbacks += [SampleGrid(run_dir, cfg.model.sample_every, seed=cfg.seed), CollapseWatch()]
    if progress:
        callbacks.append(make_progress(quiet, cfg.data.batch_size))
    return callbacks, guard, writer


def train_and_evaluate(
    cfg: Any,
    run_dir: Path,
    *,
    resume: bool = False,
    quiet: bool = False,
    verbose: bool = False,
    argv: list[str] | None = None,
) -> dict:
    """Train `cfg` into `run_dir` (resuming from its last completed epoch if asked); return summary."""
    from mlcli.train.quiet import import_tensorflow

    import_tensorflow(verbose)
    import keras

    from mlcli.train.distribute import multi_worker_strategy, task_role

    # collectives must be configured before TensorFlow runs anything else
    multi_worker = multi_worker_strategy() if cfg.distribute.strategy == "multi_worker" else None

    from mlcli.models import build_model
    from mlcli.train import device as device_mod
    from mlcli.train import metrics as _metrics  # noqa: F401  (registers custom objects for load_model)
    from mlcli.train.distribute import get_strategy

    wall = Stopwatch()
    run_dir = Path(run_dir)
    set_seeds(cfg.seed, cfg.training.deterministic)
    device = device_mod.resolve(cfg.training)
    keras.mixed_precision.set_global_policy(device.mixed_precision)
    record = rundir.start_record(run_dir, cfg.seed, argv or [], device.as_dict(), resumed=resume)
    try:
        if multi_worker is not None:
            from mlcli.train import multi_worker as loop

            summary = loop.train(
                cfg,
                run_dir,
                multi_worker,
                resume=resume,
                quiet=quiet,
                is_chief=task_role()[0],
                wall=wall,
            )
            rundir.finish_record(run_dir, record, "completed", wall_time_s=round(wall.elapsed(), 3))
            return summary
        bundle, state = prepare_run(cfg, run_dir, resume)
        spec = bundle.spec
        steps_per_epoch = max(1, math.ceil(spec.num_train / cfg.data.batch_size))
        strategy = get_strategy(cfg.distribute, device.gpus)
        if strategy is not None and device.steps_per_execution > 1:
            # keras#19246: the multi-step loop's conditionals fail in a MirroredStrategy replica context
            if cfg.training.steps_per_execution != "auto":
                print("note: steps_per_execution set to 1 under MirroredStrategy (keras#19246)", flush=True)
            device.steps_per_execution = 1
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = build_model(cfg, spec)
            compile_model(model, cfg, spec, steps_per_epoch, device)
            initial_epoch, rows = restore(model, run_dir, state, cfg.training.epochs)
        callbacks, guard, writer = make_callbacks(cfg, run_dir, spec.num_train, rows, state, quiet=quiet)
        train_clock = Stopwatch()
        history = model.fit(
            bundle.train,
            validation_data=bundle.val,
            epochs=cfg.training.epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=0,
        )
        train_seconds = train_clock.elapsed()
        if guard.where:
            raise TrainingFailed(
                f"training stopped: {guard.where}; lower optimizer.learning_rate or add optimizer.clipnorm. "
                f"Last good checkpoints kept in {run_dir / 'checkpoints'}"
            )
        replicas = strategy.num_replicas_in_sync if strategy else 1
        summary = _summarise(
            cfg,
            run_dir,
            model,
            bundle,
            history,
            callbacks,
            initial_epoch,
            train_seconds,
            wall.elapsed(),
            {
                **device.as_dict(),
                "strategy": type(strategy).__name__ if strategy else "default",
                "replicas": replicas,
                "per_replica_batch": cfg.data.batch_size // replicas,
            },
        )
        if cfg.training.plots:
            from mlcli.train.plots import curves

            curves(writer.rows, run_dir / "plots" / "curves.png")
        rundir.finish_record(run_dir, record, "completed", wall_time_s=round(wall.elapsed(), 3))
        return summary
    except KeyboardInterrupt:
        rundir.finish_record(run_dir, record, "interrupted", wall_time_s=round(wall.elapsed(), 3))
        raise
    except TrainingFailed as exc:
        rundir.finish_record(run_dir, record, "failed", error=str(exc))
        raise
    except BaseException as exc:
        rundir.finish_record(run_dir, record, "failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _summarise(
    cfg,
    run_dir: Path,
    model,
    bundle,
    history,
    callbacks: list,
    initial_epoch: int,
    train_seconds: float,
    wall_seconds: float,
    device: dict,
) -> dict:
    """summary.json: final train/val metrics, test metrics from the best checkpoint, speed and times."""
    import keras

    from mlcli.train.callbacks import RunWriter
    from mlcli.train.progress import EpochTimer
    from mlcli.train.scoring import score

    spec = bundle.spec
    timer = next(c for c in callbacks if isinstance(c, EpochTimer))
    writer = next(c for c in callbacks if isinstance(c, RunWriter))
    final = {k: float(v[-1]) for k, v in history.history.items() if v and k != "samples_per_sec"}
    best_path = run_dir / "checkpoints" / "best.keras"
    test = {}
    if bundle.test is not None and spec.task != "generation":
        scorer = keras.models.load_model(best_path) if best_path.is_file() else model
        test = score(scorer, bundle.test, spec, cfg.training.top_k)
        test.pop("per_class", None)
        test.pop("confusion_matrix", None)
    rates = timer.rates[1:] if len(timer.rates) > 1 else timer.rates
    summary = {
        "name": cfg.name,
        "epochs_run": len(history.epoch),
        "initial_epoch": initial_epoch,
        "final_epoch": initial_epoch + len(history.epoch),
        "train": {k: v for k, v in final.items() if not k.startswith("val_")},
        "val": {k[4:]: v for k, v in final.items() if k.startswith("val_")},
        "test": test,
        "best": {
            "monitor": writer.monitor,
            "value": writer.best,
            "epoch": (writer.best_epoch + 1) if writer.best_epoch is not None else None,
        },
        "samples_per_sec": statistics.median(rates) if rates else None,
        "train_time_s": round(train_seconds, 3),
        "wall_time_s": round(wall_seconds, 3),
        "params": int(model.count_params()),
        "device": device,
    }
    for callback in callbacks:
        summary.update(getattr(callback, "summary_extras", dict)())
    atomic_write_json(run_dir / "summary.json", summary)
    return summary
