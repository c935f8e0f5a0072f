"""tf.distribute: two real worker processes on 127.0.0.1, and MirroredStrategy on two logical CPUs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import ROOT, SMOKE, cli, cli_subprocess
from tests.test_train_e2e import load, metrics_rows


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch_workers(tmp_path: Path, *extra: str, resume: bool = False) -> list[subprocess.CompletedProcess]:
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        target = (
            ["--resume", str(tmp_path / f"w{index}")]
            if resume
            else [str(SMOKE / "multi_worker.yaml"), "--run-dir", str(tmp_path / f"w{index}")]
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "mlcli", "train", *target, "--quiet", *extra],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_two_workers_train_in_lockstep(tmp_path: Path):
    results = launch_workers(tmp_path)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    chief, worker = tmp_path / "w0", tmp_path / "w1" / "workers" / "worker-1"
    for item in (
        "config.yaml",
        "run.json",
        "metrics.csv",
        "summary.json",
        "checkpoints/best.keras",
        "checkpoints/last.keras",
        "plots/curves.png",
    ):
        assert (chief / item).is_file(), item
    a, b = load(chief / "checkpoints/last.keras"), load(worker / "checkpoints/last.keras")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    rows = metrics_rows(chief)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    summary = json.loads((chief / "summary.json").read_text())
    assert summary["distribute"] == {
        "strategy": "multi_worker",
        "workers": 2,
        "replicas": 2,
        "global_batch": 64,
        "per_replica_batch": 32,
        "chief": True,
    }
    assert "epoch 1/3" in results[0].stdout and "epoch 1/3" not in results[1].stdout  # progress: chief only
    assert int(a.optimizer.iterations.numpy()) == 3 * (1293 // 64)  # whole global batches per epoch


def test_mirrored_on_two_logical_cpus(tmp_path: Path):
    script = f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from typer.testing import CliRunner
from mlcli.cli import app
result = CliRunner().invoke(app, ["train", "{SMOKE / "cnn.yaml"}", "--run-dir", "{tmp_path / "run"}", "--quiet",
    "--set", "distribute.strategy=mirrored", "--set", "distribute.devices=['/cpu:0', '/cpu:1']"])
print(result.output)
raise SystemExit(result.exit_code)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["device"]["strategy"] == "MirroredStrategy" and summary["device"]["replicas"] == 2
    assert summary["device"]["per_replica_batch"] == 32
    rows = metrics_rows(tmp_path / "run")
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])


def test_multi_worker_needs_a_cluster(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "SLURM_PROCID")}
    result = cli_subprocess("train", SMOKE / "multi_worker.yaml", "--run-dir", tmp_path / "r", env=env)
    assert result.returncode == 2 and "needs TF_CONFIG" in result.stderr


def test_gan_under_multi_worker_is_refused():
    result = cli("validate", SMOKE / "gan.yaml", "--set", "distribute.strategy=multi_worker")
    assert result.exit_code == 2
    assert "--set distribute.strategy=multi_worker: distribute.strategy: multi_worker does not support GANs" in (
        result.output
    )


def test_two_workers_resume_from_their_own_run_dirs(tmp_path: Path):
    first = launch_workers(tmp_path, "--set", "training.epochs=2")
    assert [r.returncode for r in first] == [0, 0], [r.stderr[-2000:] for r in first]
    again = launch_workers(tmp_path, "--set", "training.epochs=4", resume=True)
    assert [r.returncode for r in again] == [0, 0], [r.stderr[-2000:] for r in again]
    chief, worker = tmp_path / "w0", tmp_path / "w1" / "workers" / "worker-1"
    assert [int(r["epoch"]) for r in metrics_rows(chief)] == [1, 2, 3, 4]
    assert json.loads((chief / "summary.json").read_text())["initial_epoch"] == 2
    a, b = load(chief / "checkpoints/last.keras"), load(worker / "checkpoints/last.keras")
    assert int(a.optimizer.iterations.numpy()) == 4 * (1293 // 64)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
