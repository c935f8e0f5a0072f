"""`class_name/*.png|jpg` and `class_name/*.txt` folders, read with Keras' own directory loaders.

Folders are checked before Keras sees them, so an empty class or a corrupt image is a one-line
user error naming the path. Nothing is ever written into the user's folders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcli.config.data import ImageFolderData, TextFolderData
from mlcli.data.raw import RawData, assemble_splits, map_classes
from mlcli.data.registry import SOURCES
from mlcli.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def _class_dirs(root: Path, suffixes: set[str], at_least: int = 2) -> list[Path]:
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"{root}: no class folders inside; expected {root}/<class_name>/<files>")
    for cls in classes:
        if not any(f.suffix.lower() in suffixes for f in cls.iterdir() if f.is_file()):
            raise UserError(f"{cls}: class folder has no {'/'.join(sorted(suffixes))} files")
    if len(classes) < at_least:
        raise UserError(f"{root}: only one class folder ({classes[0].name}); need at least two")
    return classes


def _check_images(classes: list[Path]) -> None:
    from PIL import Image, UnidentifiedImageError

    for cls in classes:
        for f in sorted(cls.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(f) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                raise UserError(f"{f}: unreadable image ({exc})") from None


def _image_arrays(root: Path, cfg: ImageFolderData, at_least: int = 2) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import keras

    classes = _class_dirs(root, IMAGE_SUFFIXES, at_least)
    _check_images(classes)
    ds = keras.utils.image_dataset_from_directory(
        root,
        labels="inferred",
        label_mode="int",
        class_names=[c.name for c in classes],
        color_mode=cfg.color_mode,
        image_size=tuple(cfg.image_size),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    x = np.clip(np.round(np.stack(xs)), 0, 255).astype(np.uint8)
    return x, np.array(ys, np.int32), [c.name for c in classes]


def read_image(path: Path | str, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image file as training sees it (Keras' directory loader: decode, bilinear resize,
    then rounded to uint8 here); `predict` and export use this too, so inputs match exactly."""
    import tensorflow as tf

    img = tf.image.decode_image(tf.io.read_file(str(path)), channels=channels, expand_animations=False)
    img = tf.image.resize(img, size, method="bilinear")
    return np.clip(np.round(img.numpy()), 0, 255).astype(np.uint8)


def _text_arrays(root: Path, at_least: int = 2) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every `<class>/*.txt` decoded as UTF-8 (a BOM is dropped); a file that is not UTF-8 is exit 2."""
    classes = _class_dirs(root, {".txt"}, at_least)
    texts, labels = [], []
    for label, folder in enumerate(classes):
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".txt"):
            try:
                texts.append(path.read_bytes().decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                raise UserError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
            labels.append(label)
    return np.array(texts, dtype=object), np.array(labels, np.int32), [c.name for c in classes]


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


def _load_splits(cfg, read, seed: int) -> tuple[tuple, tuple, tuple, list[str]]:
    roots = split_roots(cfg)
    x, y, names = read(roots["train"])
    held = {}
    for split in ("val", "test"):
        if split in roots:
            sx, sy, own = read(roots[split], 1)
            held[split] = (sx, _relabel(sy, own, names, roots[split]))
    train, val, test = assemble_splits((x, y), held.get("val"), held.get("test"), cfg, seed)
    return train, val, test, names


@SOURCES.register("image_folder")
def load_images(cfg: ImageFolderData, seed: int) -> RawData:
    train, val, test, names = _load_splits(cfg, lambda root, at_least=2: _image_arrays(root, cfg, at_least), seed)
    return RawData("image", "classification", train, val, test, class_names=names)


@SOURCES.register("text_folder")
def load_texts(cfg: TextFolderData, seed: int) -> RawData:
    train, val, test, names = _load_splits(cfg, _text_arrays, seed)
    return RawData("text", "classification", train, val, test, class_names=names)
