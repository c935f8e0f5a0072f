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


def _fresh_keras_predict(model: Path, inputs: Path) -> np.ndarray:
    """`predict` of a `.keras` export in a fresh interpreter that imports KerasHub but never mlcli."""
    code = (
        "import sys, numpy as np, keras, keras_hub\n"
        f"out = keras.saving.load_model({str(model)!r}).predict(np.load({str(inputs)!r}), verbose=0)\n"
        "assert 'mlcli' not in sys.modules\n"
        f"np.save({str(inputs.with_suffix('.out.npy'))!r}, out)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(inputs.with_suffix(".out.npy"))


def keras_hub_backbone(preset: Path):
    import keras_hub

    return keras_hub.models.Backbone.from_preset(str(preset))


def _backbone(path: Path) -> list:
    import keras
    import keras_hub  # noqa: F401

    return keras.models.load_model(path, compile=False).backbone.get_weights()


def test_text_preset_freezes_then_fine_tunes_and_exports(presets, tmp_path: Path):
    """One process trains the freeze epoch and the fine-tuning epoch; the frozen epoch's model is the one
    its backup keeps. (A resume across the boundary is the image preset's test below.)"""
    import keras_hub

    data = f"{{source: text_folder, path: {_texts(tmp_path / 'texts')}, test_fraction: 0.25, batch_size: 8}}"
    model = f"{{type: pretrained, preset: {presets['bert']}, sequence_length: 12, freeze_epochs: 1, " \
            "fine_tune_learning_rate: 0.01}"  # fmt: skip
    done = cli_subprocess("train", _config(tmp_path, "bert", data, model, 2), "--run-dir", tmp_path / "run", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    original = keras_hub.models.Backbone.from_preset(str(presets["bert"])).get_weights()
    frozen = _backbone(tmp_path / "run" / "backup" / "epoch-000001" / "model.keras")
    assert all(np.array_equal(a, b) for a, b in zip(original, frozen, strict=True))  # the freeze epoch
    tuned = _backbone(tmp_path / "run" / "checkpoints" / "last.keras")
    assert not all(np.array_equal(a, b) for a, b in zip(original, tuned))  # fine-tuned after the freeze
    with (tmp_path / "run" / "metrics.csv").open() as fh:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(fh)]
    assert rates == pytest.approx([0.005, 0.01])  # the optimizer's rate, then fine_tune_learning_rate
    lines = ["a great lovely film", "the movie was awful and dull"]
    texts = [a for line in lines for a in ("--text", line)]
    result = cli("predict", tmp_path / "run", *texts, "--out", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    predicted = json.loads((tmp_path / "p.json").read_text())
    assert cli("evaluate", tmp_path / "run", "--json").exit_code == 0
    # (SavedModel export of a text run is covered for every kind in test_one_path.py / test_export.py)
    assert cli("export", tmp_path / "run", "--format", "keras", "--out", tmp_path / "bert.keras").exit_code == 0
    np.save(tmp_path / "lines.npy", np.array(lines))
    expected = [[{q["class"]: q["probability"] for q in p["predictions"]}[c] for c in ("neg", "pos")]
                for p in predicted]  # fmt: skip
    np.testing.assert_allclose(_fresh_keras_predict(tmp_path / "bert.keras", tmp_path / "lines.npy"), expected,
                               atol=2e-6)  # fmt: skip
    refused = cli("export", tmp_path / "run", "--format", "tflite", "--out", tmp_path / "b.tflite")
    assert refused.exit_code == 2 and "tokenizer cannot travel" in refused.output


def test_image_preset_trains_on_a_folder_predicts_files_and_exports(presets, tmp_path: Path):
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for c, base in (("dark", 40), ("light", 210)):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(10):
            size = (20 + i, 30 - i)
            path = tmp_path / "imgs" / c / f"{i}.{'png' if i % 2 else 'jpg'}"
            Image.fromarray(np.clip(base + rng.normal(0, 25, (*size, 3)), 0, 255).astype("uint8")).save(path)
            files.append(path)
    data = (
        f"{{source: image_folder, path: {tmp_path / 'imgs'}, image_size: [24, 24], test_fraction: 0.2, batch_size: 8}}"
    )
    model = f"{{type: pretrained, preset: {presets['resnet']}, freeze_epochs: 1}}"
    config = _config(tmp_path, "resnet", data, model, 3)
    # killed after epoch 2's backup, before its checkpoint replaced epoch 1's: last.keras is the frozen epoch
    killed = cli_subprocess("train", config, "--run-dir", tmp_path / "run", env={"MLCLI_CRASH_AT": "after_backup:2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    original = keras_hub_backbone(presets["resnet"])
    frozen = _backbone(tmp_path / "run" / "checkpoints" / "last.keras")
    # moving means and variances too: a frozen BatchNorm runs in inference mode and leaves them alone
    assert sum("moving" in w.path for w in original.weights) == 12  # 6 BatchNorm layers
    assert all(np.array_equal(a, b) for a, b in zip(original.get_weights(), frozen, strict=True))
    before = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert cli_subprocess("train", "--resume", tmp_path / "run", "--quiet").returncode == 0
    resumed = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(resumed) == 4 and resumed[:2] == before[:2]  # header and epoch 1 kept; epochs 2-3 trained
    # (exactness across a kill is test_trust_core.py's, with deterministic kernels; here: the boundary)
    tuned = _backbone(tmp_path / "run" / "checkpoints" / "last.keras")
    assert not all(np.array_equal(a, b) for a, b in zip(original.get_weights(), tuned))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test"]["samples"] == 4
    assert cli("predict", tmp_path / "run", *map(str, files[:4]), "--out", tmp_path / "p.json").exit_code == 0
    import tensorflow as tf

    target = tmp_path / "resnet_saved"
    exported = cli("export", tmp_path / "run", "--format", "saved_model", "--out", target)
    assert exported.exit_code == 0 and "reloaded and matched" in exported.output, exported.output
    signature = tf.saved_model.load(str(target)).signatures["serving_default"]
    predicted = json.loads((tmp_path / "p.json").read_text())
    expected = np.array([[{q["class"]: q["probability"] for q in p["predictions"]}[c] for c in ("dark", "light")]
                         for p in predicted])  # fmt: skip
    # each image at its original size, as a client sends it: the export resizes inside, as training did
    for path, want in zip(files[:4], expected, strict=True):
        original = tf.cast(tf.io.decode_image(path.read_bytes(), channels=3), "float32")[None]
        probs = signature(image=original)["probabilities"].numpy()
        np.testing.assert_allclose(probs[0], want, atol=2e-6)
    pixels = np.stack([reference_pixels(f, (24, 24), 3) for f in files[:4]]).astype("float32")
    assert cli("export", tmp_path / "run", "--format", "keras", "--out", tmp_path / "r.keras").exit_code == 0
    np.save(tmp_path / "pixels.npy", pixels)
    np.testing.assert_allclose(_fresh_keras_predict(tmp_path / "r.keras", tmp_path / "pixels.npy"), expected, atol=2e-6)


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
