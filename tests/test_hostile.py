"""Hostile inputs and faults, tried through the console script: no write escapes the run, no run is lost,
every user error is exit 2 with one line, and a refused command changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLCLI, ROOT, SMOKE, cli, cli_subprocess

sys.path.insert(0, str(ROOT / "benchmarks"))
from hostile_configs import EXPECTED, write_corpus  # noqa: E402

MLP = SMOKE / "mlp.yaml"
DETERMINISTIC = ["--quiet", "--set", "training.deterministic=true"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def rows(run: Path) -> list[str]:
    return (run / "metrics.csv").read_text().splitlines()[1:]


# ---- configs built to hurt -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_hostile_config_is_exit_2_in_one_line(corpus: dict[str, Path], name: str):
    """bench_hostile_configs.py times the same corpus through the console script."""
    result = cli("validate", corpus[name])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and EXPECTED[name] in result.output, result.output
    assert "Traceback" not in result.output and not Path("/tmp/mlcli-pwned").exists()


# ---- a group member planting symlinks ------------------------------------------------------------

ATTACKER = r"""
import ctypes, os, struct, sys, time
shared, victim_dir, victim_file, stop = sys.argv[1:5]
libc = ctypes.CDLL("libc.so.6", use_errno=True)
IN_CREATE, IN_ISDIR = 0x100, 0x40000000
fd = libc.inotify_init1(os.O_NONBLOCK)
folders = {}

def watch(path):
    wd = libc.inotify_add_watch(fd, path.encode(), IN_CREATE)
    if wd >= 0:
        folders[wd] = path

watch(shared)
planted = 0
while not os.path.exists(stop):
    try:
        buf = os.read(fd, 1 << 16)
    except BlockingIOError:
        time.sleep(0.0005)
        continue
    i = 0
    while i < len(buf):
        wd, mask, _, length = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + length].rstrip(b"\0").decode()
        i += 16 + length
        path = os.path.join(folders.get(wd, ""), name)
        if mask & IN_ISDIR:
            watch(path)
        if ".tmp-" not in name:
            continue
        try:  # move mlcli's temporary aside and leave a symlink to the victim under its name
            os.rename(path, path + ".moved")
            os.symlink(victim_dir if mask & IN_ISDIR else victim_file, path)
            planted += 1
        except OSError:
            pass
print(planted)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the attacker as another user (nobody)")
def test_symlinks_planted_on_every_temp_name_cannot_redirect_a_write():
    """The README's team set-up (a group-writable runs/), made world-writable with umask 000: a user who
    may not read the victim plants symlinks to it on each temporary mlcli creates; the victim, a
    root-only file, must be untouched and the training must finish."""
    root = Path(tempfile.mkdtemp(prefix="mlcli-race-", dir="/tmp"))
    try:
        shared, secret = root / "runs", root / "secret"
        shared.mkdir(mode=0o777)
        shared.chmod(0o777)
        root.chmod(0o755)
        secret.mkdir(mode=0o700)
        victim = secret / "victim"
        victim.write_bytes(b"root's own bytes\n")
        victim.chmod(0o600)
        before = (victim.read_bytes(), victim.stat().st_mode, victim.stat().st_mtime_ns, sorted(os.listdir(secret)))
        stop = root / "stop"
        attacker = subprocess.Popen(
            ["/usr/bin/python3", "-I", "-c", ATTACKER, str(shared), str(secret), str(victim), str(stop)],
            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)),
        )  # fmt: skip
        time.sleep(0.5)
        run = shared / "run"
        result = cli_subprocess("train", MLP, "--run-dir", run, "--quiet", "--set", "training.tensorboard=true",
                                preexec_fn=lambda: os.umask(0))  # fmt: skip
        stop.touch()
        planted = int(attacker.communicate(timeout=30)[0])
        after = (victim.read_bytes(), victim.stat().st_mode, victim.stat().st_mtime_ns, sorted(os.listdir(secret)))
        assert after == before
        assert planted >= 3, planted  # the attacker did swap mlcli's temporaries
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(rows(run)) == 2 and json.loads((run / "run.json").read_text())["status"] == "completed"
        assert list((run / "tensorboard" / "train").iterdir())
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- a run killed at any write of its last epoch can be completed ------------------------------------


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("whole") / "run"
    result = cli_subprocess("train", MLP, "--run-dir", run, *DETERMINISTIC)
    assert result.returncode == 0, result.stderr[-2000:]
    return run


# the writes of an epoch's commit, in order, and the rows metrics.csv has once each is done (epoch 2 of 2);
# then summary.json's (a kill just before it leaves what after_metrics leaves: the test score is in memory)
LAST_EPOCH_WRITES = [("after_backup", 1), ("after_best", 1), ("after_last", 1), ("after_metrics", 2),
                     ("after_summary", 2)]  # fmt: skip


@pytest.mark.slow
def test_killed_at_each_write_of_the_last_epoch_resume_completes_it(tmp_path: Path, uninterrupted: Path):
    """kill -9 at each write of the last epoch in turn: the run is killed after its backup, the resume
    that completes it is killed at the next write, and so on; the last resume finishes it. A resume
    repeats the commit's writes in the same order, so each kill leaves the files a first run would.

    After the first kill the newest backup's model.keras is cut short (a half-written disk block): the
    first resume says so and falls back to the epoch before, and, deterministic, trains epoch 2 again
    to the same bytes."""
    run = tmp_path / "run"
    first, *later = LAST_EPOCH_WRITES
    for point, rows_written in LAST_EPOCH_WRITES:
        env = {"MLCLI_CRASH_AT": f"{point}:2"}
        if point == first[0]:
            killed = cli_subprocess("train", MLP, "--run-dir", run, *DETERMINISTIC, env=env)
        else:
            killed = cli_subprocess("train", "--resume", run, "--quiet", env=env)
        assert killed.returncode == -signal.SIGKILL, f"not killed at {point}: {killed.stderr[-2000:]}"
        assert len(rows(run)) == rows_written, point
        assert (run / "summary.json").is_file() == (point == "after_summary"), point
        if point == first[0]:
            newest = run / "backup" / "epoch-000002" / "model.keras"
            newest.write_bytes(newest.read_bytes()[:1000])
        elif point == later[0][0]:
            assert "epoch-000002: model.keras is corrupt" in killed.stderr, killed.stderr[-2000:]
            assert "the epoch before" in killed.stderr
    resumed = cli_subprocess("train", "--resume", run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run / "metrics.csv").read_bytes() == (uninterrupted / "metrics.csv").read_bytes()
    for name in ("best.keras", "last.keras"):
        assert (run / "checkpoints" / name).is_file()
    summary = json.loads((run / "summary.json").read_text())
    whole = json.loads((uninterrupted / "summary.json").read_text())
    assert summary["test"] == whole["test"] and summary["best"] == whole["best"]
    record = json.loads((run / "run.json").read_text())
    # four killed attempts; the fifth had written its summary, so the last resume marks that one completed
    assert record["status"] == "completed" and [a["status"] for a in record["attempts"]] == ["killed"] * 4
    assert "summary were written before it stopped; marked completed" in resumed.stdout + resumed.stderr


# ---- signals and pipes -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("point", "sig", "code"), [("after_backup:2", "SIGTERM", 143), ("after_last:2", "SIGHUP", 129)])  # noqa: E501
def test_a_signal_during_an_epochs_commit_waits_for_it_so_the_files_agree(tmp_path: Path, point, sig, code):
    """The signal arrives with epoch 2's backup written (or its last.keras too): metrics.csv, best.keras and
    last.keras still get epoch 2 before the process stops, which is marked interrupted with the resume
    command (SIGHUP, a closed terminal, like Ctrl-C: one handler takes all three; Ctrl-C mid-epoch is
    test_first_hour.py's). The files used to stay at epoch 1 until a resume."""
    run = tmp_path / "run"
    stopped = cli_subprocess("train", MLP, "--run-dir", run, "--quiet", "--set", "training.epochs=4",
                             env={"MLCLI_CRASH_AT": f"{point}:{sig}"})  # fmt: skip
    assert stopped.returncode == code, stopped.stderr[-2000:]
    assert [r.split(",")[0] for r in rows(run)] == ["1", "2"]
    committed = (run / "backup" / "epoch-000002" / "model.keras").stat().st_ino
    assert (run / "checkpoints" / "last.keras").stat().st_ino == committed
    best_epoch = json.loads((run / "backup" / "epoch-000002" / "state.json").read_text())["best_epoch"]
    assert ((run / "checkpoints" / "best.keras").stat().st_ino == committed) == (best_epoch == 2)
    assert not list(run.rglob(".*.tmp-*"))
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert f"interrupted ({sig})" in stopped.stderr and f"mlcli train --resume {run}" in stopped.stderr


@pytest.mark.slow
def test_nohup_and_a_closed_stdout_keep_training(tmp_path: Path):
    """`nohup mlcli train ... | head -1`: started with SIGHUP ignored, it stays ignored (it used to stop
    training); its stdout closed after one line stops the printing, not the training."""
    run = tmp_path / "run"

    def nohup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen([*MLCLI, "train", MLP, "--run-dir", run, "--set", "training.epochs=4"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=nohup)  # fmt: skip
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    deadline = time.time() + 120
    while not list(run.glob("backup/epoch-*")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    proc.wait(timeout=300)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    assert len(rows(run)) == 4 and json.loads((run / "run.json").read_text())["status"] == "completed"


# ---- outputs never land on a run's own files -------------------------------------------------------


@pytest.fixture(scope="module")
def trained(uninterrupted: Path, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("copy") / "run"
    shutil.copytree(uninterrupted, copy)
    np.savez(copy.parent / "rows.npz", x=np.zeros((3, 6), "float32"))  # inputs for predict
    return copy


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["export", "{run}", "--format", "keras", "--out", "{run}/checkpoints/best.keras", "--force"],
        ["predict", "{run}", "{run}/../rows.npz", "--out", "{run}/metrics.csv", "--force"],
        ["predict", "{run}", "{run}/../rows.npz", "--out", "{run}/summary.json", "--force"],
        ["predict", "{run}", "{run}/../rows.npz", "--out", "{run}/backup/epoch-000002/state.json", "--force"],
    ],
)
def test_outputs_that_would_replace_a_runs_own_files_are_refused(trained: Path, args: list[str]):
    before = snapshot(trained)
    result = cli(*[a.format(run=trained) for a in args])
    assert result.exit_code == 2, result.output
    assert "run's own" in result.output or "inside the run directory" in result.output, result.output
    assert snapshot(trained) == before


@pytest.mark.slow
def test_an_existing_output_needs_force(trained: Path, tmp_path: Path):
    out = tmp_path / "predictions.csv"
    out.write_text("mine\n")
    rows_npz = trained.parent / "rows.npz"
    refused = cli("predict", trained, rows_npz, "--out", out)
    assert refused.exit_code == 2 and "--force" in refused.output and out.read_text() == "mine\n"
    forced = cli("predict", trained, rows_npz, "--out", out, "--force")
    assert forced.exit_code == 0 and len(out.read_text().splitlines()) == 4, forced.output  # a header, 3 rows


# ---- NPZ data that would silently train the wrong model ---------------------------------------------


def npz_config(tmp_path: Path, x, y, **extra) -> Path:
    np.savez(tmp_path / "d.npz", x=x, y=y, **extra)
    config = tmp_path / "c.yaml"
    config.write_text(f"name: n\ndata: {{source: npz, path: {tmp_path / 'd.npz'}, batch_size: 8}}\n"
                      "model: {type: mlp, layers: [4]}\ntraining: {epochs: 1}\n")  # fmt: skip
    return config


rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3)).astype("float32")


@pytest.mark.parametrize(
    ("y", "classes"),
    [
        (np.array([0, 1_000_000] * 20), ["0", "1000000"]),
        (np.array([-1, 1] * 20), ["-1", "1"]),
        (np.array([2**40, 2**40 + 1] * 20, dtype=np.int64), [str(2**40), str(2**40 + 1)]),
        (np.array([True, False] * 20), ["False", "True"]),
    ],
)
def test_npz_labels_that_are_not_0_to_k_minus_1_become_classes_and_say_so(tmp_path: Path, y, classes):
    result = cli("inspect", npz_config(tmp_path, X, y))
    assert result.exit_code == 0, result.output
    assert "2 classes" in result.output, result.output
    for name in classes:
        assert name in result.output


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.full((40, 3), np.nan, "float32"), np.arange(40) % 2, "NaN or infinite"),
        (np.where(np.eye(40, 3) > 0, np.inf, 0).astype("float32"), np.arange(40) % 2, "NaN or infinite"),
        (np.arange(40, dtype="float32"), np.arange(40) % 2, "x"),
        (np.zeros((40, 2, 2, 2, 2), "float32"), np.arange(40) % 2, "x"),
        (np.zeros((0, 3), "float32"), np.zeros(0), "shape (0, 3)"),
        (X, np.zeros((40, 2)), "y"),
        (X.astype("complex64"), np.arange(40) % 2, "complex"),
    ],
)
def test_npz_features_and_shapes_that_cannot_train_are_exit_2(tmp_path: Path, x, y, message: str):
    result = cli("train", npz_config(tmp_path, x, y), "--run-dir", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert message in result.output and "d.npz" in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_string_npz_labels_are_class_names(tmp_path: Path):
    result = cli("inspect", npz_config(tmp_path, X, np.array(["cat", "dog"] * 20)))
    assert result.exit_code == 0 and "cat" in result.output and "dog" in result.output, result.output


# ---- image files training could not decode -----------------------------------------------------------


def image_folder(tmp_path: Path) -> Path:
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / label / f"{i}.png")
    return tmp_path / "imgs"


def folder_config(tmp_path: Path, folder: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(f"name: i\ndata: {{source: image_folder, path: {folder}, image_size: [12, 12], batch_size: 4}}\n"
                      "model: {type: cnn, blocks: [{filters: 4}]}\ntraining: {epochs: 1}\n")  # fmt: skip
    return config


@pytest.mark.slow
@pytest.mark.parametrize("breakage", ["tiff_named_png", "corrupt_stream", "bomb"])
def test_images_training_cannot_decode_are_named_before_training(tmp_path: Path, breakage: str):
    from PIL import Image

    folder = image_folder(tmp_path)
    bad = folder / "a" / "3.png"
    if breakage == "tiff_named_png":
        Image.open(bad).save(bad, format="TIFF")
    elif breakage == "corrupt_stream":
        data = bytearray(bad.read_bytes())
        start = data.index(b"IDAT") + 8
        data[start:start + 20] = b"\xff" * 20  # the compressed stream, header and chunk intact
        bad.write_bytes(bytes(data))
    else:
        Image.new("L", (20000, 20000)).save(bad, optimize=True)  # 400 megapixels in a few hundred KB
    # in-process: the check is TensorFlow's own decoder, whatever the environment (and two processes less)
    result = cli("train", folder_config(tmp_path, folder), "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 2, result.output[-2000:]
    assert "3.png" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # a data error leaves no failed run behind
    skipped = cli("train", folder_config(tmp_path, folder), "--run-dir", tmp_path / "run2", "--quiet",
                  "--set", "data.skip_corrupt=true")  # fmt: skip
    assert skipped.exit_code == 0, skipped.output[-2000:]
    assert "3.png" in skipped.output  # skipped, and said so


# ---- user errors that are exit 2, writing nothing ---------------------------------------------------


def test_run_dirs_mlcli_cannot_use_are_exit_2_and_get_no_lock(tmp_path: Path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for target in ("/proc/self/run", a_file, a_file / "run"):
        result = cli("train", MLP, "--run-dir", target)
        assert result.exit_code == 2, (target, result.output)
    assert a_file.read_text() == "x" and sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only modes")
def test_a_read_only_run_directory_is_exit_2(tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    result = cli("train", MLP, "--run-dir", folder / "run")
    assert result.exit_code == 2, result.output


@pytest.mark.slow
def test_a_corrupt_keras_file_is_named_not_reported_missing(trained: Path, tmp_path: Path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    (copy / "checkpoints" / "best.keras").write_bytes(b"PK\x03\x04 not a zip")
    result = cli("evaluate", copy)
    assert result.exit_code == 2, result.output
    assert "best.keras" in result.output and "not found" not in result.output.lower()


def test_sweep_storage_and_search_space_errors_are_exit_2(tmp_path: Path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text((SMOKE / "mlp.yaml").read_text() + "sweep:\n  trials: 2\n  params:\n"
                     "    optimizer.learning_rate: choice(2020-01-01)\n")  # fmt: skip
    result = cli("sweep", sweep, "--sweep-dir", tmp_path / "out")
    assert result.exit_code == 2 and "choice" in result.output, result.output
    good = SMOKE / "sweep.yaml"
    for storage in ("postgres://nowhere/db", f"sqlite:///{tmp_path}/missing/dir/study.db", "sqlite:////proc/x.db"):
        started = time.monotonic()
        result = cli("sweep", good, "--sweep-dir", tmp_path / "out2", "--storage", storage)
        assert result.exit_code == 2, (storage, result.output)
        assert time.monotonic() - started < 60  # not SQLite's retry loop
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


@pytest.mark.slow
def test_one_malformed_run_does_not_hide_the_others(trained: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    shutil.copytree(trained, runs / "good" / "1")
    shutil.copytree(trained, runs / "bad" / "1")
    (runs / "bad" / "1" / "run.json").write_text("{not json")
    (runs / "bad" / "1" / "summary.json").write_text("[1, 2")
    result = cli("runs", "list", runs)
    assert result.exit_code == 0, result.output
    assert "2 runs below" in result.output, result.output
    assert "completed" in result.output and "unknown" in result.output, result.output  # good, and bad shown


def test_a_data_error_leaves_no_run_directory(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text(f"name: n\ndata: {{source: csv, path: {tmp_path / 'missing.csv'}, label: y}}\n"
                      "model: {type: mlp}\n")  # fmt: skip
    for _ in range(2):  # the same --run-dir is not refused the second time
        result = cli("train", config, "--run-dir", tmp_path / "run")
        assert result.exit_code == 2 and "missing.csv" in result.output, result.output
        assert not (tmp_path / "run").exists()
