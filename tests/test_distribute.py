"""tf.distribute: two real worker processes on 127.0.0.1, and MirroredStrategy on two logical CPUs."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLCLI, ROOT, SMOKE, cli, cli_subprocess
from tests.test_train_e2e import load, load_compiled, metrics_rows

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


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


def tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def start_worker(ports: list[int], index: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*MLCLI, "train", *map(str, args), "--quiet"],
        cwd=ROOT,
        env={**os.environ, "TF_CONFIG": tf_config(ports, index)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


BN_WORKERS = [
    "--set", "model.blocks=[{filters: 8, padding: same, batch_norm: true}, {filters: 16, padding: same}]",
    "--set", "training.metrics=[accuracy, f1, top_k]",
    "--set", "training.top_k=3",
    "--set", "training.epochs=4",
    "--set", "distribute.collective_timeout_s=60",
    "--set", "training.tensorboard=true",
]  # fmt: skip


def test_shared_run_dir_any_start_order_kill_both_and_resume_in_step(tmp_path: Path):
    run = tmp_path / "shared"
    ports = free_ports(2)
    worker = start_worker(ports, 1, SMOKE / "multi_worker.yaml", "--run-dir", run, *BN_WORKERS)
    time.sleep(1.5)  # the non-chief first, as Slurm may start them (TensorFlow's import alone takes longer)
    chief = start_worker(ports, 0, SMOKE / "multi_worker.yaml", "--run-dir", run, *BN_WORKERS)
    deadline = time.time() + 240
    committed = [run / "backup" / "epoch-000002", run / "workers" / "worker-1" / "backup" / "epoch-000002"]
    while time.time() < deadline and not all(p.is_dir() for p in committed):  # each commits its own epoch 2
        time.sleep(0.05)
    for proc in (chief, worker):
        proc.kill()
        proc.wait()
    assert all(p.is_dir() for p in committed), chief.stderr.read()[-2000:]
    ports = free_ports(2)
    procs = [start_worker(ports, i, "--resume", run) for i in (1, 0)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert "epoch 4/4" in outs[1][0] and "epoch 4/4" not in outs[0][0]  # progress: the chief's only
    assert re.search(r"resuming after epoch [23] of 4 ", outs[1][0]), outs[1][0]  # what one process says, too
    assert re.search(r"finished all 4 epochs; best.keras is epoch [1-4]", outs[1][0]), outs[1][0]
    chief_dir, worker_dir = run, run / "workers" / "worker-1"
    for item in ("config.yaml", "run.json", "metrics.csv", "summary.json", "checkpoints/best.keras",
                 "checkpoints/last.keras", "plots/curves.png"):  # fmt: skip
        assert (chief_dir / item).is_file(), item
    starts = [json.loads((d / "summary.json").read_text())["initial_epoch"] for d in (chief_dir, worker_dir)]
    assert starts[0] == starts[1] >= 2  # both resumed from the same committed epoch
    a, b = load_compiled(chief_dir / "checkpoints/last.keras"), load_compiled(worker_dir / "checkpoints/last.keras")
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):  # BatchNorm statistics included
        np.testing.assert_array_equal(wa, wb)
    assert int(a.optimizer.iterations.numpy()) == 4 * (1293 // 64)
    rows = metrics_rows(chief_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    for key in ("loss", "accuracy", "f1", "top_k", "val_loss", "val_accuracy", "val_f1", "val_top_k"):
        assert all(r[key] for r in rows), key
    assert (chief_dir / "tensorboard").is_dir()
    summary = json.loads((chief_dir / "summary.json").read_text())
    assert summary["test_checkpoint"] == "best" and summary["best"]["monitor"] == "val_accuracy"
    assert summary["distribute"] == {"strategy": "multi_worker", "workers": 2, "replicas": 2, "global_batch": 64,
                                     "per_replica_batch": 32, "chief": True}  # fmt: skip
    # the chief scored test on best.keras: check against the checkpoint with numpy
    from mlcli.data.sources.builtin import load_digits_arrays

    arrays = load_digits_arrays()
    state = json.loads((chief_dir / "data_spec.json").read_text())["input"]
    x = arrays["x_test"].reshape(-1, 8, 8, 1).astype(np.float32) * state["scale"] + state["offset"]
    best = load(chief_dir / "checkpoints/best.keras")
    expected = float(np.mean(best.predict(x, verbose=0).argmax(1) == arrays["y_test"]))
    assert summary["test"]["accuracy"] == pytest.approx(expected, abs=1e-6)


def test_missing_peer_exits_in_bounded_time_naming_it(tmp_path: Path):
    ports = free_ports(2)
    began = time.time()
    proc = start_worker(
        ports, 0, SMOKE / "multi_worker.yaml", "--run-dir", tmp_path / "r", "--set", "distribute.collective_timeout_s=6"
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"worker 1 (127.0.0.1:{ports[1]}) did not start within 6s" in err
    assert time.time() - began < 60
    assert not (tmp_path / "r").exists()  # nothing left that would refuse the same command once the peer is up


def test_sigterm_ends_a_worker_blocked_waiting_for_peers(tmp_path: Path):
    ports = free_ports(2)
    proc = start_worker(ports, 0, SMOKE / "multi_worker.yaml", "--run-dir", tmp_path / "r")
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # until it listens: inside the rendezvous
        try:
            socket.create_connection(("127.0.0.1", ports[0]), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(1)  # blocked there, waiting for the peer that never starts
    proc.send_signal(signal.SIGTERM)
    began = time.time()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "interrupted by SIGTERM" in err
    assert time.time() - began < 10


def test_peer_death_mid_training_ends_the_other_with_a_resumable_checkpoint(tmp_path: Path):
    """Here each worker has its own --run-dir, as on hosts that share no disk: the non-chief writes into
    RUN_DIR/workers/worker-1 of its own. The task has two classes (one logit), whose training accuracy
    the custom loop once logged as 0.5 whatever the model: the gathered batch had lost its static shape,
    and Keras' metric compared every label with every prediction."""
    run = tmp_path / "w0"
    ports = free_ports(2)
    two_classes = "{source: synthetic, kind: images, shape: [8, 8, 1], num_classes: 2, num_samples: 1500}"
    args = [SMOKE / "multi_worker.yaml", "--set", "training.epochs=300", "--set", "distribute.collective_timeout_s=10",
            "--set", f"data={two_classes}"]  # fmt: skip
    worker = start_worker(ports, 1, *args, "--run-dir", tmp_path / "w1")
    chief = start_worker(ports, 0, *args, "--run-dir", run)
    deadline = time.time() + 240
    while time.time() < deadline and not (run / "backup" / "epoch-000002").is_dir():
        time.sleep(0.05)
    worker.kill()
    worker.wait()
    began = time.time()
    _, err = chief.communicate(timeout=120)
    assert chief.returncode == 1 and f"worker 1 (127.0.0.1:{ports[1]}) stopped answering" in err
    assert "Graph execution error" not in err  # TensorFlow's heading of every error, not the reason
    assert time.time() - began < 30  # the heartbeat (5 s here) named it before a collective gave up (10 s)
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert (run / "backup" / "epoch-000002" / "model.keras").is_file()
    rows = metrics_rows(run)  # one process alone: 0.84 in epoch 1, then 1.0 (val_accuracy 1.0 from epoch 1)
    assert float(rows[1]["accuracy"]) > 0.9 and float(rows[1]["val_accuracy"]) > 0.9, rows
    own = tmp_path / "w1" / "workers" / "worker-1"
    assert (own / "config.yaml").is_file() and (own / "run.json").is_file()
    assert not (run / "workers").exists()


def test_custom_loop_step_scales_the_loss_under_mixed_float16():
    import keras
    import tensorflow as tf

    from mlcli.config import load_config
    from mlcli.data import load_dataset
    from mlcli.models import build_model
    from mlcli.training import components as setup
    from mlcli.training import device
    from mlcli.training.custom_loop import _step_function
    from mlcli.training.losses import make_loss, make_metrics

    cfg = load_config(SMOKE / "multi_worker.yaml", ["distribute.strategy=none"])
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        bundle = load_dataset(cfg)
        model = build_model(cfg, bundle.spec)
        setup.compile_model(model, cfg, bundle.spec, 10, device.resolve(cfg.training))
        loss = make_loss(cfg.training, bundle.spec)
        loss.reduction = None
        step = _step_function(tf.distribute.get_strategy(), model, loss, make_metrics(cfg.training, bundle.spec),
                              keras.metrics.Mean())  # fmt: skip
        before = [w.numpy().copy() for w in model.trainable_weights]
        value = float(step(iter(bundle.train)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(model.optimizer.dynamic_scale.numpy()) == 2.0**15  # the scaled step ran (and was finite)
    assert int(model.optimizer.iterations.numpy()) == 1 and 2.0 < value < 2.6  # ~ln(10) for 10 classes
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
