"""GAN-only callbacks: sample grids from a fixed latent seed, and collapse/divergence warnings."""

from __future__ import annotations

from pathlib import Path

import keras

from mlcli.evaluation.plots import image_grid

GRID_SIZE = 64
PINNED_ACCURACY = 0.99
PINNED_EPOCHS = 3


class SampleGrid(keras.callbacks.Callback):
    """`plots/samples/epoch_NNN.png` every N epochs, always from the same latents (comparable grids)."""

    def __init__(self, run_dir: Path, every: int, seed: int):
        super().__init__()
        self.dir = Path(run_dir) / "plots" / "samples"
        self.every, self.seed = every, seed

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch + 1 != self.params.get("epochs"):
            return
        gan = self.model
        columns = gan.num_classes if 1 < gan.num_classes <= 16 else 8  # conditional: one class per column
        count = columns * (GRID_SIZE // columns)
        labels = [i % gan.num_classes for i in range(count)] if gan.num_classes else None
        images = gan.generate(count, self.seed, labels)
        image_grid(images, self.dir / f"epoch_{epoch + 1:03d}.png", columns=columns)


class CollapseWatch(keras.callbacks.Callback):
    """Warns when the discriminator wins outright for several epochs (collapse) or losses diverge."""

    def __init__(self):
        super().__init__()
        self.pinned = 0
        self.warnings: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        real, fake = logs.get("d_acc_real"), logs.get("d_acc_fake")
        if real is not None and fake is not None and min(real, fake) >= PINNED_ACCURACY:
            self.pinned += 1
        else:
            self.pinned = 0
        if self.pinned == PINNED_EPOCHS:
            self._warn(
                f"epoch {epoch + 1}: discriminator accuracy pinned at 1.0 for {PINNED_EPOCHS} epochs; the "
                "generator may have collapsed (try a lower discriminator learning rate or more dropout)"
            )

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"warning: {message}", flush=True)

    def summary_extras(self) -> dict:
        return {"warnings": self.warnings}
