"""Keras' TensorBoard callback, logging once per epoch without holding up the steps in between.

With `update_freq="epoch"` Keras' callback still handles every step chunk's end (it offers each log to a
summary writer that is not there), and because it overrides the batch hook Keras must wait for every
chunk's logs before starting the next: measured in benchmarks/bench_vs_keras.py at batch 32. This one
does nothing between epochs, and says so (`async_safe`), so Keras dispatches the other batch hooks in a
thread and the steps run on.
"""

from __future__ import annotations

import keras


class EpochTensorBoard(keras.callbacks.TensorBoard):
    async_safe = True

    def __init__(self, log_dir: str):
        super().__init__(log_dir=log_dir, write_graph=False, profile_batch=0, update_freq="epoch")

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1

    def on_train_batch_end(self, batch, logs=None):
        return None
