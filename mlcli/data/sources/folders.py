"""`class_name/*.png|jpg` and `class_name/*.txt` folders, streamed from disk as file lists.

Folders are checked before training, so an empty class or a corrupt file is a one-line user error
naming the path (or a skipped file with `skip_corrupt: true`). Nothing is written into the folders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcli.config.data import ImageFolderData, TextFolderData
from mlcli.data.files import IMAGE_SUFFIXES, TEXT_SUFFIXES, Files, checked, list_files
from mlcli.data.raw import RawData, assemble_splits, map_classes
from mlcli.data.sources.registry import SOURCES
from mlcli.errors import UserError
from mlcli.spec.image import ImageInput

CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


def _class_dirs(root: Path, suffixes: set[str], at_least: int = 2) -> list[Path]:
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"{root}: no class folders inside; expected {root}/<class_name>/<files>")
    for cls in classes:
        if not list_files(cls, suffixes):
            raise UserError(f"{cls}: class folder has no {'/'.join(sorted(suffixes))} files")
    if len(classes) < at_least:
        raise UserError(f"{root}: only one class folder ({classes[0].name}); need at least two")
    return classes


def _file_lists(root: Path, files: Files, skip_corrupt: bool, at_least: int = 2):
    """Paths and labels of every readable file under `root/<class>/`, in a fixed (sorted) order."""
    suffixes = IMAGE_SUFFIXES if files.kind == "image" else TEXT_SUFFIXES
    classes = _class_dirs(root, suffixes, at_least)
    paths, labels = [], []
    for label, folder in enumerate(classes):
        good = checked(list_files(folder, suffixes), files.kind, skip_corrupt)
        if not good:
            raise UserError(f"{folder}: no readable files left after skipping corrupt ones")
        paths.extend(str(p) for p in good)
        labels.extend([label] * len(good))
    x = Files(np.array(paths, dtype=object), files.kind, files.image)
    return x, np.array(labels, np.int32), [c.name for c in classes]


SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def split_roots(cfg) -> dict[str, Path]:
    """Where each split's class folders are: `path/train|val|test` when `path` is laid out so,
    else `path` for train; `val_path` / `test_path` always win."""
    root = Path(cfg.path)
    roots = {"train": root}
    if (root / "train").is_dir():
        subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if all(p.name.lower() in SPLIT_DIRS for p in subdirs):
            roots = {SPLIT_DIRS[p.name.lower()]: p for p in subdirs}
    for split in ("val", "test"):
        given = getattr(cfg, f"{split}_path", None)
        if given:
            roots[split] = Path(given)
    return roots


def _relabel(y: np.ndarray, own: list[str], train_names: list[str], where: Path) -> np.ndarray:
    """Labels of a val/test folder (indices into its own class folders) as train's indices."""
    return map_classes([own[i] for i in y], train_names, str(where))


def _load_splits(cfg, files: Files, seed: int) -> tuple[tuple, tuple, tuple, list[str]]:
    roots = split_roots(cfg)
    x, y, names = _file_lists(roots["train"], files, cfg.skip_corrupt)
    held = {}
    for split in ("val", "test"):
        if split in roots:
            sx, sy, own = _file_lists(roots[split], files, cfg.skip_corrupt, 1)
            held[split] = (sx, _relabel(sy, own, names, roots[split]))
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    return train, val, test, names


@SOURCES.register("image_folder")
def load_images(cfg: ImageFolderData, seed: int) -> RawData:
    image = ImageInput(size=tuple(cfg.image_size), channels=CHANNELS[cfg.color_mode])
    files = Files(np.array([], dtype=object), "image", image)
    train, val, test, names = _load_splits(cfg, files, seed)
    return RawData("image", "classification", train, val, test, class_names=names)


@SOURCES.register("text_folder")
def load_texts(cfg: TextFolderData, seed: int) -> RawData:
    train, val, test, names = _load_splits(cfg, Files(np.array([], dtype=object), "text"), seed)
    return RawData("text", "classification", train, val, test, class_names=names)
