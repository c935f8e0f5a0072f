"""The one serving model: raw inputs in, the run's preprocessing inside, one named output out.

`serving_model(checkpoint, spec)` wraps a checkpoint with its input kind's own layers
(`spec.input.serving_preprocess`: images of any size resized as training resized them, strings
vectorised, columns encoded, windows standardised) and the task's output (`spec.serve_output`:
probabilities, values and forecasts in the data's units, GAN pixels 0-255). `predict`, `evaluate`,
the end-of-training test score, every export format and the server all call it, so a raw example
gives the same answer wherever it is read. It is built from Keras layers and `keras.ops` only, so
each exported format reloads without mlcli.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mlcli.models.pretrained import standalone_task
from mlcli.spec import DataSpec


@dataclass
class Serving:
    """The serving model, the names of its inputs (in call order) and of its one output."""

    model: Any
    inputs: list[str]
    output: str
    hub_task: bool = False  # a KerasHub task (a pretrained `.keras` export): `predict` runs its preprocessor

    @property
    def takes_dict(self) -> bool:
        return len(self.inputs) > 1 or isinstance(getattr(self.model, "input", None), dict)

    def arguments(self, batch: dict):
        """`batch` (input name → values) in the structure the model was built with."""
        if self.hub_task:
            return batch[self.inputs[0]]
        return batch if self.takes_dict else batch[self.inputs[0]]

    def call(self, batch: dict):
        """The output tensor for `batch` (usable inside a traced function)."""
        if self.hub_task:
            return self.model.predict(self.arguments(batch), verbose=0)
        return self.model(self.arguments(batch), training=False)

    def __call__(self, batch: dict) -> np.ndarray:
        return np.asarray(self.call(batch))

    def fast(self):
        """`self(batch)` as one traced function (eager calls cost more than the model on small batches):
        what `predict` and the server call batch after batch."""
        if self.hub_task:
            return self
        call = self.compiled()
        return lambda batch: np.asarray(call(self.arguments(batch)))

    def compiled(self):
        """The model call as one traced function (shapes may vary): fast scoring of whole splits."""
        return tf.function(lambda x: self.model(x, training=False), reduce_retracing=True, autograph=False)


def serving_model(model, spec: DataSpec, *, strings: bool = True, any_size: bool = True, fmt: str = "") -> Serving:
    """Raw inputs → the named output, around `model` (a loaded checkpoint).

    `strings=False` takes token ids instead of text (TFLite has no string ops without Flex);
    `any_size=False` takes images at the model's size (formats without an antialiased resize op).
    A pretrained model's `.keras` export is its KerasHub task itself (`fmt="keras"`): a KerasHub
    tokenizer inside a functional model cannot be rebuilt by `load_model` (keras-hub#1522).
    """
    if spec.task == "generation":
        return _generator(model)
    if fmt == "keras" and spec.input.wraps_hub_preprocessor:
        task = standalone_task(model, spec.input.preprocess_layer())
        return Serving(task, [spec.input.input_name], spec.output_name, hub_task=True)
    raw = spec.input.serving_inputs(strings=strings, any_size=any_size)
    out = spec.serve_output(model(spec.input.serving_preprocess(raw, strings=strings, any_size=any_size)))
    names = list(raw)
    inputs = raw if len(raw) > 1 or spec.input.takes_columns else raw[names[0]]
    return Serving(keras.Model(inputs, out, name="serving"), names, spec.output_name)


def model_inputs_of(spec: DataSpec, *, strings: bool = True, any_size: bool = True) -> keras.Model:
    """The serving model's front alone: raw inputs → exactly what the checkpoint model is fed."""
    raw = spec.input.serving_inputs(strings=strings, any_size=any_size)
    x = spec.input.serving_preprocess(raw, strings=strings, any_size=any_size)
    names = list(raw)
    return keras.Model(raw if len(raw) > 1 or spec.input.takes_columns else raw[names[0]], x)


def _generator(gan) -> Serving:
    """A GAN's generator: latent (and label) in, images 0-255 out."""
    raw = {"latent": keras.Input((gan.latent_dim,), name="latent")}
    if gan.num_classes:
        raw["label"] = keras.Input((), dtype="int32", name="label")
    images = gan.generator(list(raw.values()) if gan.num_classes else raw["latent"], training=False)
    out = keras.layers.Rescaling(127.5, 127.5, name="pixels")(images)
    return Serving(keras.Model(raw, out, name="generator_export"), list(raw), "pixels")


@dataclass
class Predictions:
    """A split through the serving model: outputs, labels, and the last observed value of each input
    window (for series: the naive forecast a model must beat)."""

    out: np.ndarray
    y: np.ndarray
    last: np.ndarray | None = None


def predict_split(serving: Serving, batches, spec: DataSpec) -> Predictions:
    """Every batch of canonical examples `(x, y)` through one compiled call of the serving model."""
    call = serving.compiled()
    outs, ys, lasts = [], [], []
    for x, y in batches:
        outs.append(np.asarray(call(_named(serving, x)), np.float32))
        ys.append(np.asarray(y))
        lasts.append(spec.input.last_values(x))
    if not outs:
        return Predictions(np.zeros((0, 0), np.float32), np.zeros((0,)))
    last = np.concatenate(lasts) if lasts[0] is not None else None
    return Predictions(np.concatenate(outs), np.concatenate(ys), last)


def _named(serving: Serving, x):
    """A pipeline batch (a tensor, or a dict of columns by input key) as the serving model's argument."""
    if isinstance(x, dict):
        return x
    return {serving.inputs[0]: x} if serving.takes_dict else x
