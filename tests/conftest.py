"""Shared helpers: run the real CLI in-process (fast) or as a subprocess (signals, isolation)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcli.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke"


def cli(*args: str):
    """Invoke `mlcli ARGS` in this process; returns Click's Result (exit_code, output)."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


# the console script pip installed beside this interpreter: what a user's shell runs
MLCLI = [str(Path(sys.executable).parent / "mlcli")] if (Path(sys.executable).parent / "mlcli").exists() else [
    sys.executable, "-m", "mlcli"]  # fmt: skip


def like_a_terminal() -> None:
    """In a child, before exec: Ctrl-C delivers SIGINT as in a shell's foreground job. A test run started in
    the background (`make test &`, CI runners) inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt, so the Ctrl-C promises would go untested or fail for the wrong reason."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_subprocess(*args: str, timeout: float = 300, env: dict | None = None, **kwargs):
    """Run the `mlcli` console script in a fresh process, as a user types it."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [*MLCLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=kwargs.pop("cwd", ROOT),
        preexec_fn=kwargs.pop("preexec_fn", like_a_terminal),
        **kwargs,
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


WORDS = "a the film movie was is very great lovely good fine awful boring bad dull".split()


@pytest.fixture(scope="session")
def presets(tmp_path_factory) -> dict[str, Path]:
    """Tiny random KerasHub presets saved with save_to_preset (no download): a BERT and a ResNet."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("presets")
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    bert = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=32,
    )  # fmt: skip
    bert.save_to_preset(root / "bert")
    keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=16).save_to_preset(root / "bert")
    resnet = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 32],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(None, None, 3),
    )  # fmt: skip
    resnet.save_to_preset(root / "resnet")
    converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255.0)
    keras_hub.models.ResNetImageClassifierPreprocessor(converter).save_to_preset(root / "resnet")
    return {"bert": root / "bert", "resnet": root / "resnet"}


# the longest files first: with `-n 2 --dist loadfile` a worker that starts the longest file last
# leaves the other core idle for its whole length (per-file sums of --junitxml times, most first; the
# browser tests of test_serve_page.py run where chromium is installed, as .ci/run does)
LONGEST_FIRST = ["test_workflow.py", "test_distribute.py", "test_hostile.py", "test_first_hour.py", "test_one_path.py",
                 "test_pretrained.py", "test_trust_core.py", "test_export.py", "test_train_e2e.py",
                 "test_serve_page.py", "test_real_data.py", "test_tracking.py", "test_real_inputs.py", "test_gan.py",
                 "test_serve.py", "test_onnx.py", "test_tables.py"]  # fmt: skip


def pytest_collection_modifyitems(items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).name, len(rank)))  # stable: order within a file kept
