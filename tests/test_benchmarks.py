"""The benchmark figures cannot drift from what the scripts measured, and the baselines stay independent."""

from __future__ import annotations

import ast
import importlib
import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def render():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("render")
    finally:
        sys.path.remove(str(BENCH))


def test_readme_and_results_md_figures_are_exactly_what_render_writes_from_results_json(render):
    data = json.loads((BENCH / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    blocks = "presets gan_quality vs_keras epoch_writes peer_ludwig startup time_to_accuracy autos pipeline".split()
    for name in blocks:
        filled = readme.split(f"<!-- bench:{name} -->")[1].split(f"<!-- /bench:{name} -->")[0]
        assert "not measured" not in filled and "python benchmarks/" in filled, name
    assert render.fill_readme(readme, data) == readme  # a figure typed into a block would differ
    assert render.results_md(data) == (BENCH / "RESULTS.md").read_text()
    for name, section in data.items():  # every section says how to reproduce it
        assert section["command"].startswith("python benchmarks/"), name
        assert section["machine"]["cores"] >= 1 and section["versions"] and section["date"], name


def test_a_hand_edited_block_is_put_back(render):
    data = json.loads((BENCH / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    tampered = readme.replace("| `mlcli --help` | ", "| `mlcli --help` | 0.001 s, ", 1)
    assert tampered != readme and render.fill_readme(tampered, data) == readme


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


@pytest.mark.parametrize("script", ["baselines/tutorial.py", "baselines/expert.py", "baselines/shared.py",
                                    "machine_peak.py", "peer_ludwig/run.py"])  # fmt: skip
def test_baselines_do_not_import_mlcli(script):
    imported = _imports(BENCH / script)
    assert "mlcli" not in imported and imported  # parsed something


@pytest.mark.parametrize(
    "bench, seed, keys",
    [
        ("mnist_shaped", "cnn_mnist", ("model", "optimizer")),
        ("cifar_shaped", "cnn_cifar10", ("model", "optimizer")),
        ("resnet_cifar_shaped", "resnet_cifar10", ("model", "optimizer", "training")),
    ],
)
def test_benchmark_configs_train_the_seed_models(bench, seed, keys):
    a = yaml.safe_load((BENCH / "configs" / f"{bench}.yaml").read_text())
    b = yaml.safe_load((ROOT / "configs" / f"{seed}.yaml").read_text())
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
