"""End to end through the real CLI on configs/smoke: run directories, evaluate, predict, resume, NaN."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import SMOKE, cli, cli_subprocess

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

CLASSIFIER_SMOKES = ["cnn", "lstm_text", "transformer"]
VALUE_SMOKES = ["mlp", "rnn"]


def metrics_rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as fh:
        return list(csv.DictReader(fh))


def load(path: Path):
    """A checkpoint as plain Keras loads it (no compile state is needed to score it)."""
    return keras.models.load_model(path, compile=False)


def load_compiled(path: Path):
    """A checkpoint with its optimizer (its compile state names mlcli's macro metrics)."""
    from mlcli.metrics import register_keras_objects

    register_keras_objects()
    return keras.models.load_model(path)


# the CNN trains 3 epochs with TensorBoard on: the evaluate/predict/resume tests below read the same run
SMOKE_EXTRA = {"cnn": ["--set", "training.epochs=3", "--set", "training.tensorboard=true"]}


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory) -> Path:
    """Every smoke config trained once, with `seed: 0` (the seed users type most; it once failed every
    training in the shuffle) and plots on (the default; smoke configs turn them off for speed), in one
    folder with a GAN and a malformed record (failed, interrupted and killed runs in a table:
    test_workflow.py::test_runs_table_lists_completed_failed_interrupted_and_killed_runs)."""
    root = tmp_path_factory.mktemp("smoke")
    for name in CLASSIFIER_SMOKES + VALUE_SMOKES:
        result = cli("train", SMOKE / f"{name}.yaml", "--run-dir", root / name, "--quiet", "--set", "seed=0",
                     "--set", "training.plots=true", *SMOKE_EXTRA.get(name, []))  # fmt: skip
        assert result.exit_code == 0, result.output
    gan = cli("train", SMOKE / "gan.yaml", "--run-dir", root / "gan", "--quiet", "--set", "training.epochs=1")
    assert gan.exit_code == 0, gan.output
    (root / "broken").mkdir()
    (root / "broken" / "run.json").write_text("[not an object", encoding="utf-8")  # must not abort a listing
    return root


@pytest.mark.parametrize("name", CLASSIFIER_SMOKES + VALUE_SMOKES)
def test_smoke_config_trains_into_complete_run_dir(smoke_runs: Path, name: str):
    run = smoke_runs / name
    epochs = 3 if name == "cnn" else 2
    for item in (
        "config.yaml",
        "run.json",
        "data_spec.json",
        "metrics.csv",
        "summary.json",
        "checkpoints/best.keras",
        "checkpoints/last.keras",
        f"backup/epoch-{epochs - 1:06d}/state.json",
        f"backup/epoch-{epochs:06d}/model.keras",
        "plots/curves.png",
    ):
        assert (run / item).is_file(), item
    rows = metrics_rows(run)
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == epochs and summary["samples_per_sec"] > 0
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and record["versions"]["tensorflow"]
    key = "accuracy" if name in CLASSIFIER_SMOKES else "rmse"
    evaluated = cli("evaluate", run, "--json")  # the test score summary.json reports is best.keras's on test
    assert evaluated.exit_code == 0, evaluated.output
    assert abs(json.loads(evaluated.output)[key] - summary["test"][key]) < 1e-6
    for which in ("best", "last"):
        model = load(run / "checkpoints" / f"{which}.keras")
        assert model.count_params() == summary["params"]
    # last.keras is the committed epoch's model itself (a hard link: no second copy written)
    assert (run / "checkpoints/last.keras").samefile(run / f"backup/epoch-{epochs:06d}/model.keras")


def test_runs_lists_every_kind_of_run(smoke_runs: Path):
    listed = cli_subprocess("runs", smoke_runs, "--json")  # the console script, never TensorFlow
    assert listed.returncode == 0, listed.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(listed.stdout)}
    assert {k: rows[k]["status"] for k in rows} == {
        **{name: "completed" for name in CLASSIFIER_SMOKES + VALUE_SMOKES + ["gan"]}, "broken": "unknown"}
    assert rows["gan"]["best"]["value"] is None and rows["gan"]["best"]["epoch"] == 1
    table = cli_subprocess("runs", smoke_runs)
    assert table.returncode == 0 and "last epoch (ep 1)" in table.stdout
    assert cli_subprocess("runs", smoke_runs, "--sort", "best").returncode == 0


@pytest.fixture(scope="module")
def trained_cnn(smoke_runs: Path) -> Path:
    return smoke_runs / "cnn"


def test_tensorboard_logs_written(trained_cnn: Path):
    """One scalar per epoch (and none per step: mlcli's TensorBoard logs at epoch ends only), equal to
    metrics.csv, read back with TensorFlow's own event reader."""
    import tensorflow as tf

    (events,) = (trained_cnn / "tensorboard" / "train").glob("events.out.tfevents.*")
    logged: dict[str, list] = {}
    for event in tf.compat.v1.train.summary_iterator(str(events)):
        for value in event.summary.value:
            logged.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    assert not [tag for tag in logged if tag.startswith("batch_")]
    rows = metrics_rows(trained_cnn)
    assert [step for step, _ in logged["epoch_loss"]] == [0, 1, 2]
    assert [v for _, v in logged["epoch_loss"]] == pytest.approx([float(r["loss"]) for r in rows], rel=1e-5)


def test_evaluate_json_matches_summary(trained_cnn: Path):
    result = cli("evaluate", trained_cnn, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads((trained_cnn / "eval.json").read_text())
    summary = json.loads((trained_cnn / "summary.json").read_text())
    assert report["samples"] == 360 and report["split"] == "test"
    assert report["accuracy"] == pytest.approx(summary["test"]["accuracy"], abs=1e-6)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert np.trace(matrix) / 360 == pytest.approx(report["accuracy"])
    assert set(report["per_class"]) == {str(i) for i in range(10)}


def test_evaluate_table_and_confusion_png(trained_cnn: Path):
    result = cli("evaluate", trained_cnn, "--split", "val", "--checkpoint", "last")
    assert result.exit_code == 0, result.output
    assert "confusion matrix" in result.output and "per class" in result.output
    assert (trained_cnn / "plots" / "confusion.png").is_file()


def test_predict_npz_and_image_files(trained_cnn: Path, tmp_path: Path):
    from PIL import Image

    from mlcli.data.sources.builtin import load_digits_arrays

    digits = load_digits_arrays()
    np.savez(tmp_path / "x.npz", x=digits["x_test"][:5])
    out = tmp_path / "p.json"
    result = cli("predict", trained_cnn, tmp_path / "x.npz", "--out", out, "--top-k", "10")
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    # recomputed by hand from best.keras: pixels / 255, softmax of the logits
    logits = load(trained_cnn / "checkpoints" / "best.keras").predict(digits["x_test"][:5] / 255.0, verbose=0)
    by_hand = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for row, probs in zip(rows, by_hand, strict=True):
        got = {p["class"]: p["probability"] for p in row["predictions"]}
        np.testing.assert_allclose([got[str(c)] for c in range(10)], probs, atol=2e-6)
    Image.fromarray(digits["x_test"][0][..., 0]).save(tmp_path / "d.png")
    csv_out = tmp_path / "p.csv"
    assert cli("predict", trained_cnn, tmp_path / "d.png", "--out", csv_out).exit_code == 0
    header, first = csv_out.read_text().splitlines()[:2]
    assert header == "input,class_1,probability_1,class_2,probability_2,class_3,probability_3"
    assert first.split(",")[:3] == [str(tmp_path / "d.png"), *map(str, (rows[0]["predictions"][0].values()))]


def test_predict_and_evaluate_bad_input(trained_cnn: Path, tmp_path: Path):
    assert cli("predict", trained_cnn, tmp_path / "missing.png").exit_code == 2
    assert cli("evaluate", tmp_path).exit_code == 2
    assert cli("evaluate", trained_cnn, "--checkpoint", tmp_path / "nope.keras").exit_code == 2
    assert cli("evaluate", trained_cnn, "--split", "holdout").exit_code == 2


def test_existing_run_dir_is_not_overwritten(trained_cnn: Path):
    before = (trained_cnn / "metrics.csv").read_text()
    result = cli("train", SMOKE / "cnn.yaml", "--run-dir", trained_cnn, "--quiet")
    assert result.exit_code == 2 and "already exists" in result.output
    assert (trained_cnn / "metrics.csv").read_text() == before


def test_resume_refuses_model_or_data_changes(trained_cnn: Path):
    result = cli("train", "--resume", trained_cnn, "--set", "model.dense=[32]", "--set", "data.batch_size=8")
    assert result.exit_code == 2
    assert "data.batch_size" in result.output and "model.dense" in result.output


def test_resume_of_finished_run_needs_more_epochs(trained_cnn: Path):
    result = cli("train", "--resume", trained_cnn)
    assert result.exit_code == 2 and "training.epochs=" in result.output


def test_resume_raises_epoch_budget(tmp_path: Path):
    run = tmp_path / "run"
    assert cli("train", SMOKE / "mlp.yaml", "--run-dir", run, "--quiet").exit_code == 0
    result = cli("train", "--run-dir", run, "--resume", "--set", "training.epochs=4", "--quiet")
    assert result.exit_code == 0, result.output
    assert [int(r["epoch"]) for r in metrics_rows(run)] == [1, 2, 3, 4]
    assert json.loads((run / "summary.json").read_text())["initial_epoch"] == 2


def test_nan_loss_stops_with_message_and_keeps_best(tmp_path: Path):
    run = tmp_path / "run"
    result = cli_subprocess(
        "train",
        SMOKE / "cnn.yaml",
        "--run-dir",
        run,
        "--quiet",
        "--set",
        "training.epochs=4",
        "--set",
        "optimizer.name=sgd",
        "--set",
        "optimizer.schedule.name=piecewise",
        "--set",
        "optimizer.schedule.boundaries=[1]",
        "--set",
        "optimizer.schedule.values=[0.01, 1.0e12]",
    )
    assert result.returncode == 1, result.stderr
    assert "training stopped: loss became" in result.stderr and "at epoch 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert [int(r["epoch"]) for r in metrics_rows(run)] == [1]
    # best.keras is epoch 1's model (the only good one), not the NaN weights of epoch 2
    best = load(run / "checkpoints" / "best.keras")
    first = load(run / "backup" / "epoch-000001" / "model.keras")
    for a, b in zip(best.get_weights(), first.get_weights(), strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_a_run_written_before_typed_specs_still_loads_and_a_future_one_is_exit_2(trained_cnn: Path, tmp_path: Path):
    """data_spec.json as mlcli wrote it before typed states (format 1) is converted on load; a format this
    version cannot read is exit 2 naming the version that wrote it."""
    import shutil

    spec = json.loads((trained_cnn / "data_spec.json").read_text())
    old = tmp_path / "old"
    shutil.copytree(trained_cnn, old)
    (old / "data_spec.json").write_text(json.dumps({
        "task": "classification", "kind": "image", "input_shape": [8, 8, 1], "class_names": spec["class_names"],
        "output_dim": 1, "vocab_size": None, "num_train": spec["num_train"], "num_val": spec["num_val"],
        "num_test": spec["num_test"], "state": {"scale": spec["input"]["scale"], "offset": 0.0},
    }))  # fmt: skip
    now, then = (json.loads(cli("evaluate", d, "--json").output) for d in (trained_cnn, old))
    assert then["accuracy"] == now["accuracy"] and then["samples"] == now["samples"] == 360
    future = tmp_path / "future"
    shutil.copytree(trained_cnn, future)
    (future / "data_spec.json").write_text(json.dumps({**spec, "format": 99, "mlcli_version": "9.9", "input": {}}))
    result = cli("evaluate", future)
    assert result.exit_code == 2 and "written by mlcli 9.9 in format 99" in result.output


def test_a_nan_in_an_epochs_last_short_chunk_names_a_step_inside_the_epoch():
    """With steps_per_execution 4, Keras numbers the last chunk of a 7-step epoch as if it ran to step 8."""
    from mlcli.training.callbacks.nan_guard import NanGuard

    x = np.ones((7, 2), "float32")
    x[6] = np.inf  # the 7th and last step's loss is not finite
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=4)
    guard = NanGuard()
    model.fit(x, np.ones((7, 1), "float32"), batch_size=1, epochs=1, shuffle=False, callbacks=[guard], verbose=0)
    assert guard.where is not None and guard.where.endswith("at epoch 1, step 7")
