"""The experiment workflow: configs composed from bases, the runs table, comparing runs, sweeps."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MLCLI, ROOT, SMOKE, cli, like_a_terminal

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def at(path: Path, line: int, token: str) -> str:
    """`path:line:col` of `token` on that line, counted by hand from the file's text."""
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    return f"{path}:{line}:{text.index(token) + 1}"


def test_child_config_extends_nested_bases_and_training_uses_it(tmp_path: Path):
    write(tmp_path / "shared" / "common.yaml", "seed: 5\ndata: {source: builtin, name: digits, batch_size: 64}\n"
          "training: {epochs: 10, tensorboard: false, plots: false, metrics: [accuracy]}\n")  # fmt: skip
    write(tmp_path / "shared" / "mlp.yaml", "base: common.yaml\nmodel: {type: mlp, layers: [16], dropout: 0.1}\n")
    child = write(tmp_path / "child.yaml", "base: [shared/mlp.yaml]\nname: child\ntraining: {epochs: 2}\n"
                  "data: {batch_size: 128}\nmodel: {layers: [8, 8]}\n")  # fmt: skip
    shown = cli("config", "show", child, "--origin", "--set", "seed=9")
    assert shown.exit_code == 0, shown.output
    lines = {ln.split(":")[0]: ln for ln in shown.output.splitlines()}
    common, mlp = tmp_path / "shared" / "common.yaml", tmp_path / "shared" / "mlp.yaml"
    assert lines["training.epochs"].split("# ")[1] == at(child, 3, "2}")  # the child wins
    assert "training.tensorboard: false" in lines["training.tensorboard"]
    assert lines["training.tensorboard"].endswith(at(common, 3, "false"))  # from a base's base
    assert lines["data.name"].endswith(at(common, 2, "digits")) and lines["data.batch_size"].endswith(
        at(child, 4, "128")
    )
    assert lines["model.layers"].startswith("model.layers: [8, 8]")  # lists replace, maps merge
    assert lines["model.dropout"].endswith(at(mlp, 2, "0.1")) and lines["seed"].endswith("--set seed=9")
    assert lines["model.activation"].endswith("# default")
    result = cli("train", child, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_run"] == 2
    saved = (tmp_path / "run" / "config.yaml").read_text()  # the run keeps the composed config, no base
    assert "base:" not in saved and "batch_size: 128" in saved and "dropout: 0.1" in saved


def test_errors_in_a_base_name_that_file_and_cycles_are_exit_2(tmp_path: Path):
    write(tmp_path / "base.yaml", "data: {source: builtin, name: digits}\nmodel:\n  type: mlp\n  dropout: 2.5\n")
    child = write(tmp_path / "child.yaml", "base: base.yaml\nname: c\n")
    result = cli("validate", child)
    assert result.exit_code == 2
    assert f"{at(tmp_path / 'base.yaml', 4, '2.5')}: model.dropout: Input should be less than 1" in result.output
    write(tmp_path / "base.yaml", "data: {source: builtin, name: digits\nmodel: {type: mlp}\n")  # YAML error
    result = cli("validate", child)
    assert result.exit_code == 2 and f"{tmp_path / 'base.yaml'}:2:" in result.output and "YAML syntax" in result.output
    write(tmp_path / "a.yaml", "base: b.yaml\nname: a\n")
    write(tmp_path / "b.yaml", "base: a.yaml\nmodel: {type: mlp}\n")
    result = cli("validate", tmp_path / "a.yaml")
    assert (
        result.exit_code == 2
        and "b.yaml:1:7: base: 'a.yaml' makes a cycle of bases (a.yaml -> b.yaml -> a.yaml)" in result.output
    )
    missing = write(tmp_path / "m.yaml", "base: nowhere.yaml\nname: m\n")
    result = cli("validate", missing)
    assert result.exit_code == 2 and "base: no such file 'nowhere.yaml'" in result.output


def _until_first_epoch(run: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while not (run / "metrics.csv").is_file():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)


def test_runs_table_lists_completed_failed_interrupted_and_killed_runs(tmp_path: Path):
    root = tmp_path / "runs"
    long = ["--set", "training.epochs=500", "--set", "data.num_samples=4000"]
    procs = {
        name: subprocess.Popen(
            [*MLCLI, "train", SMOKE / "mlp.yaml", "--run-dir", root / name, "--quiet", *long],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=like_a_terminal,
        )
        for name in ("interrupted", "killed")
    }  # fmt: skip
    assert cli("train", SMOKE / "mlp.yaml", "--run-dir", root / "done", "--quiet").exit_code == 0
    bad = write(tmp_path / "bad.yaml", "name: bad\ndata: {source: synthetic, kind: regression, shape: [6]}\n"
                "model: {type: mlp}\noptimizer: {learning_rate: 1.0e+12}\n")  # fmt: skip
    assert cli("train", bad, "--run-dir", root / "deep" / "failed", "--quiet").exit_code == 1  # the loss became NaN
    for name, sig in (("interrupted", signal.SIGINT), ("killed", signal.SIGKILL)):
        _until_first_epoch(root / name, procs[name])
        procs[name].send_signal(sig)
        procs[name].wait(timeout=60)
    result = cli("runs", root, "--json")
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in json.loads(result.output)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "done": "completed", "failed": "failed", "interrupted": "interrupted", "killed": "killed"
    }  # fmt: skip
    summary = json.loads((root / "done" / "summary.json").read_text())
    assert rows["done"]["epochs"] == summary["final_epoch"] == 2 and rows["done"]["best"] == summary["best"]
    assert rows["done"]["test"]["mae"] == summary["test"]["mae"] and rows["done"]["name"] == "smoke_mlp"
    assert rows["interrupted"]["epochs"] >= 1 and rows["failed"]["name"] == "bad" and rows["failed"]["test"] == {}
    table = cli("runs", root, "--sort", "mae")
    assert table.exit_code == 0 and "completed" in table.output and "killed" in table.output
    assert cli("runs", tmp_path / "nowhere").exit_code == 2
    assert "no run has that test metric" in cli("runs", root, "--sort", "f2").output


def test_runs_compare_names_changed_fields_and_plots_curves(tmp_path: Path):
    for name, lr in (("a", "0.05"), ("b", "0.01")):
        result = cli("train", SMOKE / "mlp.yaml", "--run-dir", tmp_path / name, "--quiet",
                     "--set", f"optimizer.learning_rate={lr}")  # fmt: skip
        assert result.exit_code == 0, result.output
    out = tmp_path / "cmp.png"
    result = cli("runs", "compare", tmp_path / "a", tmp_path / "b", "--json", "--out", out)
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)
    assert compared["config"] == {"optimizer.learning_rate": [0.05, 0.01]}
    tests = [json.loads((tmp_path / n / "summary.json").read_text())["test"]["mae"] for n in ("a", "b")]
    assert compared["test"]["mae"] == tests and tests[0] != tests[1]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli("runs", "compare", tmp_path / "a").exit_code == 2
    best = [json.loads((tmp_path / n / "summary.json").read_text())["best"]["value"] for n in ("a", "b")]
    for sort, values in (("mae", tests), ("best", best)):  # lower is better for both (best is val_loss)
        listed = json.loads(cli("runs", tmp_path, "--sort", sort, "--json").output)
        assert [Path(r["path"]).name for r in listed] == [n for _, n in sorted(zip(values, "ab"))]


SWEEP = ["--param", "optimizer.learning_rate=choice(0.05, 0.000001)", "--param", "model.layers=choice([8], [16, 16])"]


def test_sweep_runs_trials_as_run_dirs_continues_to_more_trials_and_prunes(tmp_path: Path):
    target = tmp_path / "sweep"
    early = [*SWEEP, "--set", "sweep.startup_trials=2"]  # pruning from the third trial on
    first = cli("sweep", SMOKE / "mlp.yaml", "--trials", "3", "--sweep-dir", target, "--quiet", *early)
    assert first.exit_code == 0, first.output
    assert len(json.loads((target / "sweep.json").read_text())["trials"]) == 3
    again = cli("sweep", SMOKE / "mlp.yaml", "--trials", "5", "--sweep-dir", target, "--quiet", *early)
    assert again.exit_code == 0, again.output
    report = json.loads((target / "sweep.json").read_text())
    trials = report["trials"]
    assert [t["number"] for t in trials] == list(range(5)) and report["metric"] == "val_loss"
    assert sorted(p.name for p in target.glob("trial-*")) == [f"trial-{i:03d}" for i in range(5)]
    states = {t["number"]: t["state"] for t in trials}
    assert set(states.values()) <= {"complete", "pruned"} and "pruned" in states.values(), states
    for t in trials:
        run = Path(t["path"])
        record = json.loads((run / "run.json").read_text())
        saved = (run / "config.yaml").read_text()
        assert f"learning_rate: {t['params']['optimizer.learning_rate']}" in saved.replace("1.0e-06", "1e-06")
        if t["state"] == "pruned":  # stopped early, marked so, and still a usable run directory
            assert record["status"] == "pruned" and record["pruned_at_epoch"] < 2
        else:
            assert record["status"] == "completed"
            values = [float(r["val_loss"]) for r in csv.DictReader((run / "metrics.csv").open())]
            assert abs(t["value"] - min(values)) < 1e-9  # the trial's value is its best epoch
    complete = [t for t in trials if t["state"] == "complete"]
    assert report["best"]["number"] == min(complete, key=lambda t: t["value"])["number"]
    assert (target / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert cli("evaluate", report["best"]["path"], "--json").exit_code == 0
    done = cli("sweep", SMOKE / "mlp.yaml", "--trials", "5", "--sweep-dir", target, "--quiet", *early)
    assert done.exit_code == 0 and "already has 5 finished trials" in done.output


def test_bad_sweep_parameters_are_exit_2_before_any_trial(tmp_path: Path):
    for param, message in (
        ("optimizer.learnig_rate=uniform(0.1, 0.2)", "unknown key 'learnig_rate'; did you mean `learning_rate`?"),
        ("model.dropout=uniform(0.5, 1.5)", "model.dropout: 1.5 is not a valid value"),
        ("optimizer.learning_rate=loguniform(0, 1)", "loguniform needs low > 0"),
        ("optimizer.learning_rate=normal(0, 1)", "SPEC must be loguniform(a,b), uniform(a,b), int(a,b) or choice"),
        ("optimizer.learning_rate", "write PATH=SPEC"),
    ):
        result = cli("sweep", SMOKE / "mlp.yaml", "--sweep-dir", tmp_path / "s", "--param", param)
        assert result.exit_code == 2 and message in result.output, (param, result.output)
    result = cli("sweep", SMOKE / "mlp.yaml", "--sweep-dir", tmp_path / "s", "--metric", "val_acc", *SWEEP)
    assert result.exit_code == 2 and "--metric 'val_acc' is not logged by this config" in result.output
    assert not (tmp_path / "s").exists()


def test_ctrl_c_stops_a_sweep_in_one_message_that_says_how_to_continue(tmp_path: Path):
    command = [*MLCLI, "sweep", SMOKE / "mlp.yaml", "--trials", "3", "--quiet", "--sweep-dir", tmp_path / "s",
               "--set", "training.epochs=50", *SWEEP]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=like_a_terminal)  # fmt: skip
    deadline = time.time() + 120
    while not (tmp_path / "s" / "trial-000" / "metrics.csv").is_file() and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "failed with" not in err, err  # Optuna logged 50 lines of a "failed" trial
    assert "Continue with:" in err and "--sweep-dir" in err, err


def test_two_processes_share_one_study(tmp_path: Path):
    """Optuna's distributed mode: two `mlcli sweep` processes on one storage split the trials."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    command = [*MLCLI, "sweep", SMOKE / "mlp.yaml", "--trials", "4", "--quiet",
               "--sweep-dir", tmp_path / "s", "--storage", storage, *SWEEP]  # fmt: skip
    procs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert not any("Traceback" in err for _, err in outs), outs  # a trial that gave way is not a failure
    report = json.loads((tmp_path / "s" / "sweep.json").read_text())
    finished = [t for t in report["trials"] if t["state"] in ("complete", "pruned")]
    assert len(finished) == 4 and len({t["path"] for t in finished}) == 4  # --trials, not one more
    pids = {json.loads((Path(t["path"]) / "run.json").read_text())["pid"] for t in finished}
    assert pids == {p.pid for p in procs}  # both processes ran trials of the one study


RACE = """
import sys, time
from pathlib import Path
import optuna, sqlalchemy  # imported before the start line, so that the creation itself is what races
from mlcli.sweep.plan import plan
from mlcli.sweep.storage import open_study
p = plan(Path(sys.argv[1]), [], ["optimizer.learning_rate=choice(0.1, 0.01)"], 2, None, None,
         Path(sys.argv[2]), sys.argv[3])
ready = Path(sys.argv[4])
(ready / sys.argv[5]).touch()
while len(list(ready.iterdir())) < int(sys.argv[6]):  # every process imported: all create the database at once
    time.sleep(0.005)
print(len(open_study(p).get_trials()))
"""


def test_six_processes_starting_one_new_study_at_once_all_open_it(tmp_path: Path):
    """Optuna creates a new SQLite study's tables in several steps; processes starting together used to
    die with "table alembic_version already exists" (seen in CI with two `mlcli sweep` processes)."""
    storage = f"sqlite:///{tmp_path / 'new.db'}"
    (tmp_path / "ready").mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", RACE, SMOKE / "mlp.yaml", tmp_path / "s", storage,
                               tmp_path / "ready", str(i), "6"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(6)]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [o[1][-600:] for o in outs if o[1]]
    assert [o[0].strip() for o in outs] == ["0"] * 6


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_sweep_takes_its_helpers_with_it_and_the_next_start_fails_its_stale_trials(tmp_path: Path):
    """kill -9 of `mlcli sweep --jobs 2` mid-trial: the helper stops too (no trial trains on alone), the next
    start marks both trials failed instead of `running` forever, and the study ends at exactly --trials."""
    target = tmp_path / "s"
    slow = ["--set", "training.epochs=200", "--set", "data.num_samples=4000"]
    sweep = subprocess.Popen([*MLCLI, "sweep", SMOKE / "mlp.yaml", "--trials", "3", "--jobs", "2", "--quiet",
                              "--sweep-dir", target, *slow, *SWEEP], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while len(list(target.glob("trial-*/metrics.csv"))) < 2:  # both processes are inside a trial
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.stderr.read()[-2000:]
        time.sleep(0.5)
    helpers = _children(sweep.pid)
    assert len(helpers) == 1
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 30
    while _alive(helpers[0]):
        assert time.monotonic() < deadline, "the helper trains on after its sweep was killed"
        time.sleep(0.2)
    again = cli("sweep", SMOKE / "mlp.yaml", "--trials", "2", "--sweep-dir", target, "--quiet", *SWEEP)
    assert again.exit_code == 0, again.output
    assert again.output.count("was running when its process died; marked failed") == 2, again.output
    states = [t["state"] for t in json.loads((target / "sweep.json").read_text())["trials"]]
    assert states.count("fail") == 2 and "running" not in states, states
    assert sum(s in ("complete", "pruned") for s in states) == 2, states  # --trials 2: not one more
