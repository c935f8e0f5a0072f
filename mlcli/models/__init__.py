"""Model builders, one module per family, looked up by the config's `model.type`.

`build_model(cfg, spec)` reads everything about the data from the spec: the input kind builds the
model's inputs (`spec.input.model_inputs()`), the task sizes the head (`spec.output_units()`); a family
decides only its own layers.
"""

from __future__ import annotations

from typing import Any

from mlcli.errors import ConfigError
from mlcli.models import cnn, gan, mlp, pretrained, rnn, transformer  # noqa: F401  (each registers its family)
from mlcli.models.registry import MODELS
from mlcli.spec import DataSpec


def build_model(cfg: Any, spec: DataSpec):
    """The keras.Model for `cfg.model` on data described by `spec`; shape problems exit 2."""
    model_cfg = cfg.model
    problem = model_cfg.reads_kind(spec.kind)
    if problem:
        raise ConfigError([f"model.type: {problem}"])
    if len(spec.input_shape) == 3:
        problems = model_cfg.check_input(tuple(spec.input_shape))
        if problems:
            raise ConfigError([f"model.{'.'.join(map(str, p))}: {m}" for p, m in problems])
    return MODELS.get(model_cfg.type)(model_cfg, spec, cfg)
