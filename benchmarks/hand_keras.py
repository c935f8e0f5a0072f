"""The same model, data and batch size written by hand in Keras — the baseline mlcli must beat.

`--style defaults`: as the tutorials write it (numpy arrays scaled by 255, `model.fit(x, y)`, Keras
defaults, i.e. `jit_compile="auto"`). `--style tuned`: the best hand-tuned script we know for
these CPUs (XLA off, a cached/batched/prefetched tf.data pipeline, mlcli's steps_per_execution).
Prints one JSON line: samples per second (median over epochs after the first) and the accuracy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from mlcli.tfenv import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

from mlcli.config import load_config  # noqa: E402
from mlcli.data import load_dataset  # noqa: E402
from mlcli.training.device import CPU_STEPS_PER_EXECUTION  # noqa: E402


class Rate(keras.callbacks.Callback):
    """Training samples per second per epoch, timed like mlcli's EpochTimer (validation excluded)."""

    def __init__(self, samples: int):
        super().__init__()
        self.samples, self.rates = samples, []

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.train_end = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(self.samples / ((self.train_end or time.perf_counter()) - self.start))


def hand_model(kind: str, shape, classes: int) -> keras.Model:
    if kind == "cifar":  # the TensorFlow CIFAR-10 tutorial CNN
        layers = [
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
        ]
    else:  # configs/cnn_digits.yaml written by hand
        layers = []
        for filters, pool in ((16, False), (32, True), (64, True)):
            layers += [
                keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
                keras.layers.BatchNormalization(momentum=0.9),
                keras.layers.Activation("relu"),
            ]
            layers += [keras.layers.MaxPooling2D()] if pool else []
        layers += [
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.3),
        ]
    return keras.Sequential([keras.Input(shape), *layers, keras.layers.Dense(classes)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", help="the mlcli config whose data and batch size to reuse")
    parser.add_argument("--model", choices=["cifar", "digits"], required=True)
    parser.add_argument("--style", choices=["defaults", "tuned"], required=True)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    cfg = load_config(args.config, [f"training.epochs={args.epochs}"])
    keras.utils.set_random_seed(cfg.seed)
    bundle = load_dataset(cfg)
    x, y = bundle.raw.train
    model = hand_model(args.model, x.shape[1:], bundle.spec.num_classes)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rate = Rate(len(x))
    if args.style == "defaults":
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        vx, vy = bundle.raw.val
        model.fit(
            x / 255.0,
            y,
            batch_size=cfg.data.batch_size,
            epochs=args.epochs,
            verbose=0,
            validation_data=(vx / 255.0, vy),
            callbacks=[rate],
        )
    else:
        model.compile(
            optimizer="adam",
            loss=loss,
            metrics=["accuracy"],
            jit_compile=False,
            steps_per_execution=CPU_STEPS_PER_EXECUTION,
        )
        model.fit(bundle.train, validation_data=bundle.val, epochs=args.epochs, verbose=0, callbacks=[rate])
    print(
        json.dumps(
            {
                "samples_per_sec": statistics.median(rate.rates[1:]),
                "epochs": args.epochs,
                "style": args.style,
                "params": model.count_params(),
            }
        )
    )


if __name__ == "__main__":
    main()
