"""Which tf.distribute strategy a run uses; `data.batch_size` is always the global batch.

`auto`: one device → no strategy; several GPUs → MirroredStrategy (with `fit`). `multi_worker`
reads TF_CONFIG (or Slurm's environment through TF's SlurmClusterResolver) and trains with the
custom loop in `mlcli/training/custom_loop.py`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from typing import Any

from mlcli.errors import TrainingFailed, UserError


def get_strategy(dist: Any, gpus: int):
    """None (default strategy) for one device; MirroredStrategy for several GPUs or when asked."""
    import tensorflow as tf

    if dist.strategy == "auto":
        return tf.distribute.MirroredStrategy() if gpus > 1 else None
    if dist.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(devices=dist.devices or None)
    return None  # none; multi_worker runs its own loop (mlcli.training.custom_loop)


def tf_config() -> dict | None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"TF_CONFIG is not valid JSON: {exc}") from None
    if "cluster" not in config or "task" not in config:
        raise UserError("TF_CONFIG needs both 'cluster' and 'task' (see README: multi-host training)")
    return config


def task_role() -> tuple[bool, int]:
    """(is_chief, worker index) of this process, from TF_CONFIG or Slurm; needs no TensorFlow."""
    config = tf_config()
    if config is not None:
        task = config["task"]
        has_chief = "chief" in config["cluster"]
        index = int(task.get("index", 0))
        is_chief = task.get("type") == "chief" or (not has_chief and task.get("type") == "worker" and index == 0)
        return is_chief, index + (1 if has_chief and task.get("type") == "worker" else 0)
    if "SLURM_PROCID" in os.environ:
        index = int(os.environ["SLURM_PROCID"])
        return index == 0, index
    raise UserError("distribute.strategy multi_worker needs TF_CONFIG (or a Slurm job); see README")


def multi_worker_strategy(dist: Any):
    """MultiWorkerMirroredStrategy from TF_CONFIG (or Slurm), with bounded waits for peers.

    TensorFlow's defaults wait an hour or more for a peer that never starts; here registration,
    heartbeats and every collective are bounded by `distribute.collective_timeout_s`.
    """
    import tensorflow as tf

    timeout = int(dist.collective_timeout_s)
    resolver = None
    if tf_config() is None and "SLURM_PROCID" in os.environ:
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
    wait_for_peers(timeout)
    _configure_coordination(resolver or tf.distribute.cluster_resolver.TFConfigClusterResolver(), timeout)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options)
    except (RuntimeError, tf.errors.OpError) as exc:
        first = str(getattr(exc, "message", exc)).strip().splitlines()[0][:200]
        raise TrainingFailed(
            f"not every worker joined within {timeout}s (distribute.collective_timeout_s); "
            f"expected {', '.join(peer_addresses())}: start one `mlcli train` per worker ({first})"
        ) from None


def wait_for_peers(timeout: int) -> None:
    """A bounded rendezvous before TensorFlow's own, which waits without limit for a missing peer.

    Each worker listens on its own address (the kernel completes connections without accept())
    and polls every peer's until it answers; then it closes its socket for TensorFlow's server.
    """
    config = tf_config()
    if config is None:
        return  # Slurm starts every task together
    cluster, task = config["cluster"], config["task"]
    mine = cluster[task["type"]][int(task.get("index", 0))]
    peers = {
        (job, i): addr for job in ("chief", "worker") for i, addr in enumerate(cluster.get(job, [])) if addr != mine
    }
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", int(mine.rsplit(":", 1)[1])))
        listener.listen(64)
    except OSError as exc:
        listener.close()
        raise UserError(f"TF_CONFIG: cannot listen on this worker's address {mine}: {exc}") from None
    deadline = time.monotonic() + timeout
    try:
        while peers and time.monotonic() < deadline:
            for key, addr in list(peers.items()):
                host, port = addr.rsplit(":", 1)
                try:
                    socket.create_connection((host, int(port)), timeout=1).close()
                    del peers[key]
                except OSError:
                    pass
            if peers:
                time.sleep(0.2)
    finally:
        listener.close()
    if peers:
        missing = ", ".join(f"{job} {i} ({addr})" for (job, i), addr in sorted(peers.items()))
        raise TrainingFailed(
            f"{missing} did not start within {timeout}s (distribute.collective_timeout_s); "
            "start one `mlcli train` per worker with the same TF_CONFIG cluster"
        )


def _configure_coordination(resolver, timeout: int) -> None:
    """TensorFlow's coordination service with bounded waits: all workers must register within
    `timeout` seconds, and a worker whose heartbeat stops for half of it (5 to 60 s) counts as dead:
    sooner than a collective gives up, so the error that ends the others names the dead peer.

    The strategy configures the service with unbounded defaults unless it is configured first.
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    cluster_spec = resolver.cluster_spec()
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster_spec.num_tasks(job))
        for job in ("chief", "worker")
        if job in cluster_spec.jobs
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(cluster_spec),
        coordinated_jobs=jobs,
        cluster_register_timeout_in_ms=timeout * 1000,
        heartbeat_timeout_in_ms=heartbeat_timeout(timeout) * 1000,
        shutdown_barrier_timeout_in_ms=timeout * 1000,
    )


def heartbeat_timeout(collective_timeout: int) -> int:
    """Seconds of silence after which a peer is dead. Equal to the collective timeout, the two raced on a
    slow machine, and a collective that gave up first could not say which peer had gone."""
    return max(5, min(collective_timeout // 2, 60))


def peer_addresses() -> list[str]:
    config = tf_config() or {}
    cluster = config.get("cluster", {})
    return [f"{job} {i} ({addr})" for job in ("chief", "worker") for i, addr in enumerate(cluster.get(job, []))]


def peer_failure(exc: Exception, run_dir) -> str:
    """A one-line message for a collective that failed because a peer is gone, naming the peer."""
    text = str(getattr(exc, "message", exc))
    match = re.search(r"/job:(\w+)/replica:\d+/task:(\d+)", text)
    who = "a peer worker"
    if match:
        job, index = match.group(1), int(match.group(2))
        addresses = (tf_config() or {}).get("cluster", {}).get(job, [])
        who = f"{job} {index}" + (f" ({addresses[index]})" if index < len(addresses) else "")
    reason = _reason(text)
    return (
        f"{who} stopped answering{f' ({reason})' if reason else ''}; the last committed epoch is in "
        f"{run_dir}/backup: restart every worker with `mlcli train --resume` to continue"
    )


def _reason(text: str) -> str:
    """The line of TensorFlow's error that says what happened ("Graph execution error:" heads them all)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if any("stopped sending heartbeats" in line for line in lines):
        return "it stopped sending heartbeats"
    told = [line for line in lines if not line.startswith(("Graph execution error", "Detected at node", 'File "'))]
    return told[0][:160] if told else ""
