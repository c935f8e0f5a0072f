"""Model builders, one module per family, looked up by the config's `model.type`.

`build_model(cfg, spec)` reads shapes only from the dataset spec; the output head comes from
the spec (logits for classes, linear for regression/forecast), never from the family.
"""

from __future__ import annotations

from typing import Any

from mlcli.errors import ConfigError
from mlcli.models import cnn, gan, mlp, pretrained, rnn, transformer  # noqa: E402,F401  (each registers its family)
from mlcli.models.registry import MODELS  # noqa: E402


def build_model(cfg: Any, spec: Any):
    """The keras.Model for `cfg.model` on data described by `spec`; shape problems exit 2."""
    model_cfg = cfg.model
    if hasattr(model_cfg, "check_input") and spec.kind == "image":
        problems = model_cfg.check_input(tuple(spec.input_shape))
        if problems:
            raise ConfigError([f"model.{'.'.join(map(str, p))}: {m}" for p, m in problems])
    if spec.kind == "table" and model_cfg.type != "mlp":
        raise ConfigError(
            [
                f"model.type: {model_cfg.type!r} cannot read a table of mixed columns; use mlp (a CSV whose only "
                "feature is a text column trains with rnn or transformer)"
            ]
        )
    return MODELS.get(model_cfg.type)(model_cfg, spec, cfg)
