"""Which tf.distribute strategy a run uses; `data.batch_size` is always the global batch.

`auto`: one device → no strategy; several GPUs → MirroredStrategy (with `fit`). `multi_worker`
reads TF_CONFIG (or Slurm's environment through TF's SlurmClusterResolver) and trains with the
custom loop in `multi_worker.py`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mlcli.errors import UserError


def get_strategy(dist: Any, gpus: int):
    """None (default strategy) for one device; MirroredStrategy for several GPUs or when asked."""
    import tensorflow as tf

    if dist.strategy == "auto":
        return tf.distribute.MirroredStrategy() if gpus > 1 else None
    if dist.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(devices=dist.devices or None)
    return None  # none; multi_worker runs its own loop (mlcli.train.multi_worker)


def tf_config() -> dict | None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"TF_CONFIG is not valid JSON: {exc}") from None
    if "cluster" not in config or "task" not in config:
        raise UserError("TF_CONFIG needs both 'cluster' and 'task' (see README: multi-host training)")
    return config


def task_role() -> tuple[bool, int]:
    """(is_chief, worker index) of this process, from TF_CONFIG or Slurm; needs no TensorFlow."""
    config = tf_config()
    if config is not None:
        task = config["task"]
        has_chief = "chief" in config["cluster"]
        index = int(task.get("index", 0))
        is_chief = task.get("type") == "chief" or (not has_chief and task.get("type") == "worker" and index == 0)
        return is_chief, index + (1 if has_chief and task.get("type") == "worker" else 0)
    if "SLURM_PROCID" in os.environ:
        index = int(os.environ["SLURM_PROCID"])
        return index == 0, index
    raise UserError("distribute.strategy multi_worker needs TF_CONFIG (or a Slurm job); see README")


def multi_worker_strategy():
    """MultiWorkerMirroredStrategy from TF_CONFIG, or from Slurm through TF's cluster resolver."""
    import tensorflow as tf

    if tf_config() is None and "SLURM_PROCID" in os.environ:
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    return tf.distribute.MultiWorkerMirroredStrategy()
