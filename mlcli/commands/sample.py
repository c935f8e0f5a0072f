"""`mlcli sample`: images from a trained GAN, as uint8 in the same range and shape as the training images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcli.errors import UserError
from mlcli.evaluation.plots import image_grid
from mlcli.fileio import atomic_write
from mlcli.inference.run import load_checkpoint, open_run
from mlcli.rundir import check_output


def sample_command(
    run_dir: Path, num: int, out: Path, seed: int, png: Path | None, label: int | None, checkpoint: str,
    force: bool = False,
) -> np.ndarray:
    check_output(out, suffixes=(".npz",), force=force)
    if png is not None:
        check_output(png, suffixes=(".png",), force=force)
    run = open_run(run_dir)
    if run.spec.task != "generation":
        raise UserError(f"{run_dir} is a {run.cfg.model.type} run; `mlcli sample` needs a GAN (use `mlcli predict`)")
    gan = load_checkpoint(run, checkpoint)
    labels = None
    if gan.num_classes:
        if label is not None and not 0 <= label < gan.num_classes:
            raise UserError(f"--label {label}: choose a class between 0 and {gan.num_classes - 1}")
        labels = np.full(num, label) if label is not None else np.arange(num) % gan.num_classes
    elif label is not None:
        raise UserError("--label needs a conditional GAN (model.conditional: true)")
    images = gan.generate(num, seed, labels)
    arrays = {"images": images} if labels is None else {"images": images, "labels": labels.astype(np.int32)}
    atomic_write(out, lambda p: np.savez_compressed(p, **arrays), suffix=".npz")
    if png:
        names = run.spec.class_names or []
        image_grid(images, png, titles=[names[i] for i in labels] if labels is not None and names else None)
    print(f"wrote {num} images {images.shape[1:]} uint8 to {out}" + (f" and a grid to {png}" if png else ""))
    return images
