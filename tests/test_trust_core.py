"""The training core tells the truth: checked monitors, exact resume, durable shareable files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLCLI, ROOT, SMOKE, cli, cli_subprocess, like_a_terminal
from tests.test_train_e2e import load, metrics_rows

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out

CNN = SMOKE / "cnn.yaml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- monitors are checked, never guessed ---------------------------------------------------------


def test_monitor_typo_is_exit_2_at_validate_with_line_and_valid_names(tmp_path: Path):
    cfg = write(
        tmp_path / "c.yaml",
        "name: t\ndata: {source: builtin, name: digits}\nmodel: {type: mlp}\n"
        "training:\n  early_stopping: {monitor: val_acc}\n",
    )
    result = cli("validate", cfg)
    assert result.exit_code == 2
    assert f"{cfg}:5:29: training.early_stopping.monitor: 'val_acc' is not logged" in result.output
    assert "did you mean `val_accuracy`?" in result.output and "logged: loss, accuracy, val_loss" in result.output


def test_val_monitor_without_validation_data_is_exit_2(tmp_path: Path):
    cfg = write(
        tmp_path / "c.yaml",
        "name: t\ndata: {source: builtin, name: digits, val_fraction: 0}\nmodel: {type: mlp}\n"
        "training: {checkpoint: {monitor: val_accuracy}}\n",
    )
    result = cli("validate", cfg)
    assert result.exit_code == 2
    assert "training.checkpoint.monitor: 'val_accuracy' needs validation data" in result.output
    # `auto` is loss without validation data: valid, and nothing silently swaps metrics
    assert cli("validate", cfg, "--set", "training.checkpoint.monitor=auto").exit_code == 0


def _mlcli_digits_tfds(data_dir: Path) -> None:
    """A real TFDS dataset, prepared on disk from the shipped digits (read back by name, offline)."""
    import tensorflow_datasets as tfds

    from mlcli.data.sources.builtin import load_digits_arrays

    arrays = load_digits_arrays()

    class MlcliDigits(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(8, 8, 1)), "label": tfds.features.ClassLabel(num_classes=10)}
            )
            return tfds.core.DatasetInfo(builder=self, features=features, supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples("train"), "test": self._generate_examples("test")}

        def _generate_examples(self, split):
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
            for i in range(len(x)):
                yield i, {"image": x[i].reshape(8, 8, 1).astype(np.uint8), "label": int(y[i])}

    MlcliDigits(data_dir=str(data_dir)).download_and_prepare()


def test_sliced_tfds_split_gets_validation_and_best_checkpoint_is_the_best_epoch(tmp_path: Path):
    _mlcli_digits_tfds(tmp_path / "tfds")
    cfg = write(
        tmp_path / "c.yaml",
        f"name: sliced\nseed: 3\ndata: {{source: tfds, name: mlcli_digits, data_dir: '{tmp_path / 'tfds'}',\n"
        "  download: false, splits: {train: 'train[:80%]', test: test}, batch_size: 64}\n"
        "model: {type: mlp, layers: [32]}\noptimizer: {learning_rate: 0.01}\n"
        "training: {epochs: 4, tensorboard: false, checkpoint: {monitor: val_accuracy}}\n",
    )
    run = tmp_path / "run"
    result = cli("train", cfg, "--run-dir", run, "--quiet")  # in this process: what is tested is the split
    assert result.exit_code == 0, result.output[-3000:]
    spec = json.loads((run / "data_spec.json").read_text())
    total = int(round(0.8 * 1437))
    assert spec["num_val"] == round(total * 0.1) and spec["num_train"] == total - spec["num_val"]
    rows = metrics_rows(run)
    val_acc = [float(r["val_accuracy"]) for r in rows]
    best_epoch = int(np.argmax(val_acc)) + 1  # the first epoch with the highest val accuracy
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"] == {
        "monitor": "val_accuracy",
        "mode": "max",
        "value": pytest.approx(max(val_acc), abs=1e-5),
        "epoch": best_epoch,
    }
    assert summary["test_checkpoint"] == "best"
    # the test score is the best checkpoint's, checked with an independent loader and numpy
    import tensorflow_datasets as tfds

    test = tfds.as_numpy(tfds.load("mlcli_digits", split="test", data_dir=str(tmp_path / "tfds"), batch_size=-1))
    state = json.loads((run / "data_spec.json").read_text())["input"]
    x = test["image"].astype(np.float32) * state["scale"] + state["offset"]
    best = load(run / "checkpoints" / "best.keras")
    accuracy = float(np.mean(np.argmax(best.predict(x, verbose=0), 1) == test["label"]))
    assert summary["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_early_stopping_on_val_f1_stops_when_patience_runs_out(tmp_path: Path):
    run = tmp_path / "run"
    result = cli(
        "train", CNN, "--run-dir", run, "--quiet",
        "--set", "training.epochs=12",
        "--set", "training.early_stopping={monitor: val_f1, patience: 1, min_delta: 0.05}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    f1 = [float(r["val_f1"]) for r in metrics_rows(run)]
    # independent replay of Keras' rule: an improvement beats the best by more than min_delta;
    # training stops once `patience` epochs in a row did not improve
    best, wait, expected = None, 0, len(f1)
    for i, value in enumerate(f1):
        wait += 1
        if best is None or value - 0.05 > best:
            best, wait = value, 0
        elif wait >= 1 and i > 0:
            expected = i + 1
            break
    assert len(f1) == expected < 12


def test_gan_checkpoint_and_early_stopping_on_trackers(tmp_path: Path):
    run = tmp_path / "run"
    result = cli(
        "train", SMOKE / "gan.yaml", "--run-dir", run, "--quiet",
        "--set", "training.epochs=3",
        "--set", "training.checkpoint.monitor=val_d_acc_real",
        "--set", "training.early_stopping={monitor: g_loss, patience: 5}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = metrics_rows(run)
    values = [float(r["val_d_acc_real"]) for r in rows]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"]["monitor"] == "val_d_acc_real"
    assert summary["best"]["epoch"] == int(np.argmax(values)) + 1  # d_acc improves upwards
    bad = cli("validate", SMOKE / "gan.yaml", "--set", "training.checkpoint.monitor=val_loss")
    assert bad.exit_code == 2 and "logged: d_loss, g_loss, d_acc_real, d_acc_fake" in bad.output


# ---- exact resume --------------------------------------------------------------------------------

EXACT = [
    "--quiet",
    "--set", "training.epochs=4",
    "--set", "training.deterministic=true",
    "--set", "model.dropout=0.3",
    "--set", "data.preprocessing.augment=[random_flip, random_translation]",
    "--set", "training.early_stopping={monitor: val_loss, patience: 4}",
    "--set", "training.reduce_lr_on_plateau={patience: 1, factor: 0.5}",
]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("exact") / "run"
    result = cli_subprocess("train", CNN, "--run-dir", run, *EXACT)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def assert_same_run(a: Path, b: Path) -> None:
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    import keras

    from mlcli.metrics import register_keras_objects

    register_keras_objects()  # the checkpoints' compile state names mlcli's macro-F1 metric
    for name in ("last.keras", "best.keras"):
        wa, wb = (keras.models.load_model(d / "checkpoints" / name) for d in (a, b))
        for x, y in zip(wa.get_weights(), wb.get_weights(), strict=True):
            np.testing.assert_array_equal(x, y)
        assert int(wa.optimizer.iterations.numpy()) == int(wb.optimizer.iterations.numpy())


def test_killed_at_three_awkward_moments_the_resumed_run_is_exact(tmp_path: Path, uninterrupted: Path):
    """One run, as a user's might go: kill -9 between epoch 2's backup and its copies; the resume is
    killed between epoch 3's best.keras and last.keras; the next one mid-epoch 4; the last one finishes.
    Its metrics.csv and weights are the uninterrupted run's, byte for byte (console script, mlcli's own
    oneDNN choice)."""
    run = tmp_path / "run"
    shared = {"preexec_fn": umask_022}  # a team's umask: every file the four processes write is 0644
    killed = cli_subprocess("train", CNN, "--run-dir", run, *EXACT, env={"MLCLI_CRASH_AT": "after_backup:2"},
                            **shared)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert len(metrics_rows(run)) == 1  # epoch 2's copy was not yet written
    killed = cli_subprocess("train", "--resume", run, "--quiet", env={"MLCLI_CRASH_AT": "after_best:3"}, **shared)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert len(metrics_rows(run)) == 2  # the resume completed epoch 2, then died inside epoch 3's copies
    proc = subprocess.Popen([*MLCLI, "train", "--resume", str(run), "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=umask_022)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(metrics_rows(run)) < 3:  # epoch 3 completed: epoch 4 is training
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((run / "run.json").read_text())["status"] == "running" and len(metrics_rows(run)) == 3
    assert not (run / "backup" / "epoch-000004").exists()
    resumed = cli_subprocess("train", "--resume", run, "--quiet", **shared)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(uninterrupted, run)
    assert not list(run.rglob(".*.tmp-*"))  # a killed write leaves nothing behind after the restart
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "completed" and [a["status"] for a in record["attempts"]] == ["killed"] * 3
    for attempt in record["attempts"]:  # each ended at its last write, so `runs` counts its time
        assert attempt["wall_time_estimated"] and 0 < attempt["wall_time_s"] < 300
    # files as a plain open() makes them under the umask (atomic writes start from private temp files)
    modes = {str(p.relative_to(run)): p.stat().st_mode & 0o777 for p in run.rglob("*") if p.name != ".lock"}
    assert {m for p, m in modes.items() if (run / p).is_file()} == {0o644}, modes
    assert {m for p, m in modes.items() if (run / p).is_dir()} == {0o755}, modes
    # a finished run is not trained again, and nothing in it changes
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    again = cli_subprocess("train", "--resume", run, "--quiet")
    assert again.returncode == 2 and "already finished (4 of 4 epochs)" in again.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def umask_022() -> None:
    """In a child: the umask most teams have, and Ctrl-C as in a terminal."""
    os.umask(0o022)
    like_a_terminal()


# ---- durable, shareable files ----------------------------------------------------------------------


def test_two_processes_racing_for_one_run_dir(tmp_path: Path):
    run = tmp_path / "run"
    procs = [
        subprocess.Popen(
            [*MLCLI, "train", str(SMOKE / "mlp.yaml"), "--run-dir", str(run), "--quiet"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    finished = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in finished) == [0, 2]
    loser = next(err for code, err in finished if code == 2)
    # in use (locked), or taken between its look and its lock; "already exists" only if the winner had finished
    assert any(m in loser for m in ("another mlcli process is", "another run started", "already exists")), loser
    assert [int(r["epoch"]) for r in metrics_rows(run)] == [1, 2]  # one run's rows, each epoch once
