"""Multi-host training on Keras 3: a `strategy.run` loop under MultiWorkerMirroredStrategy.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras#20585); a loop of `strategy.run`
over Keras layers with `optimizer.apply` runs every worker in lockstep. Everything else is the
`fit` driver's: the same setup, callbacks, checkpoints and summary. Per step the loop all-gathers
labels and outputs so every configured Keras metric sees the whole global batch; BatchNorm's
moving statistics are averaged across workers at each epoch end; validation is
scored locally on every worker (same weights, same data) with regularisation in `val_loss`; the
test split is scored by the chief on the best checkpoint.

On resume the workers agree on the newest epoch that every one of them has committed (each keeps
its last two), so they restart in lockstep even if a kill landed between two workers' writes.
`data.batch_size` is the global batch; each replica gets batch_size / replicas; the learning rate
is not rescaled; each epoch uses whole global batches only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from mlcli.errors import TrainingFailed, UserError
from mlcli.models import build_model
from mlcli.rundir import CHECKPOINTS, Stopwatch, epochs_saved
from mlcli.training import components as setup
from mlcli.training.callbacks.progress import EpochTimer
from mlcli.training.distribute import peer_failure
from mlcli.training.losses import make_loss, make_metrics
from mlcli.training.summary import write_summary


def _agreed_epoch(strategy, run_dir: Path, resume: bool) -> int:
    """The newest epoch committed by every worker (all-gathered, so all decide alike)."""
    mine = max(epochs_saved(run_dir), default=0) if resume else 0
    gathered = strategy.gather(strategy.run(lambda: tf.constant([mine], tf.int64)), axis=0)
    return int(tf.reduce_min(gathered).numpy())


def _step_function(strategy, model, loss_fn, metrics: list, loss_tracker):
    optimizer = model.optimizer  # a LossScaleOptimizer under mixed_float16 (Keras' compile wraps it)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            per_example = loss_fn(y, out)
            loss = tf.nn.compute_average_loss(per_example)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss, y, tf.cast(out, tf.float32)

    @tf.function
    def train_step(iterator):
        x, y = next(iterator)
        loss, y_local, out_local = strategy.run(replica_step, args=(x, y))
        batch_loss = strategy.reduce("SUM", loss, axis=None)
        y_all, out_all = strategy.gather(y_local, axis=0), strategy.gather(out_local, axis=0)
        # the gather loses the static shape; without it Keras' metrics cannot squeeze a (batch, 1) logit to
        # (batch,) labels and broadcast them to (batch, batch): a binary accuracy read 0.5 whatever the model
        y_all, out_all = (tf.ensure_shape(gathered, [None, *strategy.experimental_local_results(local)[0].shape[1:]])
                          for gathered, local in ((y_all, y_local), (out_all, out_local)))  # fmt: skip
        loss_tracker.update_state(batch_loss)
        for metric in metrics:
            metric.update_state(y_all, out_all)
        return batch_loss

    return train_step


def _state_sync(strategy, model):
    """Average non-trainable float state (BatchNorm moving statistics) across workers.

    Keras creates those variables with aggregation "none", so under this loop each worker would
    keep the statistics of its own half of every batch and the workers' models would drift apart.
    The moving average is linear, so averaging once per epoch equals averaging every step.
    """
    variables = [v for v in model.non_trainable_variables if v.dtype.startswith("float")]
    if not variables:
        return lambda: None

    @tf.function
    def sync():
        local = strategy.run(lambda: [tf.identity(v.value) for v in variables])
        for variable, value in zip(variables, local):
            variable.assign(strategy.reduce("MEAN", value, axis=None))

    return sync


def _evaluate(model, dataset, loss_fn, metrics: list, prefix: str) -> dict:
    """Keras-equivalent scoring on one worker: mean batch loss plus regularisation, each metric."""
    if dataset is None:
        return {}
    tracker = keras.metrics.Mean()
    for metric in metrics:
        metric.reset_state()
    for x, y in dataset:
        out = tf.cast(model(x, training=False), tf.float32)
        loss = tf.reduce_mean(loss_fn(y, out))
        if model.losses:
            loss += tf.add_n(model.losses)
        tracker.update_state(loss, sample_weight=tf.cast(tf.shape(y)[0], tf.float32))
        for metric in metrics:
            metric.update_state(y, out)
    return {f"{prefix}loss": float(tracker.result()), **{f"{prefix}{m.name}": float(m.result()) for m in metrics}}


def train(cfg: Any, run_dir: Path, strategy, device: Any, *, resume: bool, quiet: bool, is_chief: bool, wall) -> dict:
    if cfg.model.task_override == "generation":
        raise UserError("distribute.strategy multi_worker does not support GANs yet; use none or mirrored")
    try:
        return _train(cfg, run_dir, strategy, device, resume=resume, quiet=quiet, is_chief=is_chief, wall=wall)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError) as exc:
        raise TrainingFailed(peer_failure(exc, run_dir)) from None


def _train(cfg: Any, run_dir: Path, strategy, device: Any, *, resume: bool, quiet: bool, is_chief: bool, wall) -> dict:
    bundle = setup.prepare_data(cfg, run_dir, resume)
    spec = bundle.spec
    resolved = setup.resolve_monitors(cfg, spec, run_dir)
    train_data = bundle.train_data.with_drop_remainder()
    steps = train_data.steps_per_epoch
    if steps < 1:
        raise UserError(
            f"data.batch_size ({cfg.data.batch_size}) is larger than the {spec.num_train} training "
            "examples; multi-worker steps use whole global batches"
        )
    agreed = _agreed_epoch(strategy, run_dir, resume)
    state = setup.read_resume_state(run_dir, resume and agreed > 0, agreed)
    with strategy.scope():
        model = build_model(cfg, spec)
        setup.compile_model(model, cfg, spec, steps, device)  # builds the optimizer; fit is not used
        initial_epoch, es_weights = setup.restore(model, state, cfg.training.epochs, run_dir)
    if state and is_chief:  # as a single process says it (the chief alone shows progress)
        print(f"resuming after epoch {initial_epoch} of {cfg.training.epochs} ({state['_dir']})", flush=True)
    loss_fn = make_loss(cfg.training, spec)
    loss_fn.reduction = None
    train_metrics, val_metrics = make_metrics(cfg.training, spec), make_metrics(cfg.training, spec)
    loss_tracker = keras.metrics.Mean(name="loss")
    train_step = _step_function(strategy, model, loss_fn, train_metrics, loss_tracker)
    sync_state = _state_sync(strategy, model)

    callbacks, guard, writer = setup.make_callbacks(
        cfg, run_dir, spec, resolved, state, es_weights, quiet=quiet, progress=is_chief
    )
    timer = next(c for c in callbacks if isinstance(c, EpochTimer))
    timer.samples_per_epoch = steps * cfg.data.batch_size
    t = cfg.training
    callback_list = keras.callbacks.CallbackList(callbacks, model=model, epochs=t.epochs, steps=steps, verbose=0)
    clock = Stopwatch()
    history: list[dict] = []
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, t.epochs):
        callback_list.on_epoch_begin(epoch)
        loss_tracker.reset_state()
        for metric in train_metrics:
            metric.reset_state()
        iterator = iter(strategy.experimental_distribute_dataset(train_data.epoch(epoch)))
        for step in range(steps):
            batch_loss = train_step(iterator)
            callback_list.on_train_batch_end(step, {"loss": float(batch_loss)})
            if model.stop_training:
                break
        sync_state()
        logs = {"loss": float(loss_tracker.result()), **{m.name: float(m.result()) for m in train_metrics}}
        callback_list.on_test_begin()
        logs.update(_evaluate(model, bundle.val, loss_fn, val_metrics, "val_"))
        callback_list.on_test_end()
        callback_list.on_epoch_end(epoch, logs)
        history.append(logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    guard.raise_if_stopped(run_dir / CHECKPOINTS)
    extras = setup.summary_extras(callbacks, initial_epoch + len(history))
    return write_summary(
        cfg,
        run_dir,
        model,
        bundle,
        writer,
        timer,
        history[-1] if history else {},
        epochs_run=len(history),
        initial_epoch=initial_epoch,
        train_seconds=clock.elapsed(),
        wall=wall,
        score_test=is_chief,  # the chief scores the test split
        extra={
            **extras,
            "device": device.as_dict(),
            "distribute": {
                "strategy": "multi_worker",
                "workers": strategy.extended._num_workers,
                "replicas": strategy.num_replicas_in_sync,
                "global_batch": cfg.data.batch_size,
                "per_replica_batch": cfg.data.batch_size // strategy.num_replicas_in_sync,
                "chief": is_chief,
            },
        },
    )
