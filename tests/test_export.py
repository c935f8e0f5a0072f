"""Exports in every format for an image classifier, a raw-text model and a GAN generator, verified by reload."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlcli.commands import export
from tests.conftest import SMOKE, cli

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

FORMATS = ["keras", "saved_model", "tflite"]
LOADED_WITH = {"keras": "keras.models.load_model(path)", "saved_model": "tf.saved_model.load(path).signatures",
               "tflite": "tf.lite.Interpreter(model_path=path).get_signature_runner('serve')"}


POSITIVE = ["très bon film, émouvant", "großartig und schön", "素晴らしい 映画 😀", "رائع جدا", "a great lovely film"]
NEGATIVE = ["schrecklich langweilig", "nul à chier, ennuyeux", "ひどい 映画 😡", "سيء جدا", "an awful boring film"]


def write_text_data(root: Path) -> tuple[Path, Path]:
    """The same multilingual reviews as a text folder and as a `text,label` CSV, in the same order."""
    folder, rows = root / "texts", []
    for label, phrases in (("neg", NEGATIVE), ("pos", POSITIVE)):
        (folder / label).mkdir(parents=True)
        for i in range(12):  # file names sort as the loader reads them: 00, 01, ...
            text = f"{phrases[i % len(phrases)]} — take {i}"
            (folder / label / f"{i:02d}.txt").write_text(text, encoding="utf-8")
            rows.append((text, label))
    table = root / "texts.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("review", "label"), *rows])
    return folder, table


def write_table(path: Path, n: int, seed: int) -> None:
    """Numeric, categorical-string, integer-category and text columns, with missing values."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["city", "income (€)", "grade", "note", "age", "label"])
        for _ in range(n):
            city, grade, age = (
                rng.choice(["Zürich", "東京", "São Paulo", "Kraków"]),
                int(rng.integers(1, 4)),
                rng.normal(40, 9),
            )
            note = rng.choice(["paid late twice", "toujours à l'heure", "nouveau client"])
            score = (city in ("Zürich", "東京")) + 0.8 * (grade - 2) + (age - 40) / 9 - 1.5 * ("late" in note)
            out.writerow([city, "" if rng.random() < 0.1 else f"{rng.normal(50, 10):.2f}", grade, note,
                          "NA" if rng.random() < 0.1 else f"{age:.1f}", "good" if score > 0 else "bad"])  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    folder, text_csv = write_text_data(root)
    write_table(root / "table.csv", 300, 0)
    common = "preprocessing: {text: {sequence_length: 10, max_tokens: 200}}}\n"
    rnn = "model: {type: rnn, cell: gru, units: [8], embedding_dim: 8}\ntraining: {epochs: 1, tensorboard: false}\n"
    configs = {
        "text": f"name: text\ndata: {{source: text_folder, path: {folder}, test_fraction: 0.25, batch_size: 8, "
        + common
        + rnn,
        "text_csv": f"name: text_csv\ndata: {{source: csv, path: {text_csv}, label: label, test_fraction: 0.25, "
        "batch_size: 8, " + common + rnn,
        "table": f"name: table\ndata: {{source: csv, path: {root / 'table.csv'}, label: label, batch_size: 16}}\n"
        "model: {type: mlp, layers: [8]}\ntraining: {epochs: 1, tensorboard: false}\n",
    }
    out = {}
    for name, config, extra in (
        ("image", SMOKE / "cnn.yaml", ["--set", "training.epochs=1"]),
        ("text", configs["text"], []),
        ("text_csv", configs["text_csv"], []),
        ("table", configs["table"], []),
        ("gan", SMOKE / "gan.yaml", ["--set", "training.epochs=1", "--set", "model.conditional=true"]),
    ):
        if isinstance(config, str):
            (root / f"{name}.yaml").write_text(config, encoding="utf-8")
            config = root / f"{name}.yaml"
        result = cli("train", config, "--run-dir", root / name, "--quiet", *extra)
        assert result.exit_code == 0, result.output
        out[name] = root / name
    return out


STANDALONE = r"""
import json, sys
import numpy as np
import keras, tensorflow as tf

def tensors(batch, side):
    return {i["name"]: tf.constant(np.array(batch[i["name"]], dtype=object if i["dtype"] == "string" else i["dtype"]))
            for i in side["inputs"]}

def run(path, fmt, batch):
    side = json.load(open(path + ".json", encoding="utf-8"))
    if "tokenizer" in side:  # a TFLite text model takes token ids; the side file says how to make them
        t = side["tokenizer"]
        vocabulary = path.rsplit("/", 1)[0] + "/" + t["vocabulary_file"]  # the file, as Keras reads it
        layer = keras.layers.TextVectorization(vocabulary=vocabulary, standardize=t["standardize"], split=t["split"],
                                               output_sequence_length=t["output_sequence_length"])
        batch = {"tokens": np.asarray(layer(tf.constant(batch["text"])))}
    args = tensors(batch, side)
    if fmt == "keras":
        model = keras.models.load_model(path)
        out = model(args if len(args) > 1 else next(iter(args.values())))
    elif fmt == "saved_model":
        out = tf.saved_model.load(path).signatures["serving_default"](**args)[side["output"]]
    else:
        runner = tf.lite.Interpreter(model_path=path).get_signature_runner("serve")
        n = len(next(iter(batch.values())))
        out = np.concatenate([runner(**{k: v.numpy()[i:i + 1] for k, v in args.items()})[side["output"]]
                              for i in range(n)])
    return {"output": side["output"], "classes": side["classes"], "values": np.asarray(out).tolist()}

jobs = json.load(open(sys.argv[1], encoding="utf-8"))
results = {key: run(job["path"], job["format"], job["batch"]) for key, job in jobs.items()}
assert not any(m == "mlcli" or m.startswith("mlcli.") for m in sys.modules), "mlcli was imported"
print(json.dumps(results))
"""


def _table_rows(path: Path) -> dict[str, list]:
    """Raw CSV columns as a client would send them: numbers (NaN when empty or NA), strings as they are."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    numeric, keys = {"income (€)", "age"}, {"income (€)": "income"}
    return {
        keys.get(c, c): [(float(r[c]) if r[c] not in ("", "NA") else math.nan) if c in numeric else r[c] for r in rows]
        for c in rows[0]
        if c != "label"
    }


def test_every_export_loads_without_mlcli_and_matches_predict(runs, tmp_path: Path):
    """Each format reloads in a process that never imports mlcli; on raw inputs it gives what `mlcli
    predict` gives, names its output, and its side file carries the class names in output order."""
    pixels = np.random.default_rng(1).integers(0, 256, (5, 8, 8, 1)).astype("float32")
    np.savez(tmp_path / "pixels.npz", x=pixels)
    lines = ["un film très émouvant", "ひどい 映画 😡", "schrecklich, großartig?", "رائع", "mot-inconnu ß"]
    (tmp_path / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_table(tmp_path / "rows.csv", 6, seed=9)
    cases = {
        "image": ({"image": pixels.tolist()}, tmp_path / "pixels.npz", FORMATS),
        "text": ({"text": lines}, tmp_path / "lines.txt", FORMATS),
        "text_csv": ({"text": lines}, tmp_path / "lines.txt", ["keras"]),  # its TFLite is the text folder's
        "table": (_table_rows(tmp_path / "rows.csv"), tmp_path / "rows.csv", ["keras", "saved_model"]),
        "gan": ({"latent": np.random.default_rng(2).normal(size=(3, 16)).tolist(), "label": [0, 1, 2]}, None, FORMATS),
    }
    jobs, expected = {}, {}
    for kind, (batch, raw, formats) in cases.items():
        if raw is not None:
            lines = ["--lines"] if raw.suffix == ".txt" else []  # one example per line of lines.txt
            result = cli("predict", runs[kind], raw, *lines, "--top-k", "99", "--out", tmp_path / f"{kind}.json")
            assert result.exit_code == 0, result.output
            expected[kind] = json.loads((tmp_path / f"{kind}.json").read_text(encoding="utf-8"))
        for fmt in formats:
            target = tmp_path / kind / export.FORMATS[fmt]  # every format in one folder, as in RUN_DIR/export/
            result = cli("export", runs[kind], "--format", fmt, "--out", target)
            assert result.exit_code == 0 and "reloaded and matched the checkpoint" in result.output, result.output
            assert not list(target.parent.glob(".export-*")), "temporary export folder left behind"
            side = json.loads((target.parent / f"{target.name}.json").read_text(encoding="utf-8"))
            assert side["load"].startswith(LOADED_WITH[fmt]), side  # the call STANDALONE below makes
            jobs[f"{kind}/{fmt}"] = {"path": str(target), "format": fmt, "batch": batch}
    vocab = (tmp_path / "text" / "model.tflite.vocab.txt").read_text(encoding="utf-8").split("\n")
    assert vocab[0] not in ("", "[UNK]") and "映画" in vocab and "très" in vocab
    (tmp_path / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    (tmp_path / "standalone.py").write_text(STANDALONE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, tmp_path / "standalone.py", tmp_path / "jobs.json"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(got) == sorted(jobs)
    for key, result in got.items():
        kind = key.split("/")[0]
        if kind == "gan":
            images = np.array(result["values"])
            assert result["output"] == "pixels" and images.shape == (3, 8, 8, 1)
            assert images.min() >= 0 and images.max() <= 255 and images.std() > 0
            continue
        assert result["output"] == "probabilities", key
        if kind == "text_csv":  # trained on the same rows as a CSV: the very same exported model
            np.testing.assert_array_equal(result["values"], got[key.replace("text_csv", "text")]["values"])
        for row, predicted in zip(np.array(result["values"]), expected[kind], strict=True):
            by_class = {p["class"]: p["probability"] for p in predicted["predictions"]}
            assert set(by_class) == set(result["classes"]), key
            np.testing.assert_allclose(row, [by_class[c] for c in result["classes"]], atol=2e-6, err_msg=key)


def test_text_folder_and_the_same_text_as_csv_train_the_same_model(runs, tmp_path: Path):
    """Same rows, same seed: the CSV run splits, vectorises and trains exactly as the folder run."""
    lines = ["très bon film", "ひどい 映画", "سيء", "unbekanntes Wort"]
    seen = []
    texts = [a for line in lines for a in ("--text", line)]
    for name in ("text", "text_csv"):
        assert cli("predict", runs[name], *texts, "--top-k", "2", "--out", tmp_path / f"{name}.json").exit_code == 0
        spec = json.loads((runs[name] / "data_spec.json").read_text(encoding="utf-8"))
        seen.append(
            (
                json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8")),
                (spec["num_train"], spec["num_val"], spec["num_test"]),
                spec["input"]["vocabulary"],
            )
        )
    assert seen[0] == seen[1]
    scores = []
    for name in ("text", "text_csv"):
        assert cli("evaluate", runs[name], "--json").exit_code == 0
        scores.append(json.loads((runs[name] / "eval.json").read_text(encoding="utf-8")))
    assert scores[0] == scores[1] and scores[0]["samples"] == 6
    assert "映画" in seen[0][2] and "très" in seen[0][2] and seen[0][1] == (16, 2, 6)
    table = tmp_path / "review.csv"
    table.write_text("label,review\nneg,ひどい 映画\n", encoding="utf-8")  # found by column name, in any order
    result = cli("predict", runs["text_csv"], table, "--top-k", "2", "--out", tmp_path / "csv.json")
    assert result.exit_code == 0, result.output
    by_line = json.loads((tmp_path / "text_csv.json").read_text(encoding="utf-8"))[1]["predictions"]
    assert json.loads((tmp_path / "csv.json").read_text(encoding="utf-8"))[0]["predictions"] == by_line


def test_tflite_refuses_a_table_with_string_columns(runs, tmp_path: Path):
    result = cli("export", runs["table"], "--format", "tflite", "--out", tmp_path / "t.tflite")
    assert result.exit_code == 2 and "string column(s) city, note" in result.output
    assert "export keras, saved_model, onnx instead" in result.output
    assert not list(tmp_path.iterdir())


def test_mismatch_fails_with_exit_1_and_writes_nothing(runs, tmp_path: Path, monkeypatch):
    real = export._reload_outputs
    monkeypatch.setattr(export, "_reload_outputs", lambda *a: real(*a) + 1e-3)
    target = tmp_path / "bad.keras"
    result = cli("export", runs["image"], "--format", "keras", "--out", target)
    assert result.exit_code == 1 and "differs from the checkpoint" in result.output
    assert not target.exists() and not list(tmp_path.iterdir())


def test_export_bad_input(runs, tmp_path: Path):
    unknown = cli("export", runs["image"], "--format", "pmml")
    assert unknown.exit_code == 2 and "choose one of keras, saved_model, tflite, onnx" in unknown.output
    assert cli("export", runs["image"], "--format", "onnx", "--out", tmp_path / "m.keras").exit_code == 2  # suffix
    existing = tmp_path / "x.keras"
    existing.write_text("keep me")
    assert cli("export", runs["image"], "--format", "keras", "--out", existing).exit_code == 2
    assert existing.read_text() == "keep me"
    assert json.loads((runs["image"] / "summary.json").read_text())["epochs_run"] == 1
