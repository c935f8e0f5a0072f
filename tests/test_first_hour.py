"""The first hour of a new user, through the CLI: a config from the data (`init`), the data shown before
training (`inspect`, `validate`), defaults to start from, what training says on screen, help that
teaches, and the runs table over every kind of run."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLCLI, ROOT, SMOKE, cli, cli_subprocess, like_a_terminal

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- mlcli init: a config from the data that validates and trains --------------------------------------


def mixed_image_folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, base in (("dark", 50), ("light", 200)):
        (root / label).mkdir(parents=True)
        for i in range(10):
            size = (int(rng.integers(20, 90)), int(rng.integers(20, 90)))
            pixels = np.clip(base + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def text_folder(root: Path) -> Path:
    import pyjokes

    for lang in ("de", "pl"):
        (root / lang).mkdir(parents=True)
        for i, joke in enumerate(pyjokes.get_jokes(language=lang, category="all")[:20]):
            (root / lang / f"{i}.txt").write_text(joke + "\n", encoding="utf-8")
    return root


def penguins_csv(path: Path) -> Path:
    """Real data with strings and missing values: palmerpenguins, plus an id column a user would have."""
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    frame.insert(0, "penguin_id", [f"P{i:04d}" for i in range(len(frame))])
    frame.to_csv(path, index=False)
    return path


def digits_npz(path: Path) -> Path:
    from mlcli.data.sources.builtin import load_digits_arrays

    digits = load_digits_arrays()
    np.savez(path, x=digits["x_train"][:400, ..., 0], y=digits["y_train"][:400])
    return path


@pytest.mark.parametrize("kind", ["images", "texts", "csv", "npz"])
def test_init_writes_a_config_that_validates_and_trains(tmp_path: Path, kind: str):
    data = {"images": lambda: mixed_image_folder(tmp_path / "shapes"), "texts": lambda: text_folder(tmp_path / "jokes"),
            "csv": lambda: penguins_csv(tmp_path / "penguins.csv"),
            "npz": lambda: digits_npz(tmp_path / "digits.npz")}[kind]()  # fmt: skip
    out = tmp_path / "starter.yaml"
    made = cli_subprocess("init", data, "--out", out)  # the console script: no TensorFlow needed
    assert made.returncode == 0, made.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# mlcli starter config") and f"name: {data.stem}" in text
    if kind == "images":
        assert "source: image_folder" in text and "color_mode: rgb" in text and "test_fraction: 0.2" in text
    if kind == "texts":  # 40 texts: 8 validation files at 0.2, and a monitor that a few examples cannot pin
        assert "val_fraction: 0.2" in text and "monitor: val_loss" in text and "split: whitespace" in text
    if kind == "csv":  # the label found by name, the id column seen for what it is
        assert "label: 'species'" in text and "penguin_id: left out" in text and "sex: categorical" in text
        assert "val_fraction: 0.2" in text and "monitor: val_loss" in text  # 344 rows: 55 validation rows
    assert cli("validate", out).exit_code == 0
    run = tmp_path / "run"
    trained = cli("train", out, "--run-dir", run, "--quiet", "--set", "training.epochs=1")
    assert trained.exit_code == 0, trained.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["samples"] > 0 and summary["epochs_run"] == 1
    assert cli("init", data, "--out", out).exit_code == 2  # an existing file is never replaced
    assert out.read_text(encoding="utf-8") == text


# ---- the data, shown and checked before training --------------------------------------------------------


def test_validate_opens_the_data_and_train_leaves_nothing_behind(tmp_path: Path):
    csv_path = write(tmp_path / "t.csv", "a,b,label\n1,2,x\n3,4,y\n")
    cases = {
        "data: {source: image_folder, path: nowhere}": "2:36: data.path: nowhere: no such folder",
        f"data: {{source: csv, path: '{csv_path}', label: species}}": "data.label: no column 'species'",
        f"data: {{source: csv, path: '{csv_path}', label: label, features: [a, c]}}": "data.features: no column 'c'",
    }
    for data, message in cases.items():
        config = write(tmp_path / "c.yaml", f"name: t\n{data}\nmodel: {{type: mlp}}\n")
        result = cli("validate", config)
        assert result.exit_code == 2 and message in result.output, (data, result.output)
        began = time.perf_counter()
        trained = cli_subprocess("train", config, "--run-dir", tmp_path / "run")
        assert trained.returncode == 2 and message in trained.stderr
        assert time.perf_counter() - began < 10 and not (tmp_path / "run").exists()  # no failed run directory


def test_inspect_shows_split_sizes_classes_and_column_types(tmp_path: Path):
    data = penguins_csv(tmp_path / "penguins.csv")
    config = write(tmp_path / "p.yaml", f"data: {{source: csv, path: '{data}', label: species}}\nmodel: {{type: mlp}}")
    done = cli_subprocess("inspect", config)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    n = len(list(csv.reader(data.open()))) - 1  # 344 penguins
    assert re.search(r"train \d+, val \d+, test \d+", out)
    sizes = [int(v) for v in re.search(r"train ([\d,]+), val ([\d,]+), test ([\d,]+)", out).groups()]
    assert sum(sizes) == n and sizes[2] == round(n * 0.2)
    assert "Adelie" in out and "Chinstrap" in out and "Gentoo" in out
    assert re.search(r"penguin_id\s*│\s*left out", out) and "identifier" in out
    assert re.search(r"sex\s*│\s*categorical", out) and re.search(r"bill_length_mm\s*│\s*numeric", out)
    assert re.search(r"bill_length_mm.*│\s*0\.6%", out)  # 2 of 344 missing
    trained = cli("train", config, "--run-dir", tmp_path / "run", "--quiet", "--set", "training.epochs=1")
    assert "column 'penguin_id': left out" in trained.output  # the same summary, compact, before training
    spec = json.loads((tmp_path / "run" / "data_spec.json").read_text())
    assert [c["name"] for c in spec["input"]["columns"]][:1] == ["island"]  # the id is not a feature
    assert {c["name"]: c["type"] for c in spec["profile"]["columns"]}["penguin_id"] == "ignore"


# ---- defaults to start from -------------------------------------------------------------------------


def test_a_config_needs_neither_a_name_nor_an_architecture(tmp_path: Path):
    config = write(tmp_path / "my_first.yaml", "data: {source: builtin, name: digits}\nmodel: {type: cnn}\n"
                   "training: {epochs: 1}\n")  # fmt: skip
    shown = cli("config", "show", config)
    assert "name: my_first" in shown.output and "filters: 128" in shown.output
    assert cli("train", config, "--run-dir", tmp_path / "run", "--quiet").exit_code == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["name"] == "my_first"


# ---- what training says on screen -------------------------------------------------------------------


def test_best_checkpoint_learning_rate_and_stop_reason_are_reported(tmp_path: Path):
    run = tmp_path / "run"
    result = cli("train", SMOKE / "mlp.yaml", "--run-dir", run, "--quiet", "--set", "training.epochs=12",
                 "--set", "training.early_stopping={monitor: val_loss, patience: 1, min_delta: 0.5}")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    # the schedule of configs/smoke/mlp.yaml by hand: 0.05 x 0.8^(step / steps per epoch), at each epoch's first
    # step (epoch 1 starts at the configured 0.05, not at the decayed value after its last step)
    expected = [0.05 * 0.8**epoch for epoch in range(len(rows))]
    np.testing.assert_allclose([float(r["learning_rate"]) for r in rows], expected, rtol=1e-5)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"]["reason"] == "early_stopping" and summary["stopped"]["epoch"] == len(rows) < 12
    assert f"stopped early at epoch {len(rows)}: val_loss did not improve by more than 0.5" in result.output
    best_lines = [line for line in result.output.splitlines() if line.startswith("epoch") and "(best)" in line]
    assert len(best_lines) >= 1 and int(best_lines[-1].split()[1].split("/")[0]) == summary["best"]["epoch"]


def test_nan_before_any_epoch_says_no_checkpoint_exists(tmp_path: Path):
    result = cli("train", SMOKE / "mlp.yaml", "--run-dir", tmp_path / "run", "--quiet",
                 "--set", "optimizer.learning_rate=1.0e+12", "--set", "optimizer.schedule.name=constant")  # fmt: skip
    assert result.exit_code == 1 and "no epoch finished, so there is no checkpoint to keep" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_progress_bar_and_time_left_stay_on_screen_at_80_columns(tmp_path: Path):
    import fcntl
    import pty
    import struct
    import termios

    config = write(tmp_path / "slow.yaml", "name: slow\ndata: {source: synthetic, kind: images, shape: [32, 32, 3],"
                   " num_samples: 6000, batch_size: 8}\nmodel: {type: cnn, blocks: [{filters: 16}], head: global_avg}\n"
                   "training: {epochs: 1, tensorboard: false, plots: false, steps_per_execution: 1}\n")  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: mlcli on a terminal 80 columns wide, as a user has it
        os.environ.update(COLUMNS="80", LINES="24")
        os.execv(MLCLI[0], [*MLCLI, "train", str(config), "--run-dir", str(tmp_path / "r")])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = out.decode("utf-8", "replace")
    frames = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", f) for f in re.split(r"\r|\n|\x1b\[2K", text)]
    total = re.search(r"/(\d+) ", next(f for f in frames if f.startswith("epoch 1 "))).group(1)
    mid = [f for f in frames if f.startswith("epoch 1 ") and (m := re.search(r" (\d+)/" + total + " ", f))
           and 0 < int(m.group(1)) < int(total)]  # fmt: skip
    assert mid, "no frame was drawn mid-epoch"
    for frame in mid:
        assert len(frame.rstrip()) <= 80 and "━" in frame and "elapsed" in frame and " left" in frame
    # the first step has no rate yet ("-:-- left", as Rich says it); past the first tenth there is a clock
    later = [f for f in mid if int(re.search(r" (\d+)/", f).group(1)) > int(total) // 10]
    assert later and all(re.search(r"\d+:\d\d left", f) for f in later)
    assert any("loss" in f for f in mid)  # live metrics, cut to fit


# ---- Ctrl-C and signals --------------------------------------------------------------------------------


def test_ctrl_c_prints_the_resume_command_and_start_up_interrupts_leave_nothing(tmp_path: Path):
    config = write(tmp_path / "c.yaml", "name: c\ndata: {source: synthetic, kind: images, shape: [16, 16, 3], "
                   "num_samples: 3000, batch_size: 16}\nmodel: {type: cnn, blocks: [{filters: 8}]}\n"
                   "training: {epochs: 50, tensorboard: false}\n")  # fmt: skip
    run = tmp_path / "run"
    proc = subprocess.Popen([*MLCLI, "train", config, "--run-dir", run, "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=like_a_terminal)  # fmt: skip
    deadline = time.time() + 120
    while not list(run.glob("backup/epoch-*")) and time.time() < deadline:  # a committed epoch, not a temp
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"mlcli train --resume {run}" in err
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    # last.keras is the last finished epoch's model: the same weights as that epoch's backup
    from tests.test_train_e2e import load, load_compiled, metrics_rows

    done = len(metrics_rows(run))
    last = load_compiled(run / "checkpoints" / "last.keras")
    backup = load(run / "backup" / f"epoch-{done:06d}" / "model.keras")
    for a, b in zip(last.get_weights(), backup.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    per_epoch = -(-json.loads((run / "data_spec.json").read_text())["num_train"] // 16)  # the last batch partial
    assert int(last.optimizer.iterations.numpy()) == done * per_epoch  # whole epochs, not the interrupted one
    early = tmp_path / "early"
    proc = subprocess.Popen([*MLCLI, "train", config, "--run-dir", early],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=like_a_terminal)  # fmt: skip
    deadline = time.time() + 120  # each wait its own: under load the first part alone can take minutes
    while not (early / "config.yaml").is_file() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # still importing TensorFlow
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and not early.exists(), err
    # SIGTERM there too (a scheduler's cancel): it used to kill the process and leave .lock and config.yaml
    proc = subprocess.Popen([*MLCLI, "train", config, "--run-dir", early], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    deadline = time.time() + 120  # each wait its own: under load the first part alone can take minutes
    while not (early / "config.yaml").is_file() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and not early.exists(), err


# ---- help that teaches ---------------------------------------------------------------------------------


COMMANDS = ["validate", "init", "inspect", "train", "evaluate", "predict", "sample", "sweep", "export", "runs list",
            "runs compare", "config show", "schema"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_placeholders_and_shows_an_example(command: str):
    out = cli(*command.split(), "--help").output
    assert not re.search(r"<(list|int|str|path|float)", out), out
    if command not in ("schema",):
        assert "Example" in out, out
    assert f"Usage: mlcli {command}" in out  # `runs compare --help` is compare's own help


def test_sweep_help_says_its_defaults_and_models_describe_every_field():
    out = cli("sweep", "--help").output
    assert "sweep.trials, else 10" in out and "auto, the metric's own direction" in out
    from mlcli.config import Config

    def fields(schema: dict):
        yield from schema.get("properties", {}).items()

    schema = Config.model_json_schema()
    missing = [f"{cls}.{n}" for cls, s in schema["$defs"].items() for n, p in fields(s) if not p.get("description")]
    assert not missing, missing
    listed = cli("models").output
    assert "Convolution" in listed and "blocks[].filters" in listed and "{...}" not in listed


def test_config_show_origin_lines_stay_short():
    out = cli("config", "show", ROOT / "configs" / "cnn_digits.yaml", "--origin").output
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "model.blocks.0.padding: same" in out


# ---- the runs table (every kind of run: test_train_e2e.py::test_runs_lists_every_kind_of_run) ----------


def test_runs_after_a_resume_show_the_first_start_and_every_attempts_time(tmp_path: Path):
    run = tmp_path / "run"
    assert cli("train", SMOKE / "mlp.yaml", "--run-dir", run, "--quiet", "--set", "training.epochs=1").exit_code == 0
    first = json.loads((run / "run.json").read_text())
    assert cli("train", "--resume", run, "--quiet", "--set", "training.epochs=2").exit_code == 0
    second = json.loads((run / "run.json").read_text())
    row = json.loads(cli("runs", tmp_path, "--json").output)[0]
    assert row["started"] == first["started"] and row["attempts"] == 2
    assert row["wall_time_s"] == pytest.approx(first["wall_time_s"] + second["wall_time_s"], abs=0.5)


def test_runs_compare_names_the_block_field_that_changed(tmp_path: Path):
    for name, padding in (("a", "same"), ("b", "valid")):
        assert cli("train", SMOKE / "cnn.yaml", "--run-dir", tmp_path / name, "--quiet", "--set", "training.epochs=1",
                   "--set", f"model.blocks.0.padding={padding}").exit_code == 0  # fmt: skip
    result = cli("runs", "compare", tmp_path / "a", tmp_path / "b", "--json", "--out", tmp_path / "c.png")
    assert result.exit_code == 0
    assert json.loads(result.output)["config"] == {"model.blocks.0.padding": ["same", "valid"]}


def test_init_reads_a_folder_with_some_unspaced_texts_as_characters(tmp_path: Path):
    """Japanese among European texts: split on whitespace, each Japanese sentence would be one word."""
    sentences = {"good": ["Ein wirklich schöner Film über Freundschaft.", "Un film très réussi, bravo !",
                          "とても良い映画でした。"],
                 "bad": ["Очень скучный фильм, не смотрите.", "A dull film with a silly ending.",
                         "つまらない映画だった。"]}
    for label, texts in sentences.items():
        (tmp_path / "reviews" / label).mkdir(parents=True)
        for i, text in enumerate(texts * 4):
            (tmp_path / "reviews" / label / f"{i}.txt").write_text(text + "\n", encoding="utf-8")
    made = cli("init", tmp_path / "reviews", "--out", tmp_path / "r.yaml")
    assert made.exit_code == 0, made.output
    text = (tmp_path / "r.yaml").read_text(encoding="utf-8")
    assert "split: character" in text and "33% of the texts are written without spaces" in text
    assert cli("validate", tmp_path / "r.yaml").exit_code == 0


def test_init_sees_a_series_and_takes_the_label_it_is_given(tmp_path: Path):
    dates = [f"2021-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(200)]
    (tmp_path / "sales.csv").write_text("date,sales\n" + "".join(f"{d},{100 + i % 7}\n" for i, d in enumerate(dates)))
    made = cli_subprocess("init", tmp_path / "sales.csv", "--out", tmp_path / "sales.yaml")
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "sales.yaml").read_text()
    assert "task: timeseries" in text and "value_column: 'sales'" in text and "type: rnn" in text
    assert cli("validate", tmp_path / "sales.yaml").exit_code == 0
    penguins = penguins_csv(tmp_path / "penguins.csv")
    made = cli_subprocess("init", penguins, "--out", tmp_path / "mass.yaml", "--label", "body_mass_g")
    text = (tmp_path / "mass.yaml").read_text()
    assert made.returncode == 0 and "label: 'body_mass_g'" in text and "task: regression" in text, made.stderr
    assert "species: categorical" in text  # the usual label name is a feature once --label says otherwise
    wrong = cli_subprocess("init", penguins, "--out", tmp_path / "x.yaml", "--label", "mass")
    assert wrong.returncode == 2 and "--label 'mass': no such column" in wrong.stderr
