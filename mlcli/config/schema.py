"""The whole config: name, seed, data, model, optimizer, training, distribute."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mlcli.config.base import PositiveInt, StrictModel
from mlcli.config.data import DataConfig
from mlcli.config.models import ModelConfig
from mlcli.metrics import CONFIGURABLE

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
MetricName = Literal[CONFIGURABLE]  # the names of mlcli.metrics.TABLE that a config may choose


class Schedule(StrictModel):
    """Learning-rate schedule; epochs are converted to steps once the data size is known."""

    name: Literal["constant", "exponential", "cosine", "piecewise"] = "constant"
    """constant, exponential (per-step decay), cosine (to alpha x rate) or piecewise (values between boundaries)."""
    warmup_epochs: Annotated[float, Field(ge=0)] = 0.0
    """cosine: epochs of linear warm-up from 0 to the rate."""
    decay_rate: Annotated[float, Field(gt=0, le=1)] = 0.9
    """exponential: factor per decay_epochs."""
    decay_epochs: Annotated[float, Field(gt=0)] = 1.0
    """exponential: epochs per decay_rate."""
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.0
    """cosine: the final rate as a fraction of the initial one."""
    boundaries: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    """piecewise: epochs where the rate changes."""
    values: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    """piecewise: one more rate than boundaries."""

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
    """sgd, adam, adamw or rmsprop."""
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    """The (initial) learning rate."""
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """sgd and rmsprop momentum."""
    nesterov: bool = False
    """sgd: Nesterov momentum."""
    beta_1: Annotated[float, Field(ge=0, lt=1)] = 0.9
    """adam/adamw: first-moment decay."""
    beta_2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    """adam/adamw: second-moment decay."""
    weight_decay: Annotated[float, Field(ge=0)] | None = None
    """Decoupled weight decay (adamw default 0.004)."""
    clipnorm: Annotated[float, Field(gt=0)] | None = None
    """Clip each gradient to this norm."""
    clipvalue: Annotated[float, Field(gt=0)] | None = None
    """Clip each gradient element to ± this value."""
    schedule: Schedule = Field(default_factory=Schedule)
    """How the learning rate changes over training."""


class OptimizerConfig(OptimizerSpec):
    """One optimizer, or for GANs separate `generator:` / `discriminator:` ones."""

    generator: OptimizerSpec | None = None
    """GANs: the generator's optimizer (default: the fields above)."""
    discriminator: OptimizerSpec | None = None
    """GANs: the discriminator's optimizer (default: the fields above)."""


Mode = Literal["auto", "min", "max"]


class EarlyStopping(StrictModel):
    """`monitor: auto` is val_loss with validation data, else loss; `mode: auto` follows the metric."""

    monitor: str = "auto"
    """A logged name (loss, a metric, or its val_ twin); auto = val_loss with validation data, else loss."""
    mode: Mode = "auto"
    """min or max; auto takes the metric's direction."""
    patience: Annotated[int, Field(ge=0)] = 5
    """Epochs without improvement before stopping."""
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    """How much better than the best an epoch must be to count as an improvement."""
    restore_best_weights: bool = True
    """End with the best epoch's weights."""


class Checkpoint(StrictModel):
    """Which epoch `best.keras` keeps; `auto` as for early stopping (a GAN's best is its last epoch).
    An epoch is the new best when it beats the best so far by more than `min_delta`."""

    monitor: str = "auto"
    """What best.keras keeps the best of; auto as for early stopping (a GAN's best is its last epoch)."""
    mode: Mode = "auto"
    """min or max; auto takes the metric's direction."""
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    """How much better than the best an epoch must be to become the new best."""


class ReduceLrOnPlateau(StrictModel):
    monitor: str = "auto"
    """A logged name; auto as for early stopping."""
    mode: Mode = "auto"
    """min or max; auto takes the metric's direction."""
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    """Multiply the learning rate by this on a plateau."""
    patience: Annotated[int, Field(ge=0)] = 2
    """Epochs without improvement before reducing."""
    min_lr: Annotated[float, Field(ge=0)] = 1e-6
    """Never reduce below this."""


class Training(StrictModel):
    epochs: Annotated[int, Field(gt=0, le=1_000_000)] = 10
    """Epochs to train (raise it on --resume to train longer)."""
    loss: Literal["auto", "crossentropy", "mse", "mae", "huber"] = "auto"
    """auto: crossentropy for classes, mse for values."""
    metrics: list[MetricName] | None = None
    """Logged every epoch (and their val_ twins): accuracy, top_k, precision, recall, f1 for classes; mae, rmse,
    mse for values."""
    top_k: PositiveInt = 5
    """k of the top_k metric."""
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Crossentropy label smoothing."""
    early_stopping: EarlyStopping | None = None
    """Stop when a monitored value stops improving."""
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    """Which epoch best.keras keeps."""
    reduce_lr_on_plateau: ReduceLrOnPlateau | None = None
    """Lower the learning rate when a monitored value stops improving (constant schedule only)."""
    jit_compile: bool | Literal["auto"] = "auto"
    """XLA compilation; auto = on for one GPU, off on CPU and under tf.distribute."""
    mixed_precision: bool | Literal["auto"] = "auto"
    """auto = bfloat16 on GPUs with compute capability ≥ 8, float16 on 7.x, float32 on CPU."""
    steps_per_execution: PositiveInt | Literal["auto"] = "auto"
    """Training steps per tf.function call; auto = 8 on CPU, 32 on GPU, 1 under MirroredStrategy."""
    deterministic: bool = False
    """Op determinism (and oneDNN off on CPU): identical runs, byte-identical resumes."""
    tensorboard: bool = True
    """Write TensorBoard logs to tensorboard/."""
    plots: bool = True
    """Write plots/curves.png."""


class Distribute(StrictModel):
    """`data.batch_size` is the global batch; each replica gets batch_size / replicas."""

    strategy: Literal["auto", "none", "mirrored", "multi_worker"] = "auto"
    """auto (MirroredStrategy on several GPUs), none, mirrored, or multi_worker (TF_CONFIG or Slurm)."""
    devices: list[str] | None = None
    """mirrored: the devices to use, e.g. [/gpu:0, /gpu:1]."""
    collective_timeout_s: Annotated[int, Field(ge=5, le=86400)] = 300
    """multi_worker: seconds to wait for a peer to start or answer."""


class Sweep(StrictModel):
    """What `mlcli sweep` searches (dotted path -> `loguniform(a,b)`, `uniform(a,b)`, `int(a,b)`,
    `choice(x,y,...)`) and how trials are scored; `mlcli train` ignores this section."""

    trials: PositiveInt = 10
    """Finished trials the study should reach."""
    params: dict[str, str] = Field(default_factory=dict)
    """Dotted config path → loguniform(a,b), uniform(a,b), int(a,b) or choice(x,y,...)."""
    metric: str = "auto"
    """What trials are scored on (a trial's value is its best epoch's); auto = val_loss, else loss."""
    direction: Literal["auto", "minimize", "maximize"] = "auto"
    """minimize or maximize; auto takes the metric's direction."""
    pruner: Literal["median", "none"] = "median"
    """median: stop a trial whose metric is below the median of earlier trials at the same epoch."""
    startup_trials: Annotated[int, Field(ge=0)] = 5
    """Trials that finish before pruning starts."""
    warmup_epochs: Annotated[int, Field(ge=1)] = 1
    """Epochs of every trial that are never pruned (at least 1: one epoch says little)."""


class MlflowTracking(StrictModel):
    """Log the run to MLflow (`pip install 'mlcli[mlflow]'`): params, every epoch's metrics, artifacts."""

    uri: str | None = None
    """Tracking URI; default MLFLOW_TRACKING_URI, else sqlite:///mlruns.db (`mlflow ui --backend-store-uri` it)."""
    experiment: str | None = None
    """Experiment name (default: the config's name)."""
    run_name: str | None = None
    """MLflow run name (default: the run directory's name)."""
    best_effort: bool = False
    """false: a tracker that cannot be reached is exit 2 before training; true: warn and train untracked."""


class Tracking(StrictModel):
    mlflow: MlflowTracking | None = None
    """MLflow tracking (also on, with defaults, when MLFLOW_TRACKING_URI is set)."""


class Config(StrictModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    """Names the run directory runs/<name>/<time> (default: the config file's name)."""
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    """Seeds Python, NumPy, TensorFlow, every split, shuffle and augmentation."""
    data: DataConfig
    """Where the data comes from and how it is prepared."""
    model: ModelConfig
    """The network; its output head always comes from the data."""
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    """The optimizer and its learning-rate schedule."""
    training: Training = Field(default_factory=Training)
    """Epochs, loss, metrics, callbacks and speed settings."""
    distribute: Distribute = Field(default_factory=Distribute)
    """Devices and hosts to train on."""
    tracking: Tracking = Field(default_factory=Tracking)
    """Experiment trackers the run also logs to (MLflow)."""
    sweep: Sweep | None = None

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, name: str) -> str:
        if name.strip(".") == "":
            raise ValueError(f"{name!r} would write runs outside runs/<name>; use letters, digits, _ . -")
        return name
    """What `mlcli sweep` searches; `mlcli train` ignores it."""
