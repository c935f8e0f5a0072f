"""`freeze_epochs` for pretrained models: the head trains alone, then the whole network fine-tunes.

The two phases are two `fit` calls with two optimizers (Keras builds an optimizer for the variables
that are trainable when it is compiled). The second phase starts exactly as `--resume` would from the
epoch that ends the first, so a run resumed on either side of the boundary repeats the same steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcli.training import checkpoint


def freeze_epochs(cfg: Any) -> int:
    """Epochs with the backbone frozen (0 when the model is not a pretrained one being fine-tuned)."""
    model = cfg.model
    return getattr(model, "freeze_epochs", 0) if getattr(model, "trainable", False) else 0


def phase_config(cfg: Any, frozen: bool) -> Any:
    """The config the phase compiles with: after the freeze, `fine_tune_learning_rate` if given."""
    rate = getattr(cfg.model, "fine_tune_learning_rate", None)
    if frozen or rate is None:
        return cfg
    return cfg.model_copy(update={"optimizer": cfg.optimizer.model_copy(update={"learning_rate": rate})})


def set_frozen(model: Any, frozen: bool) -> None:
    """Frozen backbone layers are not trained, and Keras runs a frozen BatchNorm in inference mode."""
    model.backbone.trainable = not frozen


def early_stopping_weights(state: dict) -> list | None:
    path = Path(state["_dir"]) / checkpoint.ES_BEST
    return checkpoint.load_weight_list(path) if path.is_file() else None
