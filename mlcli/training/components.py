"""What both training drivers build: data, monitors, model, compile, restore and callbacks.

The `fit` driver (`fit.py`) and the multi-worker loop (`custom_loop.py`) call these in the same
order, so a run directory means the same thing whichever wrote it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mlcli.config import monitors
from mlcli.data import DataBundle, load_dataset
from mlcli.data.inspect import summary_lines
from mlcli.errors import ConfigError, UserError
from mlcli.fileio import own_folder
from mlcli.rundir import CONFIG_FILE, SPEC_FILE
from mlcli.spec import DataSpec
from mlcli.training import checkpoint
from mlcli.training.callbacks.gan import CollapseWatch, SampleGrid
from mlcli.training.callbacks.nan_guard import NanGuard
from mlcli.training.callbacks.progress import EpochTimer, LearningRate, make_progress
from mlcli.training.callbacks.resumable import ResumableEarlyStopping, ResumablePlateau
from mlcli.training.callbacks.run_writer import RunWriter
from mlcli.training.callbacks.tensorboard import EpochTensorBoard
from mlcli.training.losses import make_loss, make_metrics
from mlcli.training.optim import make_optimizer


def set_seeds(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def prepare_data(cfg: Any, run_dir: Path, resume: bool) -> DataBundle:
    """The data, with the run's saved preprocessing when resuming (nothing is refitted)."""
    spec_path = Path(run_dir) / SPEC_FILE
    saved = DataSpec.load(spec_path) if resume and spec_path.is_file() else None
    bundle = load_dataset(cfg, saved)
    if not spec_path.is_file():
        bundle.spec.save(spec_path)
    if bundle.spec.profile:
        print("\n".join(summary_lines(bundle.spec.profile)), flush=True)
    return bundle


def resolve_monitors(cfg: Any, spec: DataSpec, run_dir: Path) -> dict[str, tuple[str | None, str]]:
    """Monitors against what this data really logs (task, and whether val has examples)."""
    try:
        return monitors.resolve_all(cfg, spec.task, spec.num_val > 0)
    except monitors.MonitorError as exc:
        raise ConfigError([f"{Path(run_dir) / CONFIG_FILE}: {'.'.join(exc.path)}: {exc}"]) from None


def class_weights(cfg: Any, bundle: DataBundle) -> dict[int, float] | None:
    """`data.class_weight` as Keras' fit takes it (class index → weight)."""
    setting = cfg.data.class_weight
    if setting is None:
        return None
    spec = bundle.spec
    if not spec.classes:
        raise ConfigError([f"data.class_weight: weighs classes, but the task is {spec.task}"])
    if setting == "balanced":
        split = bundle.raw.train
        y = np.asarray(split[1]) if isinstance(split, tuple) else np.array([int(v) for _, v in split])
        counts = np.bincount(y.astype(int), minlength=spec.num_classes)
        return {k: float(len(y) / (spec.num_classes * c)) if c else 1.0 for k, c in enumerate(counts)}
    unknown = sorted(set(setting) - set(spec.class_names))
    if unknown:
        raise ConfigError([f"data.class_weight: no class {', '.join(map(repr, unknown))}; the classes are "
                           f"{', '.join(spec.class_names)}"])  # fmt: skip
    return {k: float(setting.get(name, 1.0)) for k, name in enumerate(spec.class_names)}


def steps_per_epoch(spec: DataSpec, batch_size: int) -> int:
    return max(1, math.ceil(spec.num_train / batch_size))


def make_gan_optimizers(cfg: Any, steps: int):
    base = cfg.optimizer
    plain = base.model_copy(update={"generator": None, "discriminator": None})
    return (
        make_optimizer(base.generator or plain, steps, cfg.training.epochs),
        make_optimizer(base.discriminator or plain, steps, cfg.training.epochs),
    )


def compile_model(model, cfg: Any, spec: DataSpec, steps: int, device: Any) -> None:
    if hasattr(model, "compile_gan"):  # GAN: two optimizers, its own losses
        model.compile_gan(*make_gan_optimizers(cfg, steps), jit_compile=device.jit_compile)
        return
    model.compile(
        optimizer=make_optimizer(cfg.optimizer, steps, cfg.training.epochs),
        loss=make_loss(cfg.training, spec),
        metrics=make_metrics(cfg.training, spec),
        jit_compile=device.jit_compile,
        steps_per_execution=device.steps_per_execution,
    )
    model.optimizer.build(model.trainable_variables)  # now, so a checkpoint's optimizer state can load


def read_resume_state(run_dir: Path, resume: bool, epoch: int | None = None) -> dict | None:
    if not resume:
        return None
    state = checkpoint.read_state(run_dir, epoch)
    if epoch is not None and epoch > 0 and state is None:
        raise UserError(f"{run_dir}: has no checkpoint of epoch {epoch} (it has {checkpoint.epochs_saved(run_dir)})")
    return state


def restore(model, state: dict | None, epochs: int, run_dir: Path) -> tuple[int, list | None]:
    """Load a committed epoch into a compiled model; (epoch to start from, early-stopping weights)."""
    if not state:
        return 0, None
    initial_epoch = int(state["epoch"])  # a run whose last epoch is committed resumes only to finish publishing
    es_weights = checkpoint.restore(model, state)
    checkpoint.publish(run_dir, state, improved=state.get("best_epoch") == initial_epoch)
    return initial_epoch, es_weights


def make_callbacks(
    cfg: Any,
    run_dir: Path,
    spec: DataSpec,
    resolved: dict[str, tuple[str | None, str]],
    state: dict | None,
    es_weights: list | None,
    *,
    quiet: bool,
    progress: bool = True,
) -> tuple[list, NanGuard, RunWriter]:
    """The callbacks that write the run directory, in the order their state must settle."""
    t = cfg.training
    saved = (state or {}).get("callbacks", {})
    timer = EpochTimer(spec.num_train)
    guard = NanGuard()
    stateful: list = []
    early = None
    if t.early_stopping:
        monitor, mode = resolved["early_stopping"]
        early = ResumableEarlyStopping(
            restored=saved.get("early_stopping"),
            best_weights=es_weights,
            monitor=monitor,
            mode=mode,
            patience=t.early_stopping.patience,
            min_delta=t.early_stopping.min_delta,
            restore_best_weights=t.early_stopping.restore_best_weights,
        )
        stateful.append(early)
    if t.reduce_lr_on_plateau:
        r = t.reduce_lr_on_plateau
        monitor, mode = resolved["reduce_lr_on_plateau"]
        stateful.append(
            ResumablePlateau(
                restored=saved.get("reduce_lr_on_plateau"),
                monitor=monitor,
                mode=mode,
                factor=r.factor,
                patience=r.patience,
                min_lr=r.min_lr,
                verbose=0,
            )
        )
    monitor, mode = resolved["checkpoint"]
    writer = RunWriter(run_dir, monitor, mode, state, stateful, early_stopping=early, min_delta=t.checkpoint.min_delta)
    callbacks: list = [timer, LearningRate(), guard, *stateful, writer]
    if t.tensorboard:
        log_dir = own_folder(Path(run_dir) / "tensorboard", ("train", "validation"))
        callbacks.append(EpochTensorBoard(str(log_dir)))
    if spec.task == "generation":
        callbacks += [SampleGrid(run_dir, cfg.model.sample_every, seed=cfg.seed), CollapseWatch()]
    if progress:
        callbacks.append(make_progress(quiet, cfg.data.batch_size, cfg.training.epochs, writer))
    return callbacks, guard, writer


def summary_extras(callbacks: list, completed_epoch: int, reasons: list | None = None) -> dict:
    """What the callbacks add to summary.json (warnings, ...) and why training stopped: the first stop
    reason a callback (or `reasons`) gives, else completed at `completed_epoch`."""
    extras: dict = {}
    for callback in callbacks:
        extras.update(getattr(callback, "summary_extras", dict)())
    said = [getattr(c, "stop_reason", lambda: None)() for c in callbacks] + (reasons or [])
    extras["stopped"] = next((r for r in said if r), {"reason": "completed", "epoch": completed_epoch})
    return extras
