"""`mlcli init PATH`: a commented starter config from the data itself (no TensorFlow).

Looks at an image folder, a text folder, a CSV or an NPZ and writes a config that validates and
trains: the source, the task, the label column, the classes, an image size and colour mode from the
files, a model sized for the kind and the data, a name from the folder, a test split.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from mlcli.config import load_config_text
from mlcli.config.loader import default_name
from mlcli.data.files import IMAGE_SUFFIXES, TEXT_SUFFIXES
from mlcli.data.sources.folders import SPLIT_DIRS
from mlcli.data.table import infer_type, missing_mask, read_csv
from mlcli.errors import ConfigError, UserError
from mlcli.fileio import atomic_write_text
from mlcli.rundir import check_output

LABEL_NAMES = ("label", "labels", "target", "class", "y", "outcome", "category", "species", "price", "saleprice",
               "survived", "churn", "default", "response")  # fmt: skip
GRAYSCALE = {"1", "L", "LA", "I", "I;16", "F", "P"}


def _class_root(path: Path) -> tuple[Path, bool]:
    """The folder holding class folders, and whether a test folder already exists beside it."""
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    names = {p.name.lower() for p in subdirs}
    if "train" in names and names <= set(SPLIT_DIRS):
        return next(p for p in subdirs if p.name.lower() == "train"), "test" in names
    return path, False


def _files(root: Path) -> dict[str, list[Path]]:
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return {c.name: sorted(f for f in c.iterdir() if f.is_file()) for c in classes}


def _image_folder(path: Path) -> dict:
    from PIL import Image

    root, has_test = _class_root(path)
    files = {c: [f for f in fs if f.suffix.lower() in IMAGE_SUFFIXES] for c, fs in _files(root).items()}
    sample = [f for fs in files.values() for f in fs[:200]]
    sizes, modes = [], Counter()
    for f in sample:
        try:
            with Image.open(f) as img:
                sizes.append(min(img.size))
                modes[img.mode] += 1
        except OSError:
            continue
    if not sizes:
        raise UserError(f"{path}: found no readable images in its class folders")
    median = float(np.median(sizes))
    side = int(median) if median <= 32 else int(min(128, max(32, 8 * round(median / 8))))
    gray = set(modes) <= GRAYSCALE
    blocks = max(1, min(4, int(math.log2(max(side, 4) / 4))))
    return {"classes": list(files), "count": sum(map(len, files.values())), "side": side,
            "color": "grayscale" if gray else "rgb", "blocks": blocks, "has_test": has_test,
            "median": median, "modes": dict(modes)}  # fmt: skip


def _text_folder(path: Path) -> dict:
    root, has_test = _class_root(path)
    files = {c: [f for f in fs if f.suffix.lower() in TEXT_SUFFIXES] for c, fs in _files(root).items()}
    texts = [f.read_bytes()[:20000].decode("utf-8", "replace") for fs in files.values() for f in fs[:100]]
    words = [len(t.split()) for t in texts] or [1]
    unspaced = np.mean([t.count(" ") / max(len(t), 1) < 0.05 for t in texts]) if texts else 0.0
    # scripts written without spaces (Chinese, Japanese) read as characters, even when they are a tenth of
    # the texts: split on whitespace, each of their sentences would be one word never seen again
    character = unspaced >= 0.1
    lengths = [len(t) for t in texts] if character else words
    length = int(min(400, max(16, np.percentile(lengths, 90))))
    return {"classes": list(files), "count": sum(map(len, files.values())), "has_test": has_test,
            "split": "character" if character else "whitespace", "length": length,
            "unspaced": float(unspaced)}  # fmt: skip


def _label_column(header: list[str], asked: str | None, path: Path) -> tuple[str, str]:
    """The label column and how it was chosen: --label, a usual name, else the last column."""
    if asked is not None:
        if asked not in header:
            raise UserError(f"--label {asked!r}: no such column in {path} ({', '.join(header)})")
        return asked, "--label"
    for name in header:
        if name.strip().lower() in LABEL_NAMES:
            return name, "its name"
    return header[-1], "the last column; choose another with --label"


DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2})?)?$")  # ISO dates and times


def _series_column(header: list[str], columns: list, path: Path) -> str | None:
    """A time series: a date column in order and one numeric column besides it (what to forecast)."""
    dated = [h for h in header if all(DATE.match(v.strip()) for v in columns[header.index(h)][:200])]
    if len(dated) != 1 or len(header) != 2:
        return None
    values = columns[header.index(dated[0])]
    if list(values) != sorted(values):
        return None
    other = next(h for h in header if h != dated[0])
    try:
        [float(v) for v in columns[header.index(other)] if v.strip()]
    except ValueError:
        return None
    return other


def _csv(path: Path, asked_label: str | None = None) -> dict:
    header, columns = read_csv(path)
    series = _series_column(header, columns, path) if asked_label is None else None
    if series is not None:
        return {"series": series, "rows": len(columns[0]), "date": next(h for h in header if h != series)}
    label, chosen = _label_column(header, asked_label, path)
    values = np.asarray(columns[header.index(label)], dtype=str)
    present = values[~missing_mask(values)]
    try:
        numbers = present.astype(np.float64)
        integer = bool(np.all(numbers == np.round(numbers)))
        classes = integer and len(np.unique(numbers)) <= 20
    except ValueError:
        classes = True
    typing = [infer_type(columns[header.index(h)], h, str(path)) for h in header if h != label]
    used = [t for t in typing if t.type != "ignore"]
    only_text = len(used) == 1 and used[0].type in ("text", "categorical") and used[0].distinct > 20
    names = sorted(set(present.tolist())) if classes else None
    return {"label": label, "task": "classification" if classes else "regression", "rows": len(columns[0]),
            "typing": typing, "text": only_text, "classes": names, "chosen": chosen}  # fmt: skip


def _npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        names = set(npz.files)
        if "x" not in names:
            raise UserError(f"{path}: needs an array named 'x' (has: {', '.join(sorted(names))})")
        x = npz["x"]
        y = npz["y"] if "y" in names else None
    image = x.ndim in (3, 4) and x.dtype == np.uint8
    task = "generation" if y is None else ("classification" if np.issubdtype(y.dtype, np.integer) else "regression")
    return {"shape": list(x.shape[1:]), "image": image, "task": task, "rows": len(x),
            "classes": int(len(np.unique(y))) if task == "classification" else None}  # fmt: skip


SMALL = 1000  # fewer examples than this: no BatchNorm (its statistics need many steps), a larger val split


def _cnn(blocks: int, count: int, indent: str = "  ") -> str:
    norm = ", batch_norm: true" if count >= SMALL else ""
    why = "" if norm else f"{indent}# batch_norm left off: with under {SMALL} images its batch statistics are noisy\n"
    rows = "\n".join(f"{indent}  - {{filters: {32 * 2**i}, padding: same{norm}}}" for i in range(blocks))
    return f"{why}{indent}blocks:\n{rows}\n{indent}head: global_avg\n{indent}dropout: 0.2\n"


def _small(count: int) -> str:
    if count >= SMALL:
        return ""
    return (f"  val_fraction: 0.2   # only {count} examples: a larger validation split picks best.keras more surely\n"
            "  # (with this few examples expect noisy scores; more data helps more than any setting)\n")  # fmt: skip


def _training(classes: bool, epochs: int = 20, count: int | None = None) -> str:
    """Early stopping and the best checkpoint on validation accuracy, or on val_loss for few examples:
    accuracy over a handful of validation examples moves in large steps, so its first value is rarely
    beaten and training would keep an almost untrained epoch."""
    small = count is not None and count < SMALL
    monitor = "val_accuracy" if classes and not small else "val_loss"
    why = f"  # val_loss, not val_accuracy: with {count} examples accuracy moves in large steps\n" if (
        classes and small) else ""  # fmt: skip
    return (
        "training:\n" + why
        + f"  epochs: {epochs}\n"
        f"  early_stopping: {{monitor: {monitor}, patience: 5}}   # stop when validation stops improving\n"
        f"  checkpoint: {{monitor: {monitor}}}   # checkpoints/best.keras keeps the best epoch\n"
    )


def starter_config(path: Path, label: str | None = None) -> str:
    """The YAML text of a starter config for the data at `path`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    name = default_name(path.name if path.is_dir() else path.stem)
    head = f"# mlcli starter config for {path}, written by `mlcli init`; edit freely, then `mlcli train` it.\n"
    head += f"name: {name}\nseed: 42\n"
    quoted = str(path).replace("'", "''")
    if path.is_dir():
        roots = [p for fs in _files(_class_root(path)[0]).values() for p in fs]
        images = sum(p.suffix.lower() in IMAGE_SUFFIXES for p in roots)
        texts = sum(p.suffix.lower() in TEXT_SUFFIXES for p in roots)
        if not roots or images == texts == 0:
            raise UserError(f"{path}: expected class folders of images or .txt files ({path}/<class>/<files>)")
        if images >= texts:
            info = _image_folder(path)
            split = "" if info["has_test"] else "  test_fraction: 0.2   # no test/ folder: 20 % held out by seed\n"
            return (
                head
                + f"# {info['count']} images in {len(info['classes'])} classes: {', '.join(info['classes'][:12])}\n"
                + f"# sizes seen: median {info['median']:.0f} px on the short side; colour modes "
                + ", ".join(f"{m} {n}" for m, n in info["modes"].items()) + "\n"
                + "data:\n  source: image_folder\n"
                + f"  path: '{quoted}'\n"
                + f"  image_size: [{info['side']}, {info['side']}]   # every image is resized to this (antialiased)\n"
                + f"  color_mode: {info['color']}\n" + split + _small(info["count"]) + "  batch_size: 32\n"
                + "  # preprocessing: {augment: [random_flip, random_rotation]}   # for photos, not for digits\n"
                + "model:\n  type: cnn\n" + _cnn(info["blocks"], info["count"])
                + "optimizer: {name: adam, learning_rate: 1.0e-3}\n" + _training(True, count=info["count"])
            )  # fmt: skip
        info = _text_folder(path)
        split = "" if info["has_test"] else "  test_fraction: 0.2   # no test/ folder: 20 % held out by seed\n"
        return (
            head
            + f"# {info['count']} texts in {len(info['classes'])} classes: {', '.join(info['classes'][:12])}\n"
            + "data:\n  source: text_folder\n" + f"  path: '{quoted}'\n" + split + _small(info["count"])
            + "  batch_size: 32\n  preprocessing:\n"
            + (f"    # split: character: {info['unspaced']:.0%} of the texts are written without spaces (Chinese, "
               "Japanese, ...)\n" if info["split"] == "character" else "")
            + f"    text: {{split: {info['split']}, sequence_length: {info['length']}, max_tokens: 20000}}\n"
            + "model:\n  type: rnn\n  cell: gru\n  units: [64]\n  bidirectional: true\n  embedding_dim: 64\n"
            + "  dropout: 0.2\n"
            + "optimizer: {name: adam, learning_rate: 1.0e-3}\n" + _training(True, 15, info["count"])
        )  # fmt: skip
    if path.suffix.lower() == ".csv":
        info = _csv(path, label)
        if "series" in info:
            window = max(2, min(52, info["rows"] // 10))
            return (
                head + f"# {info['rows']} rows of {info['series']!r} in {info['date']!r} order: a forecast of the "
                "next value from the last `window`\n"
                + f"data:\n  source: csv\n  path: '{quoted}'\n  task: timeseries\n  value_column: '{info['series']}'\n"
                + f"  window: {window}\n  horizon: 1\n  test_fraction: 0.2   # the last 20 %, or test_path: the values "
                "that follow\n  batch_size: 32\n"
                + "model:\n  type: rnn\n  cell: gru\n  units: [32]\n"
                + "optimizer: {name: adam, learning_rate: 2.0e-3, clipnorm: 1.0}\n" + _training(False, 50)
            )  # fmt: skip
        lines = [f"#   {t.name}: {'left out' if t.type == 'ignore' else t.type} ({t.why})" for t in info["typing"]]
        classes = info["task"] == "classification"
        model = ("model:\n  type: rnn\n  cell: gru\n  units: [64]\n  bidirectional: true\n" if info["text"] else
                 f"model:\n  type: mlp\n  layers: {[128, 64] if info['rows'] > 2000 else [64, 32]}\n"
                 "  dropout: 0.1\n  batch_norm: true\n")  # fmt: skip
        label_note = f"{len(info['classes'])} classes" if classes else "numbers: a regression"
        return (
            head + f"# {info['rows']} rows; label {info['label']!r} ({label_note}; chosen by {info['chosen']}). "
            "Column types as inferred:\n"
            + "\n".join(lines) + "\n# override any of them with data.columns: {name: numeric|categorical|text|ignore}\n"
            + f"data:\n  source: csv\n  path: '{quoted}'\n  label: '{info['label']}'\n  task: {info['task']}\n"
            + "  test_fraction: 0.2   # or test_path: a test CSV with the same columns\n" + _small(info["rows"])
            + "  batch_size: 32\n"
            + model + "optimizer: {name: adam, learning_rate: 1.0e-3}\n" + _training(classes, 50, info["rows"])
        )  # fmt: skip
    if path.suffix.lower() == ".npz":
        info = _npz(path)
        if info["task"] == "generation":
            return (head + f"# {info['rows']} images {info['shape']}, no labels: a GAN learns to generate them\n"
                    + f"data:\n  source: npz\n  path: '{quoted}'\n  batch_size: 64\nmodel:\n  type: gan\n"
                    + "  latent_dim: 64\ntraining: {epochs: 50}\n")  # fmt: skip
        classes = info["task"] == "classification"
        if info["image"]:
            side = min(info["shape"][:2])
            model = "model:\n  type: cnn\n" + _cnn(max(1, min(4, int(math.log2(max(side, 4) / 4)))), info["rows"])
        else:
            model = "model:\n  type: mlp\n  layers: [64, 32]\n  dropout: 0.1\n"
        what = f"{info['classes']} classes" if classes else "values (regression)"
        return (
            head + f"# {info['rows']} examples of shape {info['shape']}; y: {what}\n"
            + f"data:\n  source: npz\n  path: '{quoted}'\n  task: {info['task']}\n  test_fraction: 0.2\n"
            + "  batch_size: 32\n" + model + "optimizer: {name: adam, learning_rate: 1.0e-3}\n"
            + _training(classes, 30, info["rows"])
        )  # fmt: skip
    raise UserError(f"{path}: mlcli init reads an image folder, a text folder, a .csv or an .npz")


def init_command(path: Path, out: Path | None, force: bool, label: str | None = None) -> Path:
    if label is not None and Path(path).suffix.lower() != ".csv":
        raise UserError("--label names a CSV column; folders take their labels from class folders")
    text = starter_config(path, label)
    out = Path(out) if out else Path(f"{re.search(r'^name: (.*)$', text, re.M).group(1)}.yaml")
    try:
        load_config_text(text, str(out))  # a starter that does not validate is our bug, not the user's
    except ConfigError as exc:
        raise UserError(f"the starter config for {path} does not validate: {exc.problems[0]}") from None
    check_output(out, suffixes=(".yaml", ".yml"), force=force)
    atomic_write_text(out, text)
    print(text, end="")
    print(f"# wrote {out}; next: mlcli inspect {out}, then mlcli train {out}")
    return out
