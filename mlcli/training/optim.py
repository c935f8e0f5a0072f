"""Optimizers and learning-rate schedules from the config; schedule epochs become steps here."""

from __future__ import annotations

import keras

from mlcli.config.schema import OptimizerSpec


def schedule(spec: OptimizerSpec, steps_per_epoch: int, epochs: int):
    s = spec.schedule
    lr = spec.learning_rate
    total = max(1, steps_per_epoch * epochs)
    if s.name == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=max(1, int(s.decay_epochs * steps_per_epoch)), decay_rate=s.decay_rate
        )
    if s.name == "cosine":
        warmup = int(s.warmup_epochs * steps_per_epoch)
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0, decay_steps=max(1, total - warmup), alpha=s.alpha, warmup_target=lr, warmup_steps=warmup
            )
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total, alpha=s.alpha)
    if s.name == "piecewise":
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(b * steps_per_epoch) for b in s.boundaries], list(s.values)
        )
    return lr


def make_optimizer(spec: OptimizerSpec, steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
    lr = schedule(spec, steps_per_epoch, epochs)
    clip = {"clipnorm": spec.clipnorm, "clipvalue": spec.clipvalue}
    if spec.name == "sgd":
        return keras.optimizers.SGD(lr, momentum=spec.momentum, nesterov=spec.nesterov, **clip)
    if spec.name == "rmsprop":
        return keras.optimizers.RMSprop(lr, momentum=spec.momentum, **clip)
    if spec.name == "adamw":
        return keras.optimizers.AdamW(
            lr,
            weight_decay=spec.weight_decay if spec.weight_decay is not None else 0.004,
            beta_1=spec.beta_1,
            beta_2=spec.beta_2,
            **clip,
        )
    return keras.optimizers.Adam(lr, beta_1=spec.beta_1, beta_2=spec.beta_2, weight_decay=spec.weight_decay, **clip)
