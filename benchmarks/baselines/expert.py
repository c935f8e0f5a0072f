"""Baseline 2, as an expert writes it for CPU: uint8 arrays in a cached, shuffled, prefetched tf.data
pipeline, scaling inside the model, several steps per `tf.function` call, XLA left to Keras (off on CPU).

python benchmarks/baselines/expert.py --model cifar --train 6480 --val 720 [--steps-per-execution 32]
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from shared import arguments, epoch_lines, images, refuse_mlcli, tutorial_cnn  # noqa: E402


def pipeline(x, y, batch: int, seed: int, train: bool) -> tf.data.Dataset:
    data = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if train:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch).prefetch(tf.data.AUTOTUNE)


def main() -> None:
    steps = 32
    if "--steps-per-execution" in sys.argv:
        at = sys.argv.index("--steps-per-execution")
        steps = int(sys.argv.pop(at + 1))
        sys.argv.pop(at)
    args = arguments()
    keras.utils.set_random_seed(args.seed)
    tutorial = tutorial_cnn(args.model)
    model = keras.Sequential([keras.Input(tutorial.input_shape[1:]), keras.layers.Rescaling(1 / 255.0), tutorial])
    x, y = images(args.train + args.val, tutorial.input_shape[1:], 10, args.seed)
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
        steps_per_execution=steps,
    )  # fmt: skip
    model.fit(
        pipeline(x[: args.train], y[: args.train], args.batch_size, args.seed, True), epochs=args.epochs, verbose=0,
        validation_data=pipeline(x[args.train :], y[args.train :], args.batch_size, args.seed, False),
        callbacks=[epoch_lines()],
    )  # fmt: skip
    refuse_mlcli()


if __name__ == "__main__":
    main()
