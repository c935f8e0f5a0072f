"""Device-aware speed defaults: what `auto` means for XLA, mixed precision and steps per execution.

On CPU mlcli's `auto` leaves XLA off, as Keras 3.15's own `jit_compile="auto"` does on CPU-only
machines (keras/src/trainers/trainer.py); on GPUs XLA and mixed precision usually win, so `auto`
turns them on. (Issue 15 re-derives these choices from scripted measurements.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Chosen from benchmarks/bench_steps.py on the 2-core CPU machines (RESULTS.md): samples/s rose
# from 1 (3,304 digits; 1,689 CIFAR-shaped) to 32 (4,853; 2,500). 32 is also the most Keras allows
# with tf.data input (keras#20344); progress bars then update every 32 steps.
CPU_STEPS_PER_EXECUTION = 32
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
