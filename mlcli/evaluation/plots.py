"""PNG plots for the run directory: training curves, confusion matrix, image grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcli.fileio import atomic_write
from mlcli.metrics import average_precision_one, roc_auc_one


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def overlay(runs: dict[str, list[dict]], path: Path) -> None:
    """Several runs' curves on shared axes: one panel per logged name, one line per run."""
    names = [n for n in dict.fromkeys(k for rows in runs.values() for k in (rows[0] if rows else {}))
             if n != "epoch" and not n.endswith("learning_rate")]  # fmt: skip
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4.5 * max(len(names), 1), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        for label, rows in runs.items():
            points = [(int(r["epoch"]), float(r[name])) for r in rows if r.get(name) not in (None, "")]
            if points:
                ax.plot(*zip(*points), marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=90), suffix=".png")
    plt.close(fig)


def curves(rows: list[dict], path: Path) -> None:
    """Loss and each metric per epoch, train and val on the same axes."""
    if not rows:
        return
    plt = _pyplot()
    epochs = [int(r["epoch"]) for r in rows]
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_") and not k.endswith("learning_rate")]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [float(r[name]) for r in rows], marker="o", label=f"train {name}")
        if f"val_{name}" in rows[0]:
            ax.plot(epochs, [float(r.get(f"val_{name}") or "nan") for r in rows], marker="o", label=f"val {name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=90), suffix=".png")
    plt.close(fig)


def confusion(matrix: np.ndarray, class_names: list[str], path: Path) -> None:
    plt = _pyplot()
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * n, 1 + 0.5 * n))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=90 if n > 10 else 0)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(
                    j,
                    i,
                    int(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black",
                )
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=90), suffix=".png")
    plt.close(fig)


GRID_CELL = 88  # pixels a grid cell is at least, about what matplotlib's 1.1-inch cells at 80 dpi were
GRID_GAP = 2


def tile(images: np.ndarray, columns: int = 8) -> tuple[np.ndarray, int]:
    """uint8 N x H x W x C images side by side on a white sheet, each enlarged by a whole factor with
    nearest-neighbour pixels (so a cell is the image, pixel for pixel); returns the sheet and the factor."""
    n, h, w, c = images.shape
    scale = max(1, -(-GRID_CELL // max(h, w)))
    rows = -(-n // columns)
    cell_h, cell_w = h * scale + GRID_GAP, w * scale + GRID_GAP
    sheet = np.full((rows * cell_h + GRID_GAP, columns * cell_w + GRID_GAP, c), 255, np.uint8)
    big = images.repeat(scale, axis=1).repeat(scale, axis=2)
    for i in range(n):
        top, left = GRID_GAP + (i // columns) * cell_h, GRID_GAP + (i % columns) * cell_w
        sheet[top : top + h * scale, left : left + w * scale] = big[i]
    return sheet, scale


def image_grid(images: np.ndarray, path: Path, columns: int = 8, titles: list[str] | None = None) -> None:
    """uint8 N x H x W x C images as one grid PNG. Without titles the grid is tiled with PIL: a GAN writes
    one every epoch, and laying out 64 matplotlib axes took 2 s of each epoch (0.01 s tiled)."""
    if not titles:
        from PIL import Image

        sheet, _ = tile(images, columns)
        picture = Image.fromarray(sheet[..., 0] if sheet.shape[-1] == 1 else sheet)
        atomic_write(path, lambda p: picture.save(p, format="PNG"), suffix=".png")
        return
    plt = _pyplot()
    n = len(images)
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.1), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = images[i]
            ax.imshow(
                img[..., 0] if img.shape[-1] == 1 else img,
                cmap="gray" if img.shape[-1] == 1 else None,
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
            ax.set_title(titles[i], fontsize=7)
    fig.tight_layout(pad=0.2)
    atomic_write(path, lambda p: fig.savefig(p, dpi=80), suffix=".png")
    plt.close(fig)


def _curve_points(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate (= recall) and precision at every distinct threshold."""
    order = np.argsort(-score, kind="stable")
    hits = positive[order]
    last = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]
    tp = np.cumsum(hits)[last]
    fp = last + 1 - tp
    return fp / max((~positive).sum(), 1), tp / max(positive.sum(), 1), tp / (last + 1)


def roc_pr_curves(y: np.ndarray, probs: np.ndarray, class_names: list[str], folder: Path, what: str) -> None:
    """plots/roc.png and plots/pr.png: one curve per class (one-vs-rest; the positive class when binary),
    the first ten classes when there are more."""
    plt = _pyplot()
    y = y.astype(int).reshape(-1)
    classes = [1] if probs.shape[1] == 2 else list(range(min(probs.shape[1], 10)))
    figures = {name: plt.subplots(figsize=(4.8, 4.2)) for name in ("roc", "pr")}
    for k in classes:
        positive = y == k
        if not positive.any() or positive.all():
            continue
        fpr, tpr, precision = _curve_points(positive, probs[:, k])
        auc, ap = roc_auc_one(positive, probs[:, k]), average_precision_one(positive, probs[:, k])
        figures["roc"][1].plot(np.r_[0, fpr], np.r_[0, tpr], label=f"{class_names[k]} (AUC {auc:.3f})")
        figures["pr"][1].step(np.r_[0, tpr], np.r_[1, precision], where="post", label=f"{class_names[k]} (AP {ap:.3f})")
    for name, (fig, ax) in figures.items():
        if name == "roc":
            ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {what}")
        else:
            ax.set(xlabel="recall", ylabel="precision", title=f"precision-recall, {what}", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        atomic_write(Path(folder) / f"{name}.png", lambda p, fig=fig: fig.savefig(p, dpi=90), suffix=".png")
        plt.close(fig)
