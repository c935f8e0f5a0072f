"""The whole config: name, seed, data, model, optimizer, training, distribute."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mlcli.config.base import PositiveInt, StrictModel
from mlcli.config.data import DataConfig
from mlcli.config.models import ModelConfig
from mlcli.metrics import CONFIGURABLE

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
MetricName = Literal[CONFIGURABLE]  # the names of mlcli.metrics.TABLE that a config may choose


class Schedule(StrictModel):
    """Learning-rate schedule; epochs are converted to steps once the data size is known."""

    name: Literal["constant", "exponential", "cosine", "piecewise"] = "constant"
    warmup_epochs: Annotated[float, Field(ge=0)] = 0.0
    decay_rate: Annotated[float, Field(gt=0, le=1)] = 0.9
    decay_epochs: Annotated[float, Field(gt=0)] = 1.0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.0
    boundaries: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    values: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        if self.name == "piecewise" and len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                f"piecewise needs one more value than boundaries (got {len(self.boundaries)} "
                f"boundaries, {len(self.values)} values)"
            )
        if self.name == "piecewise" and self.boundaries != sorted(self.boundaries):
            raise ValueError("piecewise boundaries must increase")
        if self.warmup_epochs and self.name != "cosine":
            raise ValueError("warmup_epochs is supported with the cosine schedule only")
        return self


class OptimizerSpec(StrictModel):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nesterov: bool = False
    beta_1: Annotated[float, Field(ge=0, lt=1)] = 0.9
    beta_2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    weight_decay: Annotated[float, Field(ge=0)] | None = None
    clipnorm: Annotated[float, Field(gt=0)] | None = None
    clipvalue: Annotated[float, Field(gt=0)] | None = None
    schedule: Schedule = Field(default_factory=Schedule)


class OptimizerConfig(OptimizerSpec):
    """One optimizer, or for GANs separate `generator:` / `discriminator:` ones."""

    generator: OptimizerSpec | None = None
    discriminator: OptimizerSpec | None = None


Mode = Literal["auto", "min", "max"]


class EarlyStopping(StrictModel):
    """`monitor: auto` is val_loss with validation data, else loss; `mode: auto` follows the metric."""

    monitor: str = "auto"
    mode: Mode = "auto"
    patience: Annotated[int, Field(ge=0)] = 5
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    restore_best_weights: bool = True


class Checkpoint(StrictModel):
    """Which epoch `best.keras` keeps; `auto` as for early stopping (a GAN's best is its last epoch).
    An epoch is the new best when it beats the best so far by more than `min_delta`."""

    monitor: str = "auto"
    mode: Mode = "auto"
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class ReduceLrOnPlateau(StrictModel):
    monitor: str = "auto"
    mode: Mode = "auto"
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    patience: Annotated[int, Field(ge=0)] = 2
    min_lr: Annotated[float, Field(ge=0)] = 1e-6


class Training(StrictModel):
    epochs: Annotated[int, Field(gt=0, le=1_000_000)] = 10
    loss: Literal["auto", "crossentropy", "mse", "mae", "huber"] = "auto"
    metrics: list[MetricName] | None = None
    top_k: PositiveInt = 5
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    early_stopping: EarlyStopping | None = None
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    reduce_lr_on_plateau: ReduceLrOnPlateau | None = None
    jit_compile: bool | Literal["auto"] = "auto"
    mixed_precision: bool | Literal["auto"] = "auto"
    steps_per_execution: PositiveInt | Literal["auto"] = "auto"
    deterministic: bool = False
    tensorboard: bool = True
    plots: bool = True


class Distribute(StrictModel):
    """`data.batch_size` is the global batch; each replica gets batch_size / replicas."""

    strategy: Literal["auto", "none", "mirrored", "multi_worker"] = "auto"
    devices: list[str] | None = None
    collective_timeout_s: Annotated[int, Field(ge=5, le=86400)] = 300


class Sweep(StrictModel):
    """What `mlcli sweep` searches (dotted path -> `loguniform(a,b)`, `uniform(a,b)`, `int(a,b)`,
    `choice(x,y,...)`) and how trials are scored; `mlcli train` ignores this section."""

    trials: PositiveInt = 10
    params: dict[str, str] = Field(default_factory=dict)
    metric: str = "auto"  # auto: val_loss with validation data, else loss
    direction: Literal["auto", "minimize", "maximize"] = "auto"
    pruner: Literal["median", "none"] = "median"
    startup_trials: Annotated[int, Field(ge=0)] = 2  # trials that are never pruned
    warmup_epochs: Annotated[int, Field(ge=0)] = 0  # epochs of each trial that are never pruned


class Config(StrictModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    training: Training = Field(default_factory=Training)
    distribute: Distribute = Field(default_factory=Distribute)
    sweep: Sweep | None = None
