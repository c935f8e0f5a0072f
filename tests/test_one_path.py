"""One path per input kind: a raw example gives identical model inputs through the training pipeline and
the serving model, and identical outputs through `predict` and every export format, the exports read in
a process that never imports mlcli (images, text folders and tables: test_export.py). On real data
(jokes in eight languages from `pyjokes`, photographs from scikit-learn), `predict` on a run's own test
files gives exactly the accuracy `summary.json` says, and so does the export fed each test image at its
original size.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SMOKE, cli, cli_subprocess

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

LANGUAGES = ["en", "de", "it", "pl", "ru", "lt", "cs", "es"]


def jokes_folder(root: Path, per_language: int = 30) -> Path:
    """Real multilingual text: pyjokes' jokes, one file each (with the trailing newline an editor
    writes), stored as train/ and test/ folders of one class folder per language."""
    import pyjokes

    for lang in LANGUAGES:
        jokes = pyjokes.get_jokes(language=lang, category="all")[:per_language]
        for i, joke in enumerate(jokes):
            split = "test" if i % 4 == 0 else "train"
            (root / split / lang).mkdir(parents=True, exist_ok=True)
            (root / split / lang / f"{i:03d}.txt").write_text(joke + "\n", encoding="utf-8")
    return root


def photo_folder(root: Path, per_class: int = 24) -> Path:
    """Real photographs (scikit-learn's two sample photos), cut into patches of many sizes, saved as
    PNG and JPEG: two texture classes, train/ and test/ folders, no image at the training size."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    photos = load_sample_images()
    for name, photo in zip(("china", "flower"), photos.images, strict=True):
        for i in range(per_class):
            h, w = int(rng.integers(40, 140)), int(rng.integers(40, 140))
            top, left = int(rng.integers(0, photo.shape[0] - h)), int(rng.integers(0, photo.shape[1] - w))
            split = "test" if i % 4 == 0 else "train"
            (root / split / name).mkdir(parents=True, exist_ok=True)
            suffix = "jpg" if i % 2 else "png"
            Image.fromarray(photo[top : top + h, left : left + w]).save(root / split / name / f"{i:03d}.{suffix}")
    return root


def accuracy_of_predictions(path: Path) -> float:
    """From `predict --out p.csv`: the share whose top class is the folder the file sits in."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return sum(Path(r["input"]).parent.name == r["class_1"] for r in rows) / len(rows)


@pytest.fixture(scope="module")
def jokes_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jokes")
    jokes_folder(root / "data")
    config = root / "jokes.yaml"
    config.write_text(
        f"name: jokes\nseed: 0\ndata: {{source: text_folder, path: '{root / 'data'}', batch_size: 16,\n"
        "  preprocessing: {text: {split: character, sequence_length: 120, max_tokens: 300}}}\n"
        "model: {type: rnn, cell: gru, units: [24], embedding_dim: 16}\n"
        "optimizer: {learning_rate: 0.01}\ntraining: {epochs: 6, tensorboard: false, plots: false}\n",
        encoding="utf-8",
    )
    result = cli("train", config, "--run-dir", root / "run", "--quiet")
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.fixture(scope="module")
def photos_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    photo_folder(root / "data")
    config = root / "photos.yaml"
    config.write_text(
        f"name: photos\nseed: 1\ndata: {{source: image_folder, path: '{root / 'data'}', image_size: [32, 32],"
        " batch_size: 16}\nmodel: {type: cnn, blocks: [{filters: 8}, {filters: 16}], head: global_avg}\n"
        "optimizer: {learning_rate: 0.005}\ntraining: {epochs: 5, tensorboard: false, plots: false}\n",
        encoding="utf-8",
    )
    result = cli("train", config, "--run-dir", root / "run", "--quiet")
    assert result.exit_code == 0, result.output
    return root / "run"


def test_predict_on_a_text_runs_own_test_files_gives_its_test_accuracy(jokes_run: Path, tmp_path: Path):
    """Each .txt is one document read as training read it (the trailing newline is a character the
    model saw), through the console script a user runs."""
    vocabulary = json.loads((jokes_run / "data_spec.json").read_text(encoding="utf-8"))["input"]["vocabulary"]
    assert "\n" in vocabulary  # the documents' newlines are part of what was learnt
    test_folder = jokes_run.parent / "data" / "test"
    out = tmp_path / "p.csv"
    done = cli_subprocess("predict", jokes_run, test_folder, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((jokes_run / "summary.json").read_text())
    assert summary["test"]["samples"] == len(list(test_folder.rglob("*.txt")))
    assert accuracy_of_predictions(out) == summary["test"]["accuracy"]
    assert summary["test"]["accuracy"] > 1 / len(LANGUAGES) + 0.2  # it learnt something real


def test_several_text_files_are_several_documents_and_a_missing_one_is_exit_2(jokes_run: Path, tmp_path: Path):
    folder = jokes_run.parent / "data" / "test" / "de"
    files = sorted(folder.glob("*.txt"))[:3]
    result = cli("predict", jokes_run, *files, "--out", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    assert [r["input"] for r in json.loads((tmp_path / "p.json").read_text())] == [str(f) for f in files]
    globbed = cli("predict", jokes_run, str(folder / "00*.txt"), "--out", tmp_path / "g.json")
    assert globbed.exit_code == 0 and len(json.loads((tmp_path / "g.json").read_text())) == 3  # 000, 004, 008
    missing = cli("predict", jokes_run, files[0], tmp_path / "nope.txt")
    assert missing.exit_code == 2 and f"{tmp_path / 'nope.txt'}: no such file or folder" in missing.output
    lines = tmp_path / "lines.txt"
    lines.write_text("Das ist ein Witz über Programmierer.\n\nTo jest żart o programistach.\n", encoding="utf-8")
    by_line = cli("predict", jokes_run, lines, "--lines", "--out", tmp_path / "l.json")
    assert by_line.exit_code == 0 and len(json.loads((tmp_path / "l.json").read_text())) == 2  # blank line skipped
    assert cli("predict", jokes_run, lines, "--out", tmp_path / "p.txt").exit_code == 2


STANDALONE_IMAGES = r"""
import json, sys
import numpy as np, tensorflow as tf, keras
saved, keras_file, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
signature = tf.saved_model.load(saved).signatures["serving_default"]
model = keras.models.load_model(keras_file)
side = json.load(open(saved + ".json"))
right = {"saved_model": 0, "keras": 0}
for path in files:  # one image at a time, at its original size (JPEG decoders differ: TensorFlow's here)
    pixels = tf.cast(tf.io.decode_image(open(path, "rb").read(), channels=3), "float32")[None]
    for fmt, probs in (("saved_model", signature(image=tf.constant(pixels))["probabilities"].numpy()),
                       ("keras", np.asarray(model(pixels)))):
        right[fmt] += side["classes"][int(probs.argmax())] == path.split("/")[-2]
assert not any(m == "mlcli" or m.startswith("mlcli.") for m in sys.modules)
print(json.dumps({k: v / len(files) for k, v in right.items()}))
"""


def test_images_of_any_size_give_the_runs_test_accuracy_through_predict_and_the_export(photos_run, tmp_path):
    summary = json.loads((photos_run / "summary.json").read_text())
    test_folder = photos_run.parent / "data" / "test"
    files = sorted(str(p) for p in test_folder.rglob("*") if p.is_file())
    assert summary["test"]["samples"] == len(files) and summary["test"]["accuracy"] > 0.8
    assert cli("predict", photos_run, test_folder, "--out", tmp_path / "p.csv").exit_code == 0
    assert accuracy_of_predictions(tmp_path / "p.csv") == summary["test"]["accuracy"]
    for fmt, name in (("saved_model", "saved"), ("keras", "m.keras")):
        assert cli("export", photos_run, "--format", fmt, "--out", tmp_path / name).exit_code == 0
    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE_IMAGES, encoding="utf-8")
    done = subprocess.run([sys.executable, script, tmp_path / "saved", tmp_path / "m.keras", json.dumps(files)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # a resize that is antialiased inside the model makes the original-size images score what training did
    assert got == {"saved_model": summary["test"]["accuracy"], "keras": summary["test"]["accuracy"]}
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello", encoding="utf-8")
    refused = cli("predict", photos_run, not_an_image)
    assert refused.exit_code == 2 and "not a .bmp/.gif/.jpeg/.jpg/.png file" in refused.output


# ---- every kind: the same raw examples, identical model inputs and outputs everywhere -------------------


def _table_csv(path: Path, n: int = 160) -> None:
    rng = np.random.default_rng(4)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "city", "income", "note", "label"])
        for i in range(n):
            city = rng.choice(["Zürich", "東京", "São Paulo"])
            income = "" if rng.random() < 0.1 else f"{rng.normal(50, 10):.2f}"
            note = rng.choice(["paid late twice", "toujours à l'heure", "nouveau client"])
            out.writerow([f"row-{i}", city, income, note, "good" if (city == "東京") ^ ("late" in note) else "bad"])


def _series_csv(path: Path, n: int = 300) -> None:
    t = np.arange(n)
    values = 100 + 0.05 * t + 3 * np.sin(t / 6) + np.random.default_rng(2).normal(0, 0.3, n)
    path.write_text("day,level\n" + "".join(f"{i},{v:.3f}\n" for i, v in zip(t, values)), encoding="utf-8")


KIND_CONFIGS = {
    "image": lambda d: (SMOKE / "cnn.yaml", ["--set", "training.epochs=1"]),
    "text": None,  # the jokes run
    "table": lambda d: (
        f"name: t\ndata: {{source: csv, path: '{d / 'table.csv'}', label: label, batch_size: 16,"
        " columns: {id: ignore}}\nmodel: {type: mlp, layers: [8]}\n", []),
    "series": lambda d: (
        f"name: s\ndata: {{source: csv, path: '{d / 'series.csv'}', task: timeseries, value_column: level,"
        " window: 12, batch_size: 16}\nmodel: {type: rnn, cell: gru, units: [8]}\n", []),
    "tokens": lambda d: (SMOKE / "lstm_text.yaml", ["--set", "training.epochs=1"]),
    "features": lambda d: (SMOKE / "mlp.yaml", ["--set", "training.epochs=1"]),
}  # fmt: skip
# images, text folders and tables go through every format in test_export.py (against `predict`, in a process
# without mlcli) and test_onnx.py; here the kinds that have no other export test
FORMATS = {"image": [], "text": [], "table": [], "series": ["keras", "saved_model", "tflite"],
           "tokens": ["keras", "saved_model", "tflite"], "features": ["keras", "saved_model", "tflite"]}  # fmt: skip


@pytest.fixture(scope="module")
def kind_runs(tmp_path_factory, jokes_run) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kinds")
    _table_csv(root / "table.csv")
    _series_csv(root / "series.csv")
    runs = {"text": jokes_run}
    for kind, make in KIND_CONFIGS.items():
        if make is None:
            continue
        config, extra = make(root)
        if isinstance(config, str):
            (root / f"{kind}.yaml").write_text(config + "training: {epochs: 1, tensorboard: false, plots: false}\n",
                                               encoding="utf-8")  # fmt: skip
            config = root / f"{kind}.yaml"
        result = cli("train", config, "--run-dir", root / kind, "--quiet", *extra)
        assert result.exit_code == 0, result.output
        runs[kind] = root / kind
    return runs


STANDALONE_KINDS = r"""
import json, sys
import numpy as np, tensorflow as tf, keras
jobs = json.load(open(sys.argv[1], encoding="utf-8"))
out = {}
for key, job in jobs.items():
    side = json.load(open(job["path"] + ".json", encoding="utf-8"))
    batch = {i["name"]: np.array(job["batch"][i["name"]], dtype=object if i["dtype"] == "string" else i["dtype"])
             for i in side["inputs"]}
    if job["format"] == "keras":
        model = keras.models.load_model(job["path"])
        args = {k: tf.constant(v) for k, v in batch.items()}
        got = model(args if len(args) > 1 or job["dict"] else next(iter(args.values())))
    elif job["format"] == "saved_model":
        got = tf.saved_model.load(job["path"]).signatures["serving_default"](
            **{k: tf.constant(v) for k, v in batch.items()})[side["output"]]
    else:
        runner = tf.lite.Interpreter(model_path=job["path"]).get_signature_runner("serve")
        n = len(next(iter(batch.values())))
        got = np.concatenate([runner(**{k: v[i:i + 1] for k, v in batch.items()})[side["output"]] for i in range(n)])
    out[key] = np.asarray(got).tolist()
assert not any(m == "mlcli" or m.startswith("mlcli.") for m in sys.modules), "mlcli was imported"
print(json.dumps(out))
"""


def _as_lists(batch: dict) -> dict:
    return {k: [v.decode("utf-8") if isinstance(v, bytes) else v for v in np.asarray(a).tolist()]
            for k, a in batch.items()}  # fmt: skip


def test_every_kind_reads_a_raw_example_the_same_way_everywhere(kind_runs, tmp_path: Path):
    import tensorflow as tf

    from mlcli.data import load_dataset, pipeline
    from mlcli.inference.run import load_checkpoint, open_run
    from mlcli.inference.serving import model_inputs_of, serving_model

    jobs, expected = {}, {}
    for kind, run_dir in kind_runs.items():
        run = open_run(run_dir)
        assert run.spec.kind == kind
        bundle = load_dataset(run.cfg, run.spec)
        raw_x, _ = next(iter(pipeline.raw_batches(bundle.raw.test, run.spec, 8)))
        trained_x, _ = next(iter(pipeline.build(bundle.raw.test, run.spec, 8, cache="none")))
        raw = raw_x if isinstance(raw_x, dict) else {run.spec.input.input_name: raw_x}
        served_x = model_inputs_of(run.spec)(raw if len(raw) > 1 or kind == "table" else raw_x)
        for key in (trained_x if isinstance(trained_x, dict) else {"x": None}):
            a = trained_x[key] if isinstance(trained_x, dict) else trained_x
            b = served_x[key] if isinstance(served_x, dict) else served_x
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"{kind}: model inputs differ")
        serving = serving_model(load_checkpoint(run, "best"), run.spec)
        batch = {k: tf.cast(v, "float32") if v.dtype == tf.uint8 else v for k, v in raw.items()}
        expected[kind] = serving(batch)
        for fmt in FORMATS[kind]:
            target = tmp_path / f"{kind}_{fmt}" / ("model.tflite" if fmt == "tflite" else f"model.{fmt}")
            result = cli("export", run_dir, "--format", fmt, "--out", target)
            assert result.exit_code == 0, result.output
            jobs[f"{kind}/{fmt}"] = {"path": str(target), "format": fmt, "batch": _as_lists(batch),
                                     "dict": kind == "table"}  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    (tmp_path / "standalone.py").write_text(STANDALONE_KINDS, encoding="utf-8")
    done = subprocess.run([sys.executable, tmp_path / "standalone.py", tmp_path / "jobs.json"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(got) == sorted(jobs)
    for key, values in got.items():
        np.testing.assert_allclose(np.array(values), expected[key.split("/")[0]], rtol=1e-5, atol=1e-6, err_msg=key)


def test_a_character_vocabulary_with_line_breaks_travels_in_the_side_file(jokes_run: Path, tmp_path: Path):
    """The jokes' vocabulary holds "\n": no one-token-per-line file can carry it, so the side file's list is
    the only copy, and a client's TextVectorization built from that file alone gives the training ids."""
    import keras
    import tensorflow as tf

    from mlcli.inference.run import open_run

    result = cli("export", jokes_run, "--format", "tflite", "--out", tmp_path / "jokes.tflite")
    assert result.exit_code == 0 and "a token is a line break" in result.output, result.output
    side = json.loads((tmp_path / "jokes.tflite.json").read_text(encoding="utf-8"))["tokenizer"]
    assert "\n" in side["vocabulary"] and "vocabulary_file" not in side
    assert not (tmp_path / "jokes.tflite.vocab.txt").exists()
    assert side["standardize_means"]["order"].endswith("every character is a token")
    vectorize = keras.layers.TextVectorization(
        vocabulary=side["vocabulary"], split=side["split"], standardize=side["standardize"],
        output_sequence_length=side["output_sequence_length"])  # fmt: skip
    texts = ["Das ist ein Witz über Programmierer.\n", "To jest żart\no programistach."]
    trained = open_run(jokes_run).spec.input.preprocess(tf.constant(texts))
    np.testing.assert_array_equal(np.asarray(vectorize(tf.constant(texts))), np.asarray(trained))
