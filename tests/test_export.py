"""Exports in every format for an image classifier, a raw-text model and a GAN generator, verified by reload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlcli.commands import export
from tests.conftest import SMOKE, cli

FORMATS = ["keras", "saved_model", "tflite"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    texts = root / "texts"
    for label, words in (("neg", "awful terrible boring"), ("pos", "great lovely moving")):
        (texts / label).mkdir(parents=True)
        for i in range(12):
            (texts / label / f"{i}.txt").write_text(f"a {words} film, take {i}")
    text_config = root / "text.yaml"
    text_config.write_text(
        f"name: text\ndata: {{source: text_folder, path: {texts}, test_fraction: 0.25, batch_size: 8, "
        "preprocessing: {text: {sequence_length: 10, max_tokens: 200}}}\n"
        "model: {type: rnn, cell: gru, units: [8], embedding_dim: 8}\ntraining: {epochs: 1, tensorboard: false}\n"
    )
    out = {}
    for name, config, extra in (
        ("image", SMOKE / "cnn.yaml", ["--set", "training.epochs=1"]),
        ("text", text_config, []),
        ("gan", SMOKE / "gan.yaml", ["--set", "training.epochs=1", "--set", "model.conditional=true"]),
    ):
        result = cli("train", config, "--run-dir", root / name, "--quiet", *extra)
        assert result.exit_code == 0, result.output
        out[name] = root / name
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["image", "text", "gan"])
def test_export_reloads_and_matches(runs, tmp_path: Path, kind: str, fmt: str):
    target = tmp_path / f"{kind}.{fmt}"
    result = cli("export", runs[kind], "--format", fmt, "--out", target)
    assert result.exit_code == 0, result.output
    assert target.exists() and "reloaded and matched the checkpoint" in result.output
    assert not list(tmp_path.glob(".export-*")), "temporary export folder left behind"
    if kind == "text" and fmt == "tflite":
        vocab = target.with_suffix(".vocab.txt").read_text().splitlines()
        assert vocab[:2] == ["", "[UNK]"] and "lovely" in vocab


def test_keras_export_takes_raw_inputs(runs, tmp_path: Path):
    import keras

    import mlcli.models.layers  # noqa: F401  (registers ClassProbabilities)

    target = tmp_path / "text.keras"
    assert cli("export", runs["text"], "--format", "keras", "--out", target).exit_code == 0
    model = keras.models.load_model(target)
    probs = np.asarray(model(np.array(["a great lovely film", "an awful boring film"])))
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    image = tmp_path / "image.keras"
    assert cli("export", runs["image"], "--format", "keras", "--out", image).exit_code == 0
    pixels = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1)).astype("float32")  # raw 0-255
    assert np.allclose(np.asarray(keras.models.load_model(image)(pixels)).sum(axis=1), 1, atol=1e-5)


def test_gan_export_is_the_generator_in_pixel_range(runs, tmp_path: Path):
    import keras

    target = tmp_path / "g.keras"
    assert cli("export", runs["gan"], "--format", "keras", "--out", target).exit_code == 0
    generator = keras.models.load_model(target)
    images = np.asarray(generator([np.zeros((4, 16), "float32"), np.arange(4, dtype="int32")]))
    assert images.shape == (4, 8, 8, 1) and images.min() >= 0 and images.max() <= 255


def test_mismatch_fails_with_exit_1_and_writes_nothing(runs, tmp_path: Path, monkeypatch):
    real = export._reload_outputs
    monkeypatch.setattr(export, "_reload_outputs", lambda *a: real(*a) + 1e-3)
    target = tmp_path / "bad.keras"
    result = cli("export", runs["image"], "--format", "keras", "--out", target)
    assert result.exit_code == 1 and "differs from the checkpoint" in result.output
    assert not target.exists() and not list(tmp_path.iterdir())


def test_export_bad_input(runs, tmp_path: Path):
    assert cli("export", runs["image"], "--format", "onnx").exit_code == 2
    existing = tmp_path / "x.keras"
    existing.write_text("keep me")
    assert cli("export", runs["image"], "--format", "keras", "--out", existing).exit_code == 2
    assert existing.read_text() == "keep me"
    assert json.loads((runs["image"] / "summary.json").read_text())["epochs_run"] == 1
