"""The fast-training CIFAR-10 preset: same network as its smoke twin, which trains through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from mlcli.config import load_config
from tests.conftest import ROOT, SMOKE, cli


def test_resnet_smoke_uses_the_preset_network_and_schedule():
    preset = load_config(ROOT / "configs/resnet_cifar10.yaml")
    smoke = load_config(SMOKE / "resnet_cifar10.yaml")
    assert smoke.model == preset.model
    assert smoke.optimizer == preset.optimizer
    assert smoke.training.label_smoothing == preset.training.label_smoothing == 0.2


def test_resnet_preset_trains_one_epoch_on_cifar_shaped_data(tmp_path: Path):
    run = tmp_path / "run"
    # 64 images: what is checked is the network, the autos and the scoring, not what it learns
    result = cli("train", SMOKE / "resnet_cifar10.yaml", "--run-dir", run, "--quiet", "--set", "data.num_samples=64")
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["params"] > 6_000_000  # ResNet-9 scale
    # `auto` as documented: XLA and mixed precision only where a GPU is (tests run on the CPU: none is visible)
    gpu = summary["device"].get("gpus", 0) > 0
    assert summary["device"]["jit_compile"] is gpu and (summary["device"]["mixed_precision"] == "mixed_float16") is gpu
    evaluated = cli("evaluate", run, "--json")
    assert abs(json.loads(evaluated.output)["accuracy"] - summary["test"]["accuracy"]) < 1e-6
