"""Model builders, one module per family, looked up by the config's `model.type`.

`build_model(cfg, spec)` reads shapes only from the dataset spec; the output head comes from
the spec (logits for classes, linear for regression/forecast), never from the family.
"""

from __future__ import annotations

import importlib
from typing import Any

from mlcli.errors import ConfigError

# model.type -> module providing `build(model_cfg, spec, cfg)`; adding a family adds one line.
BUILDERS = {
    "cnn": "mlcli.models.cnn",
    "mlp": "mlcli.models.mlp",
    "rnn": "mlcli.models.rnn",
    "transformer": "mlcli.models.transformer",
    "gan": "mlcli.models.gan",
}


def build_model(cfg: Any, spec: Any):
    """The keras.Model for `cfg.model` on data described by `spec`; shape problems exit 2."""
    model_cfg = cfg.model
    if hasattr(model_cfg, "check_input") and spec.kind == "image":
        problems = model_cfg.check_input(tuple(spec.input_shape))
        if problems:
            raise ConfigError([f"model.{'.'.join(map(str, p))}: {m}" for p, m in problems])
    module = importlib.import_module(BUILDERS[model_cfg.type])
    return module.build(model_cfg, spec, cfg)
