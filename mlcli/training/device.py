"""Device-aware speed defaults: what `auto` means for XLA, mixed precision and steps per execution.

On CPU mlcli's `auto` leaves XLA off, as Keras 3.15's own `jit_compile="auto"` does on CPU-only
machines and under tf.distribute (keras/src/trainers/trainer.py; fit.py applies the latter); on one
GPU XLA and mixed precision usually win, so `auto` turns them on. benchmarks/bench_autos.py measures
the CPU choices and benchmarks/bench_gpu.py the GPU ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# CPU: 8, from benchmarks/bench_autos.py (README, *Where each auto comes from*): 1 is slower on both
# seed CNNs, 8 and 32 are level within the spread of rounds, and 8 checks for NaN and updates progress
# four times as often. GPU: 32, the most Keras allows with tf.data input (keras#20344); not measured
# here (no GPU lent; make bench-gpu).
CPU_STEPS_PER_EXECUTION = 8
GPU_STEPS_PER_EXECUTION = 32


@dataclass
class DeviceChoice:
    device: str  # "cpu" or "gpu"
    gpus: int
    gpu_name: str | None
    jit_compile: bool
    mixed_precision: str  # keras dtype policy name
    steps_per_execution: int

    def as_dict(self) -> dict:
        return asdict(self)

    def under_strategy(self, training: Any) -> list[str]:
        """A tf.distribute strategy changes two choices; returns what to tell a user who set them.

        XLA: Keras' own `auto` turns it off under a strategy, and nobody here measured it faster.
        steps_per_execution: 1, because the multi-step loop's conditionals fail in a MirroredStrategy
        replica context (keras#19246).
        """
        notes = []
        if training.jit_compile == "auto":
            self.jit_compile = False
        if self.steps_per_execution > 1:
            if training.steps_per_execution != "auto":
                notes.append("steps_per_execution set to 1 under MirroredStrategy (keras#19246)")
            self.steps_per_execution = 1
        return notes


def _gpu_details(gpus: list) -> tuple[str | None, tuple[int, int] | None]:
    if not gpus:
        return None, None
    import tensorflow as tf

    try:
        details = tf.config.experimental.get_device_details(gpus[0])
    except (ValueError, RuntimeError):
        return None, None
    return details.get("device_name"), details.get("compute_capability")


def resolve(training: Any, gpus: list | None = None, gpu_details: tuple | None = None) -> DeviceChoice:
    """Turn `auto` settings into concrete ones for the devices TensorFlow sees (or those given)."""
    if gpus is None:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    name, capability = gpu_details if gpu_details is not None else _gpu_details(gpus)
    on_gpu = bool(gpus)
    jit = training.jit_compile if training.jit_compile != "auto" else on_gpu
    if training.mixed_precision == "auto":
        if on_gpu and capability and capability >= (8, 0):
            policy = "mixed_bfloat16"
        elif on_gpu and capability and capability >= (7, 0):
            policy = "mixed_float16"
        else:
            policy = "float32"
    elif training.mixed_precision:
        policy = "mixed_float16" if on_gpu else "mixed_bfloat16"
    else:
        policy = "float32"
    spe = training.steps_per_execution
    if spe == "auto":
        spe = GPU_STEPS_PER_EXECUTION if on_gpu else CPU_STEPS_PER_EXECUTION
    return DeviceChoice("gpu" if on_gpu else "cpu", len(gpus), name, bool(jit), policy, int(spe))
