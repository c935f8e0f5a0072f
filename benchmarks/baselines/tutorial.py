"""Baseline 1, as the tutorials write it: NumPy arrays scaled by 255 into `model.fit`, Keras defaults.

python benchmarks/baselines/tutorial.py --model mnist --train 10800 --val 1200
"""

from __future__ import annotations

import keras
from shared import arguments, epoch_lines, images, refuse_mlcli, tutorial_cnn


def main() -> None:
    args = arguments()
    keras.utils.set_random_seed(args.seed)
    model = tutorial_cnn(args.model)
    x, y = images(args.train + args.val, model.input_shape[1:], 10, args.seed)
    x = x / 255.0
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(
        x[: args.train], y[: args.train], batch_size=args.batch_size, epochs=args.epochs, verbose=0,
        validation_data=(x[args.train :], y[args.train :]), callbacks=[epoch_lines()],
    )  # fmt: skip
    refuse_mlcli()


if __name__ == "__main__":
    main()
