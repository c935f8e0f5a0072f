"""`mlcli export --format onnx`, as a user runs it: the console script exports image, text and table runs,
then a process that imports neither mlcli nor TensorFlow runs each file with onnxruntime on raw inputs and
gets `mlcli predict`'s probabilities within 1e-5. A model ONNX cannot express is exit 2, naming the
operation and the upstream issue, and leaves no file."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli, cli_subprocess
from tests.test_one_path import _table_csv
from tests.test_real_inputs import NEGATIVE, POSITIVE, multilingual_folder
from tests.test_serve import predicted, train

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

# runs in a fresh interpreter: onnxruntime, NumPy and Pillow only (what a non-TensorFlow client has)
CLIENT = r"""
import json, sys
import numpy as np
import onnxruntime
from PIL import Image

job = json.loads(sys.stdin.read())
session = onnxruntime.InferenceSession(job["model"], providers=["CPUExecutionProvider"])
side = json.load(open(job["model"] + ".json", encoding="utf-8"))
feed = {}
for spec in side["inputs"]:
    values = job["inputs"][spec["name"]]
    if spec["name"] == "image":  # files decoded here, 0-255 floats at the model's size as the side file says
        values = [np.asarray(Image.open(f).convert("RGB"), np.float32) for f in values]
    if spec["dtype"] == "string":
        feed[spec["name"]] = np.array(["" if v is None else v for v in values], dtype=object)
    else:
        feed[spec["name"]] = np.array([np.nan if v is None else v for v in values], dtype=spec["dtype"])
out = session.run([side["output"]], feed)[0]
assert "tensorflow" not in sys.modules and "mlcli" not in sys.modules and "keras" not in sys.modules
print(json.dumps({"out": out.tolist(), "classes": side["classes"]}))
"""


def run_onnx(model: Path, inputs: dict) -> np.ndarray:
    job = json.dumps({"model": str(model), "inputs": inputs})
    done = subprocess.run([sys.executable, "-c", CLIENT], input=job, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.array(json.loads(done.stdout)["out"])


def export_onnx(run: Path, out: Path, console_script: bool = False) -> str:
    """In this process, or (once per test) through the console script with the environment a user has."""
    if not console_script:
        done = cli("export", run, "--format", "onnx", "--out", out)
        assert done.exit_code == 0, done.output
        return done.output
    done = cli_subprocess("export", run, "--format", "onnx", "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def images_at_model_size(root: Path) -> list[Path]:
    """Two classes of PNGs already at the training size (12x16): the ONNX file takes the model's size."""
    from PIL import Image

    rng = np.random.default_rng(3)
    files = []
    for label, base in (("dark", 50), ("light", 190)):
        (root / label).mkdir(parents=True)
        for i in range(10):
            pixels = np.clip(base + rng.normal(0, 40, (12, 16, 3)), 0, 255).astype(np.uint8)
            files.append(root / label / f"{i}.png")
            Image.fromarray(pixels, "RGB").save(files[-1])
    return files


def test_image_text_and_table_onnx_files_match_predict_without_tensorflow(tmp_path: Path):
    files = images_at_model_size(tmp_path / "images")
    image_run = train(tmp_path, "shapes", f"{{source: image_folder, path: '{tmp_path / 'images'}', "
                      "image_size: [12, 16], batch_size: 4}", "{type: cnn, blocks: [{filters: 4}]}")  # fmt: skip
    picked = [files[0], files[11], files[5], files[19]]
    export_onnx(image_run, tmp_path / "image.onnx")
    got = run_onnx(tmp_path / "image.onnx", {"image": [str(f) for f in picked]})
    np.testing.assert_allclose(got, predicted(image_run, tmp_path, *map(str, picked)), atol=1e-5)

    root = multilingual_folder(tmp_path / "texts", copies=2)
    text_run = train(tmp_path, "reviews", f"{{source: text_folder, path: '{root}', batch_size: 8}}",
                     "{type: rnn, units: [8]}")  # fmt: skip
    said = export_onnx(text_run, tmp_path / "text.onnx", console_script=True)
    assert "the model takes token ids; vocabulary in" in said and (tmp_path / "text.onnx.vocab.txt").is_file()
    lite = cli("export", text_run, "--format", "tflite", "--out", tmp_path / "text.tflite")  # same folder: no clash
    assert lite.exit_code == 0, lite.output
    assert (tmp_path / "text.tflite.vocab.txt").read_bytes() == (tmp_path / "text.onnx.vocab.txt").read_bytes()
    texts = [POSITIVE[0], NEGATIVE[2], "Ünïcödé 😀 ничего"]
    side = json.loads((tmp_path / "text.onnx.json").read_text(encoding="utf-8"))
    tokenizer = side["tokenizer"]  # as a client builds it from the side file: Keras, not mlcli
    import keras

    vectorize = keras.layers.TextVectorization(
        vocabulary=str(tmp_path / tokenizer["vocabulary_file"]), split=tokenizer["split"],
        standardize=tokenizer["standardize"], output_sequence_length=tokenizer["output_sequence_length"])  # fmt: skip
    tokens = np.asarray(vectorize(np.array(texts))).tolist()
    got = run_onnx(tmp_path / "text.onnx", {"tokens": tokens})
    expected = predicted(text_run, tmp_path, *[a for t in texts for a in ("--text", t)])
    np.testing.assert_allclose(got, expected, atol=1e-5)

    _table_csv(tmp_path / "table.csv")
    table_run = train(tmp_path, "table", f"{{source: csv, path: '{tmp_path / 'table.csv'}', label: label, "
                      "batch_size: 16, columns: {id: ignore}}", "{type: mlp, layers: [8]}")  # fmt: skip
    export_onnx(table_run, tmp_path / "table.onnx")
    rows = list(csv.DictReader((tmp_path / "table.csv").open(encoding="utf-8")))[:12]
    columns = {k: [None if r[k] == "" else (float(r[k]) if k == "income" else r[k]) for r in rows]
               for k in ("city", "income", "note")}  # fmt: skip
    columns["city"][1] = "Lisboa"  # a category training never saw
    columns["note"][2] = "N/A"  # a spelling of missing
    columns["income"][3] = None  # a missing number
    edited = tmp_path / "edited.csv"
    with edited.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["city", "income", "note"])
        out.writerows(zip(*[["" if v is None else v for v in columns[k]] for k in ("city", "income", "note")]))
    got = run_onnx(tmp_path / "table.onnx", columns)
    np.testing.assert_allclose(got, predicted(table_run, tmp_path, str(edited)), atol=1e-5)


def test_a_table_with_free_text_is_refused_naming_the_operation_and_the_issue(tmp_path: Path, monkeypatch):
    rng = np.random.default_rng(0)
    words = "late early paid owed never always twice once client new".split()
    lines = ["amount,comment,label"] + [
        f"{rng.normal(10, 3):.2f},{' '.join(rng.choice(words, 4))} {i},{'yes' if i % 2 else 'no'}" for i in range(80)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = train(tmp_path, "notes", f"{{source: csv, path: '{tmp_path / 't.csv'}', label: label, batch_size: 16}}",
                "{type: mlp, layers: [4]}")  # fmt: skip
    assert json.loads((run / "data_spec.json").read_text())["input"]["columns"][1]["type"] == "text"
    done = cli_subprocess("export", run, "--format", "onnx", "--out", tmp_path / "notes.onnx")
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert "StaticRegexReplace" in message and "tensorflow-onnx/issues/1886" in message, message
    assert not (tmp_path / "notes.onnx").exists() and not (tmp_path / "notes.onnx.json").exists()
    assert "Traceback" not in done.stderr
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # `import tf2onnx` fails, as if the extra were not installed
    done = cli("export", run, "--format", "onnx", "--out", tmp_path / "notes.onnx")
    assert done.exit_code == 2 and "needs tf2onnx: pip install 'mlcli[onnx]'" in done.output, done.output
