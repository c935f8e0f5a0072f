"""What both hand-written baselines share; none of it imports mlcli.

The models are the seed tutorials' CNNs as their tutorials write them; the data is seeded images
with a learnable class signal (a bright band whose row depends on the class), made here with NumPy.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

SHAPES = {"mnist": (28, 28, 1), "cifar": (32, 32, 3)}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(SHAPES), required=True)
    parser.add_argument("--train", type=int, required=True, help="training examples")
    parser.add_argument("--val", type=int, required=True, help="validation examples")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps-per-execution", type=int, default=8, help="expert.py only; 8 is what "
                        "benchmarks/bench_autos.py found best for these models on this CPU")  # fmt: skip
    return parser.parse_args()


def images(n: int, shape: tuple, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n).astype("int32")
    rows = np.arange(shape[0])[None, :, None, None]
    band = np.abs(rows - (y[:, None, None, None] + 0.5) * shape[0] / classes) < shape[0] / (2 * classes)
    x = np.clip(70 + 120 * band + rng.normal(0, 40, (n, *shape)), 0, 255).astype("uint8")
    return x, y


def tutorial_cnn(name: str):
    """The Keras MNIST CNN (225,034 parameters) or the TensorFlow CIFAR-10 CNN (122,570)."""
    import keras
    from keras import layers

    if name == "mnist":
        body = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(), layers.Flatten(), layers.Dense(128, activation="relu")]  # fmt: skip
    else:
        body = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
                layers.Dense(64, activation="relu")]  # fmt: skip
    return keras.Sequential([keras.Input(SHAPES[name]), *body, layers.Dense(10)])


def epoch_lines():
    """A callback printing `epoch K` when an epoch (validation included) is done: the harness times it."""
    import keras

    class EpochLines(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(f"epoch {epoch + 1} {time.perf_counter():.3f}", flush=True)

    return EpochLines()


def refuse_mlcli() -> None:
    """The baselines must be independent of the tool they are compared with."""
    if "mlcli" in sys.modules:
        raise SystemExit("baseline imported mlcli")
