"""`mlcli sample`: images from a trained GAN, as uint8 in the same range and shape as the training images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcli.errors import UserError
from mlcli.evaluation.plots import image_grid
from mlcli.fileio import atomic_write
from mlcli.inference.run import load_checkpoint, open_run
from mlcli.rundir import check_output


def class_index(label: str | int, names: list[str], count: int) -> int:
    """`--label`: a class name of the run, or its index; a name wins (class folders `1`, `2`, `3`:
    `--label 1` is the class named 1, index 0), and what was chosen is printed."""
    names = [str(n) for n in names] or [str(i) for i in range(count)]
    if str(label) in names:
        return names.index(str(label))
    try:
        index = int(label)
    except ValueError:
        index = -1
    if not 0 <= index < count:
        listed = ", ".join(f"{i} {n}" for i, n in enumerate(names[:20])) + (", ..." if count > 20 else "")
        raise UserError(f"--label {label}: not a class of this GAN; choose a name or index ({listed})")
    return index


def sample_command(
    run_dir: Path, num: int, out: Path, seed: int, png: Path | None, label: str | int | None, checkpoint: str,
    force: bool = False,
) -> np.ndarray:
    check_output(out, suffixes=(".npz",), force=force)
    if png is not None:
        check_output(png, suffixes=(".png",), force=force)
    run = open_run(run_dir)
    if run.spec.task != "generation":
        raise UserError(f"{run_dir} is a {run.cfg.model.type} run; `mlcli sample` needs a GAN (use `mlcli predict`)")
    gan = load_checkpoint(run, checkpoint)
    names = [str(n) for n in (run.spec.class_names or [])]
    labels = None
    if gan.num_classes:
        if label is not None:
            label = class_index(label, names, gan.num_classes)
        labels = np.full(num, label) if label is not None else np.arange(num) % gan.num_classes
    elif label is not None:
        raise UserError("--label needs a conditional GAN (model.conditional: true)")
    images = gan.generate(num, seed, labels)
    arrays = {"images": images} if labels is None else {"images": images, "labels": labels.astype(np.int32)}
    if labels is not None and names:
        arrays["class_names"] = np.array(names)  # labels[i] is the index of class_names
    atomic_write(out, lambda p: np.savez_compressed(p, **arrays), suffix=".npz")
    if png:
        image_grid(images, png, titles=[names[i] for i in labels] if labels is not None and names else None)
    which = (f" of class {names[label]!r} (index {label})" if names else f" of class {label}") if label is not None \
        else ""  # fmt: skip
    print(f"wrote {num} images {images.shape[1:]} uint8{which} to {out}" + (f" and a grid to {png}" if png else ""))
    return images
