"""The `fit` driver: one process, or several local devices under MirroredStrategy."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import keras

from mlcli.models import build_model
from mlcli.rundir import CHECKPOINTS, Stopwatch
from mlcli.training import components as setup
from mlcli.training import fine_tune
from mlcli.training.callbacks.progress import EpochTimer
from mlcli.training.distribute import get_strategy
from mlcli.training.summary import write_summary


class EpochSetter(keras.callbacks.Callback):
    """Tells the training pipeline which epoch's order to serve before Keras iterates it."""

    def __init__(self, train_data):
        super().__init__()
        self.train_data = train_data

    def on_epoch_begin(self, epoch, logs=None):
        self.train_data.current_epoch.assign(epoch)


def train(
    cfg: Any, run_dir: Path, device: Any, *, resume: bool, quiet: bool, wall: Stopwatch, extra_callbacks=None
) -> dict:
    bundle = setup.prepare_data(cfg, run_dir, resume)
    spec = bundle.spec
    resolved = setup.resolve_monitors(cfg, spec, run_dir)
    state = setup.read_resume_state(run_dir, resume)
    strategy = get_strategy(cfg.distribute, device.gpus)
    if strategy is not None:
        for note in device.under_strategy(cfg.training):
            print(f"note: {note}", flush=True)
    steps = setup.steps_per_epoch(spec, cfg.data.batch_size)
    weights = setup.class_weights(cfg, bundle)
    freeze = fine_tune.freeze_epochs(cfg)
    frozen = bool(freeze) and int((state or {}).get("epoch", 0)) <= freeze  # the phase the checkpoint was saved in
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build_model(cfg, spec)
        if freeze:
            fine_tune.set_frozen(model, frozen)
        setup.compile_model(model, fine_tune.phase_config(cfg, frozen), spec, steps, device)
        initial_epoch, es_weights = setup.restore(model, state, cfg.training.epochs, run_dir)
    if state:
        print(f"resuming after epoch {initial_epoch} of {cfg.training.epochs} ({state['_dir']})", flush=True)
    clock = Stopwatch()
    phases = [(freeze, True), (cfg.training.epochs, False)] if freeze else [(cfg.training.epochs, False)]
    epochs_run, history, callbacks = 0, None, None
    # killed after its last epoch was committed but before summary.json: finish publishing, score, summarise
    finishing = bool(state) and (initial_epoch >= cfg.training.epochs or bool(state.get("stopped")))
    for end, phase_frozen in phases:
        if finishing or initial_epoch >= end:
            continue
        if freeze and frozen and not phase_frozen:  # the boundary: unfreeze, new optimizer, state as on resume
            state = setup.read_resume_state(run_dir, True)
            es_weights = fine_tune.early_stopping_weights(state)
            with strategy.scope() if strategy else contextlib.nullcontext():
                fine_tune.set_frozen(model, False)
                setup.compile_model(model, fine_tune.phase_config(cfg, False), spec, steps, device)
            frozen = False
        callbacks, guard, writer = setup.make_callbacks(cfg, run_dir, spec, resolved, state, es_weights, quiet=quiet)
        history = model.fit(
            bundle.train_data.for_fit(),
            validation_data=bundle.val,
            epochs=end,
            initial_epoch=initial_epoch,
            callbacks=[EpochSetter(bundle.train_data), *callbacks, *(extra_callbacks or [])],
            class_weight=weights,
            verbose=0,
        )
        epochs_run += len(history.epoch)
        initial_epoch += len(history.epoch)
        if guard.where or model.stop_training or initial_epoch < end:  # NaN, early stopping or pruning
            break
    train_seconds = clock.elapsed()
    if callbacks is None:  # nothing left to train
        callbacks, guard, writer = setup.make_callbacks(cfg, run_dir, spec, resolved, state, es_weights, quiet=quiet,
                                                        progress=False)  # fmt: skip
    guard.raise_if_stopped(run_dir / CHECKPOINTS)
    replicas = strategy.num_replicas_in_sync if strategy else 1
    timer = next(c for c in callbacks if isinstance(c, EpochTimer))
    if history is not None:
        final = {k: float(v[-1]) for k, v in history.history.items() if v and k != "samples_per_sec"}
    else:  # the last committed epoch's row
        final = {k: float(v) for k, v in (writer.rows[-1] if writer.rows else {}).items() if k != "epoch"}
    reasons = [getattr(c, "stop_reason", lambda: None)() for c in extra_callbacks or []]
    if finishing and state.get("stopped"):
        reasons.append({"reason": "early_stopping", "epoch": initial_epoch,
                        "message": "stopped early before the interruption (the checkpoint says so)"})  # fmt: skip
    extras = setup.summary_extras(callbacks, initial_epoch, reasons)
    return write_summary(
        cfg,
        run_dir,
        model,
        bundle,
        writer,
        timer,
        final,
        epochs_run=epochs_run,
        initial_epoch=initial_epoch - epochs_run,
        train_seconds=train_seconds,
        wall=wall,
        extra={
            "device": {
                **device.as_dict(),
                "strategy": type(strategy).__name__ if strategy else "default",
                "replicas": replicas,
                "per_replica_batch": cfg.data.batch_size // replicas,
            },
            **extras,
        },
    )
