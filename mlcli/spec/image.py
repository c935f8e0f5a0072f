"""Images: pixels 0-255 of any size in, resized with antialiasing to the model's size, then rescaled.

Every reader resizes the same way: the training pipeline (`data/files.py` decodes a file, then calls
`resize`), `predict` and every export (the serving model takes images of any size and calls the
same `resize` inside). Antialiasing matters: a network trained on aliased downscales scores far
worse on images that a client resized with PIL or `tf.image.resize(antialias=True)`. The result is
rounded to whole pixel values, so an image already at the model's size passes through unchanged.
"""

from __future__ import annotations

from typing import Literal

from mlcli.spec.base import InputState


class ImageInput(InputState):
    kind: Literal["image"] = "image"
    input_name: str = "image"
    size: tuple[int, int]
    channels: int
    scale: float = 1 / 255.0  # model input = pixels * scale + offset
    offset: float = 0.0
    antialias: bool = True  # False only for runs written before resizing was antialiased

    @property
    def shape(self) -> list[int]:
        return [*self.size, self.channels]

    @property
    def reads(self) -> str:
        return "image"

    @property
    def images(self) -> ImageInput:
        return self

    def resize(self, images):
        """Pixels of any size (one image or a batch, any dtype) → float32 whole values at the model size."""
        import keras

        images = keras.ops.cast(images, "float32")  # an op, not the Resizing layer: its `training=True`
        # default, saved with the node, would put the checkpoint's BatchNorm in training mode on reload
        resized = keras.ops.image.resize(images, tuple(self.size), interpolation="bilinear", antialias=self.antialias)
        return keras.ops.clip(keras.ops.round(resized), 0.0, 255.0)

    @property
    def cast_to(self) -> str:
        return "float32"

    def preprocess_layer(self):
        import keras

        return keras.layers.Rescaling(self.scale, self.offset, name="rescale")

    def serving_inputs(self, strings: bool = True, any_size: bool = True) -> dict:
        import keras

        shape = (None, None, self.channels) if any_size else tuple(self.shape)
        return {self.input_name: keras.Input(shape=shape, dtype="float32", name=self.input_name)}

    def canonical(self, raw: dict, strings: bool = True, any_size: bool = True):
        return self.resize(raw[self.input_name]) if any_size else raw[self.input_name]

    def serving_preprocess(self, raw: dict, strings: bool = True, any_size: bool = True):
        return self.preprocess(self.canonical(raw, strings, any_size))
