"""Image and text files: listed by path, checked before training, decoded by tf.data batch by batch.

Only paths and labels live in memory, so peak memory does not grow with the number of files. An image
is decoded, then resized by the run's `ImageInput.resize` (antialiased, rounded to whole values); a
text file is its whole content, a UTF-8 byte-order mark removed, nothing else changed. `predict` and
`evaluate` read files through these same functions.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.errors import UserError
from mlcli.spec.image import ImageInput

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
TEXT_SUFFIXES = {".txt"}
AUTO_MEMORY_LIMIT = 256 << 20  # `cache: auto` keeps decoded examples in memory below 256 MiB
TF_FORMATS = {"PNG", "JPEG", "GIF", "BMP", "MPO"}  # what tf.io.decode_image reads (MPO: a JPEG from cameras)
MAX_IMAGE_PIXELS = int(os.environ.get("MLCLI_MAX_IMAGE_PIXELS", 100_000_000))  # a photo has tens of millions
BOM = "\ufeff"


@dataclass
class Files:
    """File paths of one split and how to decode them; indexes like an array (for seeded splits).

    `image` is how images are resized (size, channels); a run's own spec replaces it before decoding,
    so a checkpoint always sees files resized the way it was trained.
    """

    paths: np.ndarray
    kind: str  # "image" or "text"
    image: ImageInput | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> Files:
        return Files(self.paths[index], self.kind, self.image)

    def resized_by(self, image: ImageInput | None) -> Files:
        return Files(self.paths, self.kind, image if image is not None else self.image)

    def decode(self, path):
        """One file's tensor, inside tf.data: uint8 pixels at the model size, or the text as a string."""
        import tensorflow as tf

        data = tf.io.read_file(path)
        if self.kind == "text":
            return tf.strings.regex_replace(data, f"^{BOM}", "")
        return decode_image(data, self.image)

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
        return np.stack(out) if out else np.zeros((0, *self.image.shape), np.uint8)

    def decoded_bytes(self) -> int:
        """What caching every decoded example would take: images at model size, texts as stored."""
        if self.kind == "image":
            return len(self) * int(np.prod(self.image.shape))
        return int(sum(Path(p).stat().st_size for p in self.paths))


def plain(fn):
    """`fn` as tf.data's map/flat_map should run it, without AutoGraph: mlcli's dataset functions branch
    on Python values only, and converting them (and all they call) took ~0.6 s of each command's start."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


def decode_image(data, image: ImageInput):
    """Encoded bytes → uint8 (h, w, c) at the model size, resized as every reader resizes."""
    import tensorflow as tf

    pixels = tf.io.decode_image(data, channels=image.channels, expand_animations=False)
    resized = tf.cast(image.resize(pixels), tf.uint8)
    return tf.ensure_shape(resized, tuple(image.shape))


def read_text_file(path: Path) -> str:
    """A text file exactly as training reads it (the whole file, BOM removed); not UTF-8 is exit 2."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8").removeprefix(BOM)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8") from None


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
            read_text_file(path)
        except UserError as exc:
            return str(exc).removeprefix(f"{path}: ")
        return None
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt, (width, height) = img.format, img.size
                if width * height > MAX_IMAGE_PIXELS:
                    return (f"{width}x{height} = {width * height:,} pixels, above the limit of {MAX_IMAGE_PIXELS:,} "
                            "(set MLCLI_MAX_IMAGE_PIXELS to allow more)")  # fmt: skip
                img.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"a decompression bomb ({exc})"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"unreadable image ({exc})"
    if fmt not in TF_FORMATS:  # TensorFlow decodes by content: a TIFF named .png fails mid-epoch
        return f"a {fmt} file; TensorFlow decodes {', '.join(sorted(TF_FORMATS))} (convert it)"
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


def undecodable(files: Files) -> list[str]:
    """The files TensorFlow itself cannot decode (a PNG whose compressed stream is corrupt passes PIL's
    verify): every file decoded once, in parallel, by the decoder training uses."""
    import tensorflow as tf

    paths = files.paths.astype(str)
    ds = tf.data.Dataset.from_tensor_slices((paths, np.arange(len(paths))))
    ds = ds.map(plain(lambda p, i: (tf.shape(files.decode(p))[0], i)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.ignore_errors()  # a failing file drops out; the survivors name the rest
    ok = np.zeros(len(paths), bool)
    for _, index in ds.batch(1024):
        ok[index.numpy()] = True
    return [str(p) for p in paths[~ok]]
