"""Declarative DCGAN: generator and discriminator derived from the image shape, trained by `fit`.

The `GAN` model follows the Keras guide on customising `train_step`: two optimizers applied with
`optimizer.apply`, a `SeedGenerator` for latent noise, and loss trackers exposed through `metrics`,
so callbacks, progress, checkpoints and resume work exactly as for every other model.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from mlcli.config.models import GanModel
from mlcli.errors import ConfigError
from mlcli.models.layers import BN_MOMENTUM, activation
from mlcli.models.registry import MODELS

MIN_SEED_SIZE = 4  # `auto` blocks: upsample from the smallest seed map of at least 4x4


def auto_blocks(height: int, width: int) -> int:
    """Most x2 upsamplings that divide H and W exactly while leaving a seed map of >= 4x4."""
    blocks = 0
    while (
        height % 2 ** (blocks + 1) == 0
        and width % 2 ** (blocks + 1) == 0
        and (height // 2 ** (blocks + 1) >= MIN_SEED_SIZE and width // 2 ** (blocks + 1) >= MIN_SEED_SIZE)
    ):
        blocks += 1
    return blocks


def _norm(kind: str):
    if kind == "batch":
        return keras.layers.BatchNormalization(momentum=BN_MOMENTUM)
    if kind == "layer":
        return keras.layers.LayerNormalization()
    return None


def build_generator(cfg: GanModel, shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    g = cfg.generator
    height, width, channels = shape
    blocks = auto_blocks(height, width) if g.blocks == "auto" else g.blocks
    seed_h, seed_w = height // 2**blocks, width // 2**blocks
    z = keras.Input((cfg.latent_dim,), name="latent")
    inputs = [z]
    x = z
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        x = keras.layers.Concatenate()([z, keras.layers.Embedding(num_classes, cfg.latent_dim)(label)])
    filters = g.base_filters
    x = keras.layers.Dense(seed_h * seed_w * filters, use_bias=g.norm == "none")(x)
    x = keras.layers.Reshape((seed_h, seed_w, filters))(x)
    for layer in (_norm(g.norm), activation(g.activation)):
        x = layer(x) if layer is not None else x
    for _ in range(blocks):
        filters = max(16, filters // 2)
        x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=g.norm == "none")(x)
        for layer in (_norm(g.norm), activation(g.activation)):
            x = layer(x) if layer is not None else x
        if g.dropout:
            x = keras.layers.Dropout(g.dropout)(x)
    images = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, images, name="generator")


def build_discriminator(cfg: GanModel, shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    d = cfg.discriminator
    height, width, _ = shape
    blocks = max(1, auto_blocks(height, width) + 1) if d.blocks == "auto" else d.blocks
    image = keras.Input(shape, name="image")
    inputs = [image]
    x = image
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        plane = keras.layers.Reshape((height, width, 1))(keras.layers.Embedding(num_classes, height * width)(label))
        x = keras.layers.Concatenate()([x, plane])
    filters = d.base_filters
    for i in range(blocks):
        x = keras.layers.Conv2D(filters * 2**i, 4, strides=2, padding="same")(x)
        norm = _norm(d.norm) if i else None  # DCGAN: no normalisation on the first layer
        x = norm(x) if norm is not None else x
        x = activation(d.activation)(x)
        if d.dropout:
            x = keras.layers.Dropout(d.dropout)(x)
    x = keras.layers.Flatten()(x)
    logit = keras.layers.Dense(1, dtype="float32", name="real_logit")(x)
    return keras.Model(inputs, logit, name="discriminator")


@keras.saving.register_keras_serializable(package="mlcli")
class GAN(keras.Model):
    """Generator + discriminator trained adversarially; calling it generates images from latents."""

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim: int,
        num_classes: int = 0,
        label_smoothing: float = 0.1,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(generator, dict):
            generator = keras.saving.deserialize_keras_object(generator)
        if isinstance(discriminator, dict):
            discriminator = keras.saving.deserialize_keras_object(discriminator)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.label_smoothing, self.seed = label_smoothing, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_accuracy = keras.metrics.BinaryAccuracy(name="d_acc_real", threshold=0.0)
        self.fake_accuracy = keras.metrics.BinaryAccuracy(name="d_acc_fake", threshold=0.0)
        self.built = True  # both networks are built functional models already

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_accuracy, self.fake_accuracy]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def compile_gan(self, g_optimizer, d_optimizer, jit_compile: bool = False) -> None:
        """Two optimizers (built now, so a checkpoint's optimizer state can load into them)."""
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.compile(jit_compile=jit_compile)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def _inputs(self, batch_size, labels):
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        return [z, labels] if self.num_classes else z

    def _d(self, images, labels, training):
        return self.discriminator([images, labels] if self.num_classes else images, training=training)

    def _adversarial_losses(self, real, labels, training):
        batch = ops.shape(real)[0]
        fake = self.generator(self._inputs(batch, labels), training=training)
        real_logits = self._d(real, labels, training)
        fake_logits = self._d(fake, labels, training)
        real_targets = ops.ones_like(real_logits) * (1.0 - self.label_smoothing)
        d_loss = self.bce(real_targets, real_logits) + self.bce(ops.zeros_like(fake_logits), fake_logits)
        return d_loss, real_logits, fake_logits

    def train_step(self, data):
        real, labels = data
        labels = ops.cast(labels, "int32")
        with tf.GradientTape() as tape:
            d_loss, real_logits, fake_logits = self._adversarial_losses(real, labels, training=True)
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply(grads, self.discriminator.trainable_variables)
        with tf.GradientTape() as tape:
            fake = self.generator(self._inputs(ops.shape(real)[0], labels), training=True)
            fooled = self._d(fake, labels, training=True)
            g_loss = self.bce(ops.ones_like(fooled), fooled)
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply(grads, self.generator.trainable_variables)
        return self._track(d_loss, g_loss, real_logits, fake_logits)

    def test_step(self, data):
        real, labels = data
        labels = ops.cast(labels, "int32")
        d_loss, real_logits, fake_logits = self._adversarial_losses(real, labels, training=False)
        g_loss = self.bce(ops.ones_like(fake_logits), fake_logits)
        return self._track(d_loss, g_loss, real_logits, fake_logits)

    def _track(self, d_loss, g_loss, real_logits, fake_logits):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_accuracy.update_state(ops.ones_like(real_logits), real_logits)
        self.fake_accuracy.update_state(ops.zeros_like(fake_logits), fake_logits)
        return {m.name: m.result() for m in self.metrics}

    def generate(self, num: int, seed: int, labels=None):
        """uint8 images (num x H x W x C) from a fixed latent seed, comparable across epochs."""
        import numpy as np

        z = np.random.default_rng(seed).normal(size=(num, self.latent_dim)).astype("float32")
        inputs = [z, np.asarray(labels, "int32")] if self.num_classes else z
        images = np.asarray(self.generator(inputs, training=False))
        return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype("uint8")

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "label_smoothing": self.label_smoothing,
            "seed": self.seed,
        }


@MODELS.register("gan")
def build(cfg: GanModel, spec: Any, full_cfg: Any = None) -> GAN:
    shape = tuple(spec.input_shape)
    classes = spec.num_classes if cfg.conditional else 0
    if cfg.conditional and not classes:
        raise ConfigError(["model.conditional: the data has no class labels to condition on"])
    return GAN(
        build_generator(cfg, shape, classes),
        build_discriminator(cfg, shape, classes),
        cfg.latent_dim,
        classes,
        cfg.label_smoothing,
        seed=full_cfg.seed if full_cfg else 0,
        name="gan",
    )
