"""The non-training commands: they work, print what they promise, and never import TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, cli

CHECK = """
import sys
from typer.testing import CliRunner
from mlcli.cli import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == {code}, result.output
print("TF_LOADED" if "tensorflow" in sys.modules else "TF_ABSENT")
"""


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["validate", "configs/cnn_cifar10.yaml"], 0),
        (["config", "show", "configs/cnn_digits.yaml", "--set", "training.epochs=3"], 0),
        (["schema"], 0),
        (["models"], 0),
        (["datasets"], 0),
        (["validate", "tests/data/bad_configs/epochs_zero.yaml"], 2),
        (["runs", "tests/data", "--json"], 0),
        (["sweep", "--help"], 0),
        (["sweep", "configs/smoke/mlp.yaml", "--param", "model.dropout=uniform(0.5, 2)"], 2),
    ],
)
def test_command_does_not_import_tensorflow(args, code):
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(args=args, code=code)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "TF_ABSENT"


def test_config_show_applies_overrides_and_defaults():
    result = cli(
        "config", "show", ROOT / "configs/cnn_digits.yaml", "--set", "training.epochs=3", "--set", "data.batch_size=16"
    )
    assert result.exit_code == 0
    resolved = yaml.safe_load(result.output)
    assert resolved["training"]["epochs"] == 3
    assert resolved["data"]["batch_size"] == 16
    assert resolved["training"]["jit_compile"] == "auto"  # a default filled in
    assert resolved["distribute"]["strategy"] == "auto"


def test_config_show_output_validates_again(tmp_path):
    result = cli("config", "show", ROOT / "configs/cnn_cifar10.yaml")
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(result.output)
    assert cli("validate", resolved).exit_code == 0


def test_schema_is_json_schema_with_both_unions():
    schema = json.loads(cli("schema").output)
    assert schema["title"] == "Config"
    text = json.dumps(schema)
    for tag in ("cnn", "mlp", "rnn", "transformer", "gan", "tfds", "builtin", "image_folder", "csv", "npz"):
        assert f'"{tag}"' in text
    assert schema["additionalProperties"] is False


def test_models_lists_every_family_with_defaults():
    out = cli("models").output
    for family in ("cnn", "mlp", "rnn", "transformer", "gan"):
        assert f"model.type): {family}" in out
    assert "latent_dim" in out and "num_heads" in out


def test_datasets_lists_sources_and_builtins():
    out = cli("datasets").output
    for source in ("tfds", "builtin", "image_folder", "text_folder", "csv", "npz", "synthetic"):
        assert f"data.source): {source}" in out
    assert "digits" in out and "8x8x1" in out and "co2" in out


def test_every_shipped_config_validates():
    """The schema always; the data too where it ships (mlp_tabular.yaml names the user's own CSV)."""
    configs = sorted((ROOT / "configs").rglob("*.yaml"))
    assert len(configs) >= 10
    for config in configs:
        result = cli("validate", config, "--no-data")
        assert result.exit_code == 0, (config, result.output)
    tabular = cli("validate", ROOT / "configs" / "mlp_tabular.yaml")
    assert tabular.exit_code == 2 and "data.path: data/diabetes.csv: no such CSV file" in tabular.output


def test_version():
    assert cli("--version").output.startswith("mlcli ")
