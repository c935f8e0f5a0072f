"""Which tf.distribute strategy a run uses; `data.batch_size` is always the global batch."""

from __future__ import annotations

import json
import os
from typing import Any

from mlcli.errors import UserError


def get_strategy(dist: Any, gpus: int):
    """None (default strategy) for one device; MirroredStrategy for several GPUs or when asked."""
    import tensorflow as tf

    strategy = dist.strategy
    if strategy == "auto":
        return tf.distribute.MirroredStrategy() if gpus > 1 else None
    if strategy == "none":
        return None
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy(devices=dist.devices or None)
    return None  # multi_worker runs its own loop (mlcli.train.multi_worker)


def tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserError("distribute.strategy multi_worker needs TF_CONFIG (cluster and task); see README")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"TF_CONFIG is not valid JSON: {exc}") from None
