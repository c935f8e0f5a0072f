"""MLflow tracking (the kill and the refusal through the console script): a smoke run into a temporary
SQLite store, read back with MlflowClient (params, every epoch's metrics equal to metrics.csv,
artifacts); kill -9 and --resume continue the same MLflow run with no duplicated step; an unreachable
tracker is exit 2 before training, or a warning with best_effort."""

from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import SMOKE, cli, cli_subprocess

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def test_a_killed_and_resumed_run_is_one_mlflow_run_with_every_epoch_once(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--set", f"tracking.mlflow={{uri: '{uri}', experiment: smoke}}", "--set", "training.epochs=3",
            "--set", "training.plots=true"]
    run = tmp_path / "run"
    # killed after epoch 2 is committed and its metrics row written, before MLflow heard of it
    killed = cli_subprocess("train", SMOKE / "mlp.yaml", "--run-dir", run, "--quiet", *args,
                            env={"MLCLI_CRASH_AT": "after_metrics:2"})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = cli_subprocess("train", "--resume", run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("smoke")
    (found,) = client.search_runs([experiment.experiment_id])  # one MLflow run for the one run directory
    assert found.info.status == "FINISHED" and found.data.tags["mlcli.status"] == "completed"
    assert found.data.tags["mlcli.run_dir"] == str(run.resolve())
    rows = list(csv.DictReader((run / "metrics.csv").open(encoding="utf-8")))
    assert {"loss", "val_loss", "mae", "val_rmse"} <= set(rows[0])
    for key in (k for k in rows[0] if k != "epoch"):  # every column of metrics.csv
        history = sorted(client.get_metric_history(found.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [1, 2, 3], (key, [m.step for m in history])  # each epoch once
        assert [m.value for m in history] == pytest.approx([float(r[key]) for r in rows], rel=1e-6), key
    params = found.data.params
    assert params["optimizer.learning_rate"] == "0.05" and params["model.layers"] == "[16]" and params["seed"] == "7"
    assert "test_mae" in found.data.metrics
    assert [m.step for m in client.get_metric_history(found.info.run_id, "test_mae")] == [3]  # the epoch it scores
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"config.yaml", "summary.json", "metrics.csv", "data_spec.json", "checkpoints", "plots"} <= artifacts
    assert [a.path for a in client.list_artifacts(found.info.run_id, "checkpoints")] == ["checkpoints/best.keras"]
    # beside the database, not in an ./mlruns of wherever training ran (where `mlcli runs` would find copies)
    copies = list((tmp_path / "mlflow-artifacts").rglob("summary.json"))
    assert len(copies) == 1 and copies[0].read_bytes() == (run / "summary.json").read_bytes()


def test_an_unreachable_tracker_is_exit_2_before_training_unless_best_effort(tmp_path: Path):
    nowhere = "http://127.0.0.1:9"  # the discard port: nothing listens
    began = time.monotonic()
    refused = cli_subprocess("train", SMOKE / "mlp.yaml", "--run-dir", tmp_path / "a", "--quiet",
                             "--set", f"tracking.mlflow.uri={nowhere}")  # fmt: skip
    assert refused.returncode == 2 and f"MLflow tracking at {nowhere}: connection refused" in refused.stderr, \
        refused.stderr[-2000:]
    assert "best_effort" in refused.stderr and time.monotonic() - began < 60
    assert not (tmp_path / "a").exists()  # nothing trained, nothing left
    trained = cli("train", SMOKE / "mlp.yaml", "--run-dir", tmp_path / "b", "--quiet", "--set",
                  f"tracking.mlflow={{uri: '{nowhere}', best_effort: true}}", "--set", "training.epochs=1")  # fmt: skip
    assert trained.exit_code == 0 and "training without MLflow tracking" in trained.output, trained.output[-2000:]
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["epochs_run"] == 1


def test_a_sweep_is_a_parent_mlflow_run_with_its_trials_as_children(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli("sweep", SMOKE / "mlp.yaml", "--trials", "2", "--sweep-dir", tmp_path / "s", "--quiet",
               "--set", f"tracking.mlflow={{uri: '{uri}', experiment: study}}", "--set", "training.epochs=1",
               "--param", "optimizer.learning_rate=choice(0.05, 0.01)")  # fmt: skip
    assert done.exit_code == 0, done.output[-2000:]
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("study").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2, [r.data.tags for r in runs]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert sorted(Path(c.data.tags["mlcli.run_dir"]).name for c in children) == ["trial-000", "trial-001"]
    assert parents[0].info.status == "FINISHED" and "sweep.json" in {a.path for a in
                                                                     client.list_artifacts(parents[0].info.run_id)}
    assert parents[0].data.tags["mlcli.status"] == "completed"


def test_a_relative_sqlite_store_is_pinned_where_training_started_and_failures_warn_once(tmp_path, monkeypatch, capsys):
    from mlcli import tracking

    monkeypatch.chdir(tmp_path)
    assert tracking.absolute("sqlite:///mlruns.db") == f"sqlite:///{tmp_path.resolve() / 'mlruns.db'}"
    assert tracking.absolute("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert tracking.absolute("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    monkeypatch.setattr(tracking, "_warned", set())
    for _ in range(3):
        tracking.warn_and_continue("epoch logging", OSError("database disk image is malformed\n[SQL: INSERT ...]"))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "database disk image is malformed [SQL: INSERT ...]" in lines[0]
