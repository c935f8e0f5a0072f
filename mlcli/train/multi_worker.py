"""Multi-host training on Keras 3: a custom `strategy.run` loop under MultiWorkerMirroredStrategy.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras#20585), while a loop of
`strategy.run` over Keras layers with `optimizer.apply` runs every worker in lockstep. Everything
else stays the same: the callbacks that write checkpoints, metrics.csv and the resume state are
driven through a `CallbackList`; the chief shows progress and owns the run directory, the other
workers write theirs under `<run_dir>/workers/worker-<i>/` (so each can resume on its own).
`data.batch_size` is the global batch; each replica gets batch_size / replicas; the learning rate
is not rescaled.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mlcli.errors import TrainingFailed, UserError


def _step_functions(strategy, model, optimizer, loss_fn, classes: bool, binary: bool):
    import tensorflow as tf

    def stats(y, out, per_example):
        y = tf.reshape(y, (-1,))
        if classes:
            pred = tf.cast(tf.reshape(out, (-1,)) > 0, tf.int32) if binary else tf.argmax(out, -1, tf.int32)
            extra = tf.reduce_sum(tf.cast(pred == tf.cast(y, tf.int32), tf.float32))
            extra2 = tf.constant(0.0)
        else:
            err = tf.reshape(out, (tf.shape(out)[0], -1)) - tf.reshape(tf.cast(y, out.dtype), (tf.shape(out)[0], -1))
            extra, extra2 = tf.reduce_sum(tf.reduce_mean(tf.abs(err), -1)), tf.reduce_sum(tf.reduce_mean(err**2, -1))
        return tf.stack([tf.reduce_sum(per_example), tf.cast(tf.size(per_example), tf.float32), extra, extra2])

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            per_example = loss_fn(y, out)
            loss = tf.nn.compute_average_loss(per_example)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return stats(y, out, per_example)

    @tf.function
    def train_step(iterator):
        x, y = next(iterator)
        return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y)), axis=None)

    return train_step


def _logs(totals, classes: bool, prefix: str = "") -> dict:
    loss_sum, count, a, b = (float(v) for v in totals)
    count = max(count, 1.0)
    if classes:
        return {f"{prefix}loss": loss_sum / count, f"{prefix}accuracy": a / count}
    return {f"{prefix}loss": loss_sum / count, f"{prefix}mae": a / count, f"{prefix}rmse": math.sqrt(b / count)}


def _validation(model, dataset, spec) -> dict:
    """Scored locally on every worker (same weights, same data, same numbers): no collectives."""
    from mlcli.train.scoring import score

    if dataset is None:
        return {}
    result = score(model, dataset, spec)
    keys = ("loss", "accuracy") if spec.task == "classification" else ("loss", "mae", "rmse")
    return {f"val_{k}": result[k] for k in keys}


def train(cfg: Any, run_dir: Path, strategy, *, resume: bool, quiet: bool, is_chief: bool, wall) -> dict:
    import keras
    import tensorflow as tf

    from mlcli.models import build_model
    from mlcli.train.metrics import is_binary, make_loss
    from mlcli.train.optim import make_optimizer
    from mlcli.train.progress import EpochTimer
    from mlcli.train.rundir import Stopwatch, atomic_write_json
    from mlcli.train.trainer import make_callbacks, prepare_run, restore

    if cfg.model.type == "gan":
        raise UserError("distribute.strategy multi_worker does not support GANs yet; use none or mirrored")
    bundle, state = prepare_run(cfg, run_dir, resume)
    spec = bundle.spec
    steps = spec.num_train // cfg.data.batch_size
    if steps < 1:
        raise UserError(
            f"data.batch_size ({cfg.data.batch_size}) is larger than the {spec.num_train} training "
            "examples; multi-worker steps use whole global batches"
        )
    classes = spec.task == "classification"
    with strategy.scope():
        model = build_model(cfg, spec)
        optimizer = make_optimizer(cfg.optimizer, steps, cfg.training.epochs)
        loss_fn = make_loss(cfg.training, spec)
        model.compile(optimizer=optimizer, loss=loss_fn)  # attaches the optimizer for saving; fit is not used
        optimizer.build(model.trainable_variables)
        loss_fn.reduction = None
        initial_epoch, rows = restore(model, run_dir, state, cfg.training.epochs)
    train_step = _step_functions(strategy, model, optimizer, loss_fn, classes, is_binary(spec))
    distributed = strategy.experimental_distribute_dataset(bundle.train)

    t = cfg.training
    callbacks, guard, writer = make_callbacks(
        cfg, run_dir, steps * cfg.data.batch_size, rows, state, quiet=quiet, progress=is_chief, custom_loop=True
    )
    timer = next(c for c in callbacks if isinstance(c, EpochTimer))
    callback_list = keras.callbacks.CallbackList(callbacks, model=model, epochs=t.epochs, steps=steps, verbose=0)
    clock = Stopwatch()
    history: list[dict] = []
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, t.epochs):
        callback_list.on_epoch_begin(epoch)
        iterator = iter(distributed)
        totals = tf.zeros(4)
        for step in range(steps):
            batch_totals = train_step(iterator)
            totals += batch_totals
            callback_list.on_train_batch_end(step, _logs(batch_totals, classes))
            if model.stop_training:
                break
        callback_list.on_test_begin()
        logs = {**_logs(totals, classes), **_validation(model, bundle.val, spec)}
        callback_list.on_test_end()
        callback_list.on_epoch_end(epoch, logs)
        history.append(logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    if guard.where:
        raise TrainingFailed(
            f"training stopped: {guard.where}; lower optimizer.learning_rate or add "
            f"optimizer.clipnorm. Last good checkpoints kept in {run_dir / 'checkpoints'}"
        )
    summary = {
        "name": cfg.name,
        "epochs_run": len(history),
        "initial_epoch": initial_epoch,
        "final_epoch": initial_epoch + len(history),
        "train_time_s": round(clock.elapsed(), 3),
        "train": {k: v for k, v in history[-1].items() if not k.startswith("val_")} if history else {},
        "val": {k[4:]: v for k, v in history[-1].items() if k.startswith("val_")} if history else {},
        "samples_per_sec": sorted(timer.rates[1:] or timer.rates)[len(timer.rates[1:] or timer.rates) // 2]
        if timer.rates
        else None,
        "distribute": {
            "strategy": "multi_worker",
            "workers": strategy.extended._num_workers,
            "replicas": strategy.num_replicas_in_sync,
            "global_batch": cfg.data.batch_size,
            "per_replica_batch": cfg.data.batch_size // strategy.num_replicas_in_sync,
            "chief": is_chief,
        },
        "params": int(model.count_params()),
    }
    if is_chief and bundle.test is not None:
        from mlcli.train.scoring import score

        test = score(model, bundle.test, spec, t.top_k)
        summary["test"] = {k: v for k, v in test.items() if k not in ("per_class", "confusion_matrix")}
    summary["wall_time_s"] = round(wall.elapsed(), 3)
    atomic_write_json(run_dir / "summary.json", summary)
    if is_chief and t.plots:
        from mlcli.train.plots import curves

        curves(writer.rows, run_dir / "plots" / "curves.png")
    return summary
