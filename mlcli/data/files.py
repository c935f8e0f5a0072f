"""Folders of image or text files as file lists: split by path, decoded by tf.data batch by batch.

Only paths and labels live in memory, so peak memory does not grow with the number of files; the
decode (`decode_image`, bilinear resize, rounding to uint8) is the one `predict` uses as well.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
AUTO_MEMORY_LIMIT = 256 << 20  # `cache: auto` keeps decoded examples in memory below 256 MiB


@dataclass
class Files:
    """File paths of one split and how to decode them; indexes like an array (for seeded splits)."""

    paths: np.ndarray
    kind: str  # "image" or "text"
    size: tuple[int, int] = (0, 0)
    channels: int = 0

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> Files:
        return Files(self.paths[index], self.kind, self.size, self.channels)

    def decode(self, path):
        """One file's tensor, inside tf.data."""
        import tensorflow as tf

        data = tf.io.read_file(path)
        if self.kind == "text":
            return tf.strings.regex_replace(data, "^\ufeff", "")  # a UTF-8 byte-order mark is not text
        return decode_image(data, self.size, self.channels)

    def dataset(self, labels: np.ndarray | None):
        """Unbatched `(path, label)` pairs; `map(decode)` comes after shuffling, so only paths shuffle."""
        import tensorflow as tf

        y = labels if labels is not None else np.zeros(len(self.paths), np.int32)
        return tf.data.Dataset.from_tensor_slices((self.paths.astype(str), y))

    def arrays(self, limit: int | None = None) -> np.ndarray:
        """The first `limit` files decoded, as numpy (export checks, GAN quality)."""
        out = [self.decode(p).numpy() for p in self.paths[:limit].astype(str)]
        if self.kind == "text":
            return np.array([v.decode("utf-8") for v in out], dtype=object)
        return np.stack(out) if out else np.zeros((0, *self.size, self.channels), np.uint8)

    def decoded_bytes(self) -> int:
        """What caching every decoded example would take: images at model size, texts as stored."""
        if self.kind == "image":
            return len(self) * self.size[0] * self.size[1] * self.channels
        return int(sum(Path(p).stat().st_size for p in self.paths))


def decode_image(data, size: tuple[int, int], channels: int):
    """Encoded bytes -> uint8 (h, w, c): decode, bilinear resize, round (as Keras' folder loader)."""
    import tensorflow as tf

    img = tf.io.decode_image(data, channels=channels, expand_animations=False)
    img = tf.image.resize(img, size, method="bilinear")
    img = tf.cast(tf.clip_by_value(tf.round(img), 0, 255), tf.uint8)
    return tf.ensure_shape(img, (*size, channels))


def cache_mode(setting: str, splits: list[Any]) -> str:
    """memory | disk | none. `auto` is memory unless the splits are files whose decoded examples
    together exceed AUTO_MEMORY_LIMIT (decided once for all splits, so memory stays flat)."""
    if setting != "auto":
        return setting
    files = [s[0] for s in splits if isinstance(s, tuple) and isinstance(s[0], Files)]
    return "none" if sum(f.decoded_bytes() for f in files) >= AUTO_MEMORY_LIMIT else "memory"


def list_files(folder: Path, suffixes: set[str]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def unreadable(path: Path, kind: str) -> str | None:
    """Why `path` cannot be read (None when it can): PIL's verify for images, UTF-8 for text."""
    if kind == "text":
        try:
            path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return f"not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8"
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return f"unreadable image ({exc})"
    return None


def checked(files: list[Path], kind: str, skip_corrupt: bool) -> list[Path]:
    """Every file read once before training: a bad one is exit 2 naming it, or skipped with a warning."""
    good = []
    for path in files:
        problem = unreadable(path, kind)
        if problem is None:
            good.append(path)
        elif skip_corrupt:
            print(f"warning: skipping {path}: {problem}", file=sys.stderr)
        else:
            raise UserError(f"{path}: {problem} (or set data.skip_corrupt: true to skip such files)")
    return good
