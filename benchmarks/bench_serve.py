"""`mlcli serve` on loopback: requests/s and p50/p99 latency for the digits CNN at batch 1 and 32.

The CNN is `configs/cnn_digits.yaml` trained 2 epochs; requests are TF Serving's row format with 8×8
pixel arrays (the shipped digits), sent by CLIENTS threads with keep-alive connections, a fixed
number per round after a warm-up.

python benchmarks/bench_serve.py [--rounds 3] [--requests 400]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, record, spread

MLCLI = str(Path(sys.executable).parent / "mlcli")
CLIENTS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(batch: int) -> bytes:
    sys.path.insert(0, str(ROOT))
    from mlcli.data.sources.builtin import load_digits_arrays

    x = load_digits_arrays()["x_test"][:batch].reshape(batch, 8, 8, 1).astype(int).tolist()
    return json.dumps({"instances": x}).encode()


def client(port: int, payload: bytes, count: int, latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        began = time.perf_counter()
        conn.request("POST", "/v1/models/m:predict", payload, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        latencies.append(time.perf_counter() - began)
    conn.close()


def load(port: int, payload: bytes, requests: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    threads = [threading.Thread(target=client, args=(port, payload, requests // CLIENTS, latencies))
               for _ in range(CLIENTS)]  # fmt: skip
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - began), latencies


def measure(rounds: int, requests: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        subprocess.run([MLCLI, "train", "configs/cnn_digits.yaml", "--run-dir", run, "--quiet", "--set",
                        "training.epochs=2"], cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        port = free_port()
        server = subprocess.Popen([MLCLI, "serve", run, "--port", str(port), "--name", "m"], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=os.environ.copy())  # fmt: skip
        server.stdout.readline()  # "serving ..." once it listens
        try:
            results = {}
            for batch in (1, 32):
                payload = body(batch)
                load(port, payload, 40)  # warm-up: traces the model for this batch shape
                rates, p50, p99 = [], [], []
                for _ in range(rounds):
                    rate, lat = load(port, payload, requests)
                    rates.append(rate)
                    p50.append(1000 * statistics.quantiles(lat, n=100)[49])
                    p99.append(1000 * statistics.quantiles(lat, n=100)[98])
                results[f"batch {batch}"] = {
                    "requests_per_s": spread(rates), "images_per_s": spread([r * batch for r in rates]),
                    "p50_ms": spread(p50), "p99_ms": spread(p99), "requests": requests, "clients": CLIENTS,
                }  # fmt: skip
                r = results[f"batch {batch}"]
                print(f"batch {batch}: {r['requests_per_s']['median']:.0f} requests/s, p50 {r['p50_ms']['median']:.1f} "
                      f"ms, p99 {r['p99_ms']['median']:.1f} ms", flush=True)  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    record("serve", measure(args.rounds, args.requests), rounds=args.rounds)
