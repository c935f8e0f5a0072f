"""`model.type: pretrained` with KerasHub presets built here: a 2-layer BERT with a WordPiece vocabulary
written below and a 2-stage ResNet, saved with `save_to_preset` exactly as a user's download is."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli, cli_subprocess
from tests.test_real_inputs import reference_pixels

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def _texts(root: Path) -> Path:
    for label, words in (("neg", "awful boring bad dull"), ("pos", "great lovely good fine")):
        (root / label).mkdir(parents=True)
        for i in range(10):
            w = words.split()
            (root / label / f"{i:02d}.txt").write_text(f"the film was very {w[i % 4]} a {w[(i + 1) % 4]} movie")
    return root


def _config(tmp_path: Path, name: str, data: str, model: str, epochs: int) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nseed: 3\ndata: {data}\nmodel: {model}\noptimizer: {{learning_rate: 0.005}}\n"
        f"training: {{epochs: {epochs}, tensorboard: false, plots: false}}\n",
        encoding="utf-8",
    )
    return path


STANDALONE = """
import sys, numpy as np, keras, keras_hub
for model, inputs, out in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
    np.save(out, keras.saving.load_model(model).predict(np.load(inputs), verbose=0))
assert 'mlcli' not in sys.modules
"""


def _fresh_keras_predict(jobs: list[tuple[Path, Path]]) -> list[np.ndarray]:
    """`predict` of `.keras` exports in one fresh interpreter that imports KerasHub but never mlcli."""
    args = [str(a) for model, inputs in jobs for a in (model, inputs, inputs.with_suffix(".out.npy"))]
    done = subprocess.run([sys.executable, "-c", STANDALONE, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [np.load(inputs.with_suffix(".out.npy")) for _, inputs in jobs]


def keras_hub_backbone(preset: Path):
    import keras_hub

    return keras_hub.models.Backbone.from_preset(str(preset))


def _backbone(path: Path) -> list:
    import keras
    import keras_hub  # noqa: F401

    return keras.models.load_model(path, compile=False).backbone.get_weights()


def _probabilities(run: Path, out: Path, classes: tuple[str, str], *inputs) -> np.ndarray:
    """`mlcli predict`'s probabilities, one row per input, columns in class order."""
    assert cli("predict", run, *map(str, inputs), "--out", out).exit_code == 0
    rows = json.loads(out.read_text())
    return np.array([[{q["class"]: q["probability"] for q in p["predictions"]}[c] for c in classes] for p in rows])


@pytest.fixture(scope="module")
def bert_run(presets, tmp_path_factory) -> Path:
    """One process trains the freeze epoch and the fine-tuning epoch (in this one: the console script's
    kill and resume across the boundary is the image preset's below)."""
    root = tmp_path_factory.mktemp("bert")
    data = f"{{source: text_folder, path: {_texts(root / 'texts')}, test_fraction: 0.25, batch_size: 8}}"
    model = f"{{type: pretrained, preset: {presets['bert']}, sequence_length: 12, freeze_epochs: 1, " \
            "fine_tune_learning_rate: 0.01}"  # fmt: skip
    done = cli("train", _config(root, "bert", data, model, 2), "--run-dir", root / "run", "--quiet")
    assert done.exit_code == 0, done.output[-3000:]
    return root / "run"


def _image_files(root: Path) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for c, base in (("dark", 40), ("light", 210)):
        (root / "imgs" / c).mkdir(parents=True)
        for i in range(10):
            size = (20 + i, 30 - i)
            path = root / "imgs" / c / f"{i}.{'png' if i % 2 else 'jpg'}"
            Image.fromarray(np.clip(base + rng.normal(0, 25, (*size, 3)), 0, 255).astype("uint8")).save(path)
            files.append(path)
    return files


@pytest.fixture(scope="module")
def resnet_run(presets, tmp_path_factory) -> dict:
    """The console script, killed after epoch 2's backup, before its checkpoint replaced epoch 1's (so
    last.keras is the frozen epoch's), then resumed across the freeze boundary."""
    root = tmp_path_factory.mktemp("resnet")
    files = _image_files(root)
    data = f"{{source: image_folder, path: {root / 'imgs'}, image_size: [24, 24], test_fraction: 0.2, batch_size: 8}}"
    model = f"{{type: pretrained, preset: {presets['resnet']}, freeze_epochs: 1}}"
    run = root / "run"
    killed = cli_subprocess("train", _config(root, "resnet", data, model, 3), "--run-dir", run,
                            env={"MLCLI_CRASH_AT": "after_backup:2"})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    killed_state = {"frozen": _backbone(run / "checkpoints" / "last.keras"),
                    "rows": (run / "metrics.csv").read_text().splitlines()}  # fmt: skip
    resumed = cli("train", "--resume", run, "--quiet")
    assert resumed.exit_code == 0, resumed.output[-3000:]
    return {"run": run, "files": files, **killed_state}


def test_text_preset_freezes_then_fine_tunes(presets, bert_run: Path, tmp_path: Path):
    """The frozen epoch's model is the one its backup keeps; the learning rates are the optimizer's, then
    fine_tune_learning_rate."""
    original = keras_hub_backbone(presets["bert"]).get_weights()
    frozen = _backbone(bert_run / "backup" / "epoch-000001" / "model.keras")
    assert all(np.array_equal(a, b) for a, b in zip(original, frozen, strict=True))  # the freeze epoch
    tuned = _backbone(bert_run / "checkpoints" / "last.keras")
    assert not all(np.array_equal(a, b) for a, b in zip(original, tuned))  # fine-tuned after the freeze
    with (bert_run / "metrics.csv").open() as fh:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(fh)]
    assert rates == pytest.approx([0.005, 0.01])  # the optimizer's rate, then fine_tune_learning_rate
    assert cli("evaluate", bert_run, "--json").exit_code == 0
    assert json.loads((bert_run / "eval.json").read_text())["samples"] == 4  # 20 texts: 14 train, 2 val, 4 test
    refused = cli("export", bert_run, "--format", "tflite", "--out", tmp_path / "b.tflite")
    assert refused.exit_code == 2 and "tokenizer cannot travel" in refused.output


def test_image_preset_resumes_across_the_freeze_boundary_and_exports(presets, resnet_run: dict, tmp_path: Path):
    import tensorflow as tf

    run, files = resnet_run["run"], resnet_run["files"]
    original = keras_hub_backbone(presets["resnet"])
    # moving means and variances too: a frozen BatchNorm runs in inference mode and leaves them alone
    assert sum("moving" in w.path for w in original.weights) == 12  # 6 BatchNorm layers
    assert all(np.array_equal(a, b) for a, b in zip(original.get_weights(), resnet_run["frozen"], strict=True))
    resumed = (run / "metrics.csv").read_text().splitlines()
    assert len(resumed) == 4 and resumed[:2] == resnet_run["rows"][:2]  # header and epoch 1 kept; 2-3 trained
    # (exactness across a kill is test_trust_core.py's, with deterministic kernels; here: the boundary)
    tuned = _backbone(run / "checkpoints" / "last.keras")
    assert not all(np.array_equal(a, b) for a, b in zip(original.get_weights(), tuned))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["samples"] == 4
    expected = _probabilities(run, tmp_path / "p.json", ("dark", "light"), *files[:4])
    target = tmp_path / "resnet_saved"
    exported = cli("export", run, "--format", "saved_model", "--out", target)
    assert exported.exit_code == 0 and "reloaded and matched" in exported.output, exported.output
    signature = tf.saved_model.load(str(target)).signatures["serving_default"]
    # each image at its original size, as a client sends it: the export resizes inside, as training did
    for path, want in zip(files[:4], expected, strict=True):
        original = tf.cast(tf.io.decode_image(path.read_bytes(), channels=3), "float32")[None]
        probs = signature(image=original)["probabilities"].numpy()
        np.testing.assert_allclose(probs[0], want, atol=2e-6)


def test_keras_exports_of_both_presets_predict_without_mlcli(bert_run: Path, resnet_run: dict, tmp_path: Path):
    """A `.keras` export carries KerasHub's tokenizer or image converter: a process with KerasHub and
    without mlcli loads each and gives what `mlcli predict` gives."""
    lines = ["a great lovely film", "the movie was awful and dull"]
    texts = [a for line in lines for a in ("--text", line)]
    expected_text = _probabilities(bert_run, tmp_path / "t.json", ("neg", "pos"), *texts)
    files = resnet_run["files"][:4]
    expected_images = _probabilities(resnet_run["run"], tmp_path / "i.json", ("dark", "light"), *files)
    for run, name in ((bert_run, "bert"), (resnet_run["run"], "resnet")):
        assert cli("export", run, "--format", "keras", "--out", tmp_path / f"{name}.keras").exit_code == 0
    np.save(tmp_path / "lines.npy", np.array(lines))
    np.save(tmp_path / "pixels.npy", np.stack([reference_pixels(f, (24, 24), 3) for f in files]).astype("float32"))
    got = _fresh_keras_predict([(tmp_path / "bert.keras", tmp_path / "lines.npy"),
                                (tmp_path / "resnet.keras", tmp_path / "pixels.npy")])  # fmt: skip
    np.testing.assert_allclose(got[0], expected_text, atol=2e-6)
    np.testing.assert_allclose(got[1], expected_images, atol=2e-6)


def test_a_named_preset_offline_is_exit_2_within_seconds(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MLCLI_OFFLINE", "1")
    data = f"{{source: text_folder, path: {_texts(tmp_path / 'texts')}, batch_size: 8}}"
    config = _config(tmp_path, "named", data, "{type: pretrained, preset: bert_tiny_en_uncased}", 1)
    began = time.perf_counter()
    result = cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 2 and time.perf_counter() - began < 10
    assert "'bert_tiny_en_uncased' must be downloaded" in result.output and "save_to_preset" in result.output
    (tmp_path / "empty").mkdir()
    config = _config(tmp_path, "dir", data, f"{{type: pretrained, preset: {tmp_path / 'empty'}}}", 1)
    result = cli("train", config, "--run-dir", tmp_path / "run2", "--quiet")
    assert result.exit_code == 2 and "is a folder but not a KerasHub preset" in result.output
