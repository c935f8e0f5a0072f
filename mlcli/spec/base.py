"""What every input kind answers: its fitted state, the Keras preprocessing it implies, its raw serving input.

An input kind (image, text, tokens, features, table, series, pretrained) is one module in this
package with one state class. The state is fitted on the training split by the data room, saved in
`data_spec.json`, and rebuilt anywhere from that JSON; from it come

- `model_inputs()`: the checkpoint model's `keras.Input`(s) and the tensor the network body starts from;
- `preprocess(x)`: what turns a batch of canonical examples into model inputs (the training pipeline
  calls it in tf.data, the serving model calls the very same layers);
- `serving_inputs()` and `canonical(raw)`: the raw input a client sends (pixels of any size, strings,
  columns by name) and how it becomes a canonical example (images resized as training resized them).

Keras is imported inside the methods (a heavy library), never at module import: `mlcli runs`,
`validate` and `inspect` read specs without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict


class State(BaseModel):
    """Strict, JSON-round-trippable state; unknown keys in a saved spec are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class InputState(State):
    kind: str
    input_name: str = "inputs"  # the serving input's name (SavedModel signatures need plain identifiers)

    # ---- the model side -----------------------------------------------------------------------
    @property
    def shape(self) -> list[int]:
        """One example's shape as the checkpoint model takes it."""
        raise NotImplementedError

    @property
    def dtype(self) -> str:
        return "float32"

    @property
    def vocabulary_size(self) -> int | None:
        """Token inputs (ids to embed): the vocabulary size; None for inputs that are numbers."""
        return None

    def model_inputs(self) -> tuple[Any, Any]:
        """The checkpoint model's input(s) and the tensor the network body starts from."""
        import keras

        inputs = keras.Input(shape=tuple(self.shape), dtype=self.dtype, name="inputs")
        return inputs, inputs

    def finish(self, out, inputs):
        """The head's output as the model returns it (series: a change added to the last value)."""
        return out

    @property
    def cast_to(self) -> str | None:
        """The dtype canonical examples are cast to before `preprocess_layer` (None: as they are)."""
        return None

    def preprocess_layer(self):
        """The Keras layer that maps canonical examples to model inputs (None: they already are)."""
        return None

    def preprocessor(self) -> Callable[[Any], Any]:
        """Canonical batch → model inputs, with its layer built once (one per pipeline or model)."""
        import keras

        layer, cast = self.preprocess_layer(), self.cast_to

        def apply(x):
            if cast is not None:
                x = keras.ops.cast(x, cast)
            return layer(x) if layer is not None else x

        return apply

    def preprocess(self, x):
        return self.preprocessor()(x)

    # ---- what callers ask instead of switching on the kind ------------------------------------
    @property
    def reads(self) -> str:
        """What a client sends: "image", "text", "table", "series" or "array"."""
        return "array"

    @property
    def images(self):
        """The ImageInput that decodes and resizes this kind's image files (None: it reads no images)."""
        return None

    @property
    def wraps_hub_preprocessor(self) -> bool:
        """A KerasHub preset's own preprocessor reads the raw inputs (its `.keras` export is the task)."""
        return False

    @property
    def takes_columns(self) -> bool:
        """Whether the checkpoint takes a dict of named inputs (a table's columns)."""
        return False

    def column_names(self) -> dict[str, str]:
        """Model input name → the CSV column it reads (tables)."""
        return {}

    def last_values(self, x):
        """The last observed value of each example (series: the naive forecast), else None."""
        return None

    def tflite_problem(self) -> str | None:
        """Why this kind cannot be exported to TFLite, or None."""
        return None

    def tokenizer(self) -> dict | None:
        """For a TFLite export without string ops: how a client turns text into the ids it takes."""
        return None

    # ---- the raw side -------------------------------------------------------------------------
    def serving_inputs(self, strings: bool = True, any_size: bool = True) -> dict[str, Any]:
        """The raw inputs a client sends, by name. `strings=False`: no string tensors (TFLite);
        `any_size=False`: images at the model's size only (formats without an antialiased resize)."""
        import keras

        return {self.input_name: keras.Input(shape=tuple(self.shape), dtype=self.dtype, name=self.input_name)}

    def canonical(self, raw: dict[str, Any], strings: bool = True, any_size: bool = True):
        """Raw inputs → a batch of canonical examples (what the training pipeline batches)."""
        return raw[self.input_name]

    def serving_preprocess(self, raw: dict[str, Any], strings: bool = True, any_size: bool = True):
        """Raw inputs → model inputs: `canonical`, then `preprocess` (without string ops if asked)."""
        return self.preprocess(self.canonical(raw, strings, any_size))


class TargetScaling(State):
    """Regression and forecast targets are trained standardised (optionally after log1p); the serving
    model and every reported number undo it, so values come back in the data's units."""

    mean: float
    std: float
    log: bool = False

    def scale(self, y):
        """Targets (a tf tensor) → what the model is trained on."""
        import tensorflow as tf

        y = tf.cast(y, tf.float32)
        if self.log:
            y = tf.math.log1p(y)
        return (y - self.mean) / self.std

    def unscale(self, out):
        """Model outputs (a Keras tensor) → the data's units."""
        import keras

        out = keras.layers.Rescaling(self.std, self.mean, name="to_data_units", dtype="float32")(out)
        return keras.ops.expm1(out) if self.log else out

    def unscale_numpy(self, values):
        import numpy as np

        out = np.asarray(values, np.float64) * self.std + self.mean
        return np.expm1(out) if self.log else out
