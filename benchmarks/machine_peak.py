"""The machine's side of the efficiency ratio: matmul GFLOP/s TensorFlow reaches here, and the FLOPs
one training sample of each seed CNN costs. Prints one JSON line. Does not import mlcli.

FLOPs are counted per layer (a multiply-add is 2): Conv2D 2·kh·kw·c_in·c_out·H_out·W_out, Dense
2·n_in·n_out; a training step costs about 3× the forward pass (the backward pass computes gradients
for both inputs and weights), the usual convention.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent / "baselines"))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from shared import tutorial_cnn  # noqa: E402


def forward_flops(model) -> int:
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            total += 2 * kh * kw * layer.input.shape[-1] * c_out * h * w
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    step = tf.function(lambda: tf.linalg.matmul(a, b))
    step().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


if __name__ == "__main__":
    flops = {name: 3 * forward_flops(tutorial_cnn(name)) for name in ("mnist", "cifar")}
    print(json.dumps({"matmul_gflops": matmul_gflops(), "train_flops_per_sample": flops}))
