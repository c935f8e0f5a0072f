"""`auto` speed settings resolve to the measured choice on CPU and to the GPU choice on a GPU."""

from __future__ import annotations

import os

import pytest

from mlcli.config.schema import Training
from mlcli.training import device


def test_cpu_auto_turns_xla_off_float32_and_measured_steps():
    choice = device.resolve(Training(), gpus=[], gpu_details=(None, None))
    assert choice.device == "cpu" and choice.jit_compile is False
    assert choice.mixed_precision == "float32"
    assert choice.steps_per_execution == device.CPU_STEPS_PER_EXECUTION


@pytest.mark.parametrize(
    "capability, policy", [((9, 0), "mixed_bfloat16"), ((7, 5), "mixed_float16"), ((6, 1), "float32")]
)
def test_gpu_auto_turns_xla_and_mixed_precision_on(capability, policy):
    choice = device.resolve(Training(), gpus=["/physical_device:GPU:0"], gpu_details=("NVIDIA H100", capability))
    assert choice.device == "gpu" and choice.gpus == 1 and choice.jit_compile is True
    assert choice.mixed_precision == policy
    assert choice.steps_per_execution == device.GPU_STEPS_PER_EXECUTION


def test_user_can_force_either_way():
    forced = Training(jit_compile=True, mixed_precision=True, steps_per_execution=3)
    cpu = device.resolve(forced, gpus=[], gpu_details=(None, None))
    assert cpu.jit_compile is True and cpu.mixed_precision == "mixed_bfloat16" and cpu.steps_per_execution == 3
    off = Training(jit_compile=False, mixed_precision=False)
    gpu = device.resolve(off, gpus=["gpu0"], gpu_details=("A100", (8, 0)))
    assert gpu.jit_compile is False and gpu.mixed_precision == "float32"


def test_real_device_list_on_this_machine_is_resolved():
    choice = device.resolve(Training())
    assert choice.device in ("cpu", "gpu")
    assert choice.jit_compile is (choice.device == "gpu")


def test_a_distribution_strategy_turns_auto_xla_off_and_steps_to_one_but_keeps_a_forced_xla():
    gpus, details = ["gpu0", "gpu1"], ("H100", (9, 0))
    auto = device.resolve(Training(), gpus=gpus, gpu_details=details)
    assert auto.jit_compile is True and auto.under_strategy(Training()) == []  # auto: nothing to tell
    assert auto.jit_compile is False and auto.steps_per_execution == 1
    forced = Training(jit_compile=True, steps_per_execution=8)
    choice = device.resolve(forced, gpus=gpus, gpu_details=details)
    assert choice.under_strategy(forced) == ["steps_per_execution set to 1 under MirroredStrategy (keras#19246)"]
    assert choice.jit_compile is True and choice.steps_per_execution == 1


def test_onednn_is_forced_on_before_tensorflow_loads_unless_the_environment_says_otherwise(monkeypatch):
    from mlcli import tfenv

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    tfenv.speed_environment()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    tfenv.speed_environment()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
