"""A window of a series' raw values in (a vector of `window` numbers), the next `horizon` values out (forecasts).

Values are standardised with the training split's statistics; the network sees the window relative
to its last value, in units of the series' typical one-step change, and predicts the change: a trend
that leaves the training range (CO2 keeps rising) does not break it. Targets are trained
standardised too (`DataSpec.target`); the serving model returns forecasts in the series' units.
"""

from __future__ import annotations

from typing import Literal

from mlcli.spec.base import InputState


class SeriesInput(InputState):
    kind: Literal["series"] = "series"
    input_name: str = "series"
    mean: float
    std: float
    step_std: float  # the typical one-step change, in standardised units
    window: int
    horizon: int
    column: str | None = None  # the CSV column the values come from

    @property
    def shape(self) -> list[int]:
        return [self.window, 1]

    @property
    def reads(self) -> str:
        return "series"

    def last_values(self, x):
        import numpy as np

        return np.asarray(x)[:, -1]

    def preprocessor(self):
        """Windows of raw values (batch, window) → standardised (batch, window, 1)."""
        import keras

        norm = keras.layers.Normalization(mean=[self.mean], variance=[self.std**2], name="standardize")
        return lambda x: norm(keras.ops.expand_dims(keras.ops.cast(x, "float32"), -1))

    def model_inputs(self):
        import keras

        inputs = keras.Input(shape=(self.window, 1), dtype="float32", name="inputs")
        relative = (inputs - inputs[:, -1:, :]) * (1.0 / self.step_std)
        return inputs, relative

    def finish(self, out, inputs):
        """Residual over the last observed value: the head predicts the change, in step units."""
        import keras

        change = keras.layers.Rescaling(self.step_std, name="change", dtype="float32")(out)
        last = keras.ops.cast(inputs[:, -1, :1], "float32")
        return keras.layers.Add(name="forecast", dtype="float32")([change, last])

    def serving_inputs(self, strings: bool = True, any_size: bool = True) -> dict:
        import keras

        return {self.input_name: keras.Input(shape=(self.window,), dtype="float32", name=self.input_name)}
