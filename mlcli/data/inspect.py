"""The data, looked at before training and without TensorFlow: what `validate` checks, what `inspect`
shows and what `train` prints (compactly) before its first epoch.

`check(cfg)` opens what it cheaply can (paths, a CSV's header, class folders) and returns the problems
as (config path, message). `profile(raw, cfg)` describes loaded raw data: split sizes, class counts,
each column's type with why, missing share and distinct count, identifiers left out, image sizes and
modes seen. The profile is saved in the run's data_spec.json.
"""

from __future__ import annotations

import csv
import difflib
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from mlcli.data.files import IMAGE_SUFFIXES, TEXT_SUFFIXES, Files, list_files
from mlcli.data.raw import RawData
from mlcli.data.sources import SOURCES
from mlcli.data.sources.folders import split_roots
from mlcli.data.table import Table

IMAGE_SAMPLE = 2000  # image headers read to describe sizes and modes


# ---- cheap checks (validate) ----------------------------------------------------------------------


def _folder_problems(cfg: Any, suffixes: set[str]) -> list[tuple[tuple, str]]:
    root = Path(cfg.path)
    if not root.is_dir():
        return [(("data", "path"), f"{root}: no such folder")]
    problems = []
    for split, folder in split_roots(cfg).items():
        field = ("data", "path") if split == "train" or folder.parent == root else ("data", f"{split}_path")
        if not folder.is_dir():
            problems.append((field, f"{folder}: no such folder"))
            continue
        classes = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if not classes:
            problems.append((field, f"{folder}: no class folders inside; expected {folder}/<class_name>/<files>"))
        for cls in sorted(classes):
            if not list_files(cls, suffixes):
                problems.append((field, f"{cls}: class folder has no {'/'.join(sorted(suffixes))} files"))
    return problems


def _csv_header(path: Path) -> tuple[list[str] | None, str]:
    """The header row, or why it cannot be read (text is decoded in blocks, so a non-UTF-8 byte a few
    rows down fails the header too: name where it is)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return [h.strip() for h in next(csv.reader(fh), [])], ""
    except UnicodeDecodeError:
        with path.open("rb") as fh:
            for number, line in enumerate(fh, 1):  # a UTF-8 sequence never spans a newline
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return None, f"not UTF-8 (byte 0x{line[exc.start]:02x} on line {number}); save it as UTF-8"
        return None, "not UTF-8; save it as UTF-8"
    except (OSError, csv.Error) as exc:
        return None, f"cannot read a header row ({exc})"


def _csv_problems(cfg: Any) -> list[tuple[tuple, str]]:
    problems = []
    headers = {}
    for field in ("path", "val_path", "test_path"):
        value = getattr(cfg, field)
        if value is None:
            continue
        path = Path(value)
        header, why = _csv_header(path) if path.is_file() else (None, "")
        if not path.is_file():
            problems.append((("data", field), f"{path}: no such CSV file"))
        elif not header:
            problems.append((("data", field), f"{path}: {why or 'no header row (a UTF-8 CSV is expected)'}"))
        else:
            headers[field] = header
    header = headers.get("path")
    if header is None:
        return problems
    columns = ", ".join(header)
    if cfg.task == "timeseries":
        if cfg.value_column and cfg.value_column not in header:
            problems.append((("data", "value_column"), f"no column {cfg.value_column!r} in {cfg.path} ({columns})"))
        return problems
    if not cfg.label:
        problems.append((("data", "label"), f"name the label column; {cfg.path} has: {columns}"))
    for field, head in headers.items():
        if cfg.label and cfg.label not in head:
            where = getattr(cfg, field)
            hint = _did_you_mean(cfg.label, head)
            problems.append((("data", "label"), f"no column {cfg.label!r} in {where}{hint} ({', '.join(head)})"))
    for name in cfg.features or []:
        if name not in header:
            problems.append((("data", "features"), f"no column {name!r} in {cfg.path} ({columns})"))
    for name in cfg.columns:
        if name not in header:
            problems.append((("data", "columns", name), f"no column {name!r} in {cfg.path} ({columns})"))
    ignored = {n for n, how in cfg.columns.items() if how == "ignore"}
    read = [n for n in (cfg.features or header) if n != cfg.label and n not in ignored]
    for field, head in headers.items():
        missing = [n for n in read if n not in head]
        if field != "path" and missing and (not cfg.label or cfg.label in head):
            problems.append((("data", field), f"no column(s) {', '.join(map(repr, missing))} in "
                             f"{getattr(cfg, field)}: the model reads them from {cfg.path}"))  # fmt: skip
    return problems


def _did_you_mean(name: str, columns: list[str]) -> str:
    same_case = [c for c in columns if c.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, columns, n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def _npz_problems(cfg: Any) -> list[tuple[tuple, str]]:
    problems = []
    for field in ("path", "val_path", "test_path"):
        value = getattr(cfg, field)
        if value is None:
            continue
        path = Path(value)
        if not path.is_file():
            problems.append((("data", field), f"{path}: no such .npz file"))
            continue
        try:
            names = {n.removesuffix(".npy") for n in zipfile.ZipFile(path).namelist()}
        except (zipfile.BadZipFile, OSError) as exc:
            problems.append((("data", field), f"{path}: not an .npz archive ({exc})"))
            continue
        if "x" not in names:
            problems.append((("data", field), f"{path}: needs an array named 'x' (has: {', '.join(sorted(names))})"))
    return problems


CHECKS = {
    "image_folder": lambda data: _folder_problems(data, IMAGE_SUFFIXES),
    "text_folder": lambda data: _folder_problems(data, TEXT_SUFFIXES),
    "csv": _csv_problems,
    "npz": _npz_problems,
}  # sources not listed (builtin, synthetic, tfds) have nothing to open cheaply


def check(cfg: Any) -> list[tuple[tuple, str]]:
    """What is wrong with the data a config names, found cheaply (no file is decoded)."""
    found = CHECKS.get(cfg.data.source)
    return found(cfg.data) if found else []


# ---- the profile (inspect, and the start of training) --------------------------------------------


def _count(split: Any) -> int:
    if split is None:
        return 0
    if isinstance(split, tuple):
        return len(split[0])
    if isinstance(split, np.ndarray):
        return len(split)
    try:
        return int(split.cardinality())
    except (AttributeError, TypeError):
        return 0


def _labels(split: Any) -> np.ndarray | None:
    if isinstance(split, tuple) and split[1] is not None and np.issubdtype(np.asarray(split[1]).dtype, np.integer):
        return np.asarray(split[1])
    return None


def _images(files: Files) -> dict:
    from PIL import Image

    paths = files.paths
    if len(paths) > IMAGE_SAMPLE:
        paths = paths[np.linspace(0, len(paths) - 1, IMAGE_SAMPLE).astype(int)]
    sizes, modes, formats = [], Counter(), Counter()
    for path in paths:
        try:
            with Image.open(path) as img:
                sizes.append(img.size[::-1])  # (height, width)
                modes[img.mode] += 1
                formats[img.format or Path(path).suffix] += 1
        except OSError:
            continue
    area = sorted(sizes, key=lambda hw: hw[0] * hw[1])
    return {
        "seen": len(sizes),
        "smallest": list(area[0]) if area else None,
        "median": [int(np.median([h for h, _ in sizes])), int(np.median([w for _, w in sizes]))] if sizes else None,
        "largest": list(area[-1]) if area else None,
        "modes": dict(modes),
        "formats": dict(formats),
        "resized_to": list(files.image.size),
        "channels": files.image.channels,
    }


def profile(raw: RawData, cfg: Any) -> dict:
    """What the loaded data is: sizes, classes, column typing, images, and notes worth reading."""
    data = cfg.data
    gan = getattr(cfg.model, "type", None) == "gan"  # its labels (if any) condition the generator
    out: dict[str, Any] = {"source": data.source, "kind": raw.kind, "task": "generation" if gan else raw.task}
    if raw.series is not None:
        out["splits"] = {name: int(len(v)) for name, v in zip(("train", "val", "test"), raw.series)}
        out["series"] = {"column": raw.value_column, "window": data.window, "horizon": data.horizon}
    else:
        out["splits"] = {name: _count(s) for name, s in (("train", raw.train), ("val", raw.val), ("test", raw.test))}
    if raw.class_names:
        counts = {}
        for name, split in (("train", raw.train), ("val", raw.val), ("test", raw.test)):
            y = _labels(split)
            if y is not None:
                counts[name] = np.bincount(y, minlength=len(raw.class_names)).tolist()
        out["classes"] = {"names": list(raw.class_names), "counts": counts}
    if raw.column_typing:
        out["columns"] = [vars(t) for t in raw.column_typing]
        out["label"] = getattr(data, "label", None)
    x = raw.train[0] if isinstance(raw.train, tuple) else None
    if isinstance(x, Files) and x.kind == "image":
        out["images"] = _images(x)
    elif isinstance(x, Files):
        texts = [Path(p).read_bytes()[:100_000].decode("utf-8", "replace") for p in x.paths[:IMAGE_SAMPLE]]
        out["texts"] = _text_lengths(texts, len(x))
    elif isinstance(x, np.ndarray) and x.dtype.kind in "OUS":  # texts from a CSV column
        out["texts"] = _text_lengths([str(t) for t in x[:IMAGE_SAMPLE]], len(x))
    elif isinstance(x, np.ndarray) and x.ndim >= 1:
        out["arrays"] = {"shape": list(x.shape[1:]), "dtype": str(x.dtype)}
    elif isinstance(x, Table):
        out["rows"] = len(x)
    out["notes"] = [t.warning for t in raw.column_typing or [] if t.warning]
    train_counts = out.get("classes", {}).get("counts", {}).get("train")
    if train_counts and min(train_counts) * 5 < max(train_counts):
        small = out["classes"]["names"][int(np.argmin(train_counts))]
        out["notes"].append(f"imbalanced classes: {small!r} has {min(train_counts)} training examples, the largest "
                            f"{max(train_counts)}; consider data.class_weight: balanced")  # fmt: skip
    if out["splits"].get("test", 0) == 0:
        out["notes"].append("no test split: set data.test_fraction (or give a test folder / data.test_path) to "
                            "score a held-out set; `mlcli evaluate --split val` meanwhile")  # fmt: skip
    return out


def _text_lengths(texts: list[str], count: int) -> dict:
    words = [len(t.split()) for t in texts] or [0]
    chars = [len(t) for t in texts] or [0]
    return {"count": count, "words_median": int(np.median(words)), "words_p90": int(np.percentile(words, 90)),
            "chars_median": int(np.median(chars)), "chars_p90": int(np.percentile(chars, 90))}  # fmt: skip


def load_profile(cfg: Any) -> dict:
    """The profile of a config's data, read as the source reads it (no TensorFlow, for `inspect`)."""
    if cfg.data.source == "tfds":
        return {"source": "tfds", "notes": ["TFDS datasets are described by TFDS itself (tfds.builder(name).info)"]}
    raw = SOURCES.get(cfg.data.source)(cfg.data, cfg.seed)
    if raw.kind == "series":
        raw.series = (raw.train, raw.val, raw.test)
    return profile(raw, cfg)


# ---- rendering ------------------------------------------------------------------------------------


def _size(hw: list | None) -> str:
    return f"{hw[0]}x{hw[1]}" if hw else "?"


def summary_lines(p: dict) -> list[str]:
    """The compact view `train` prints before its first epoch."""
    splits = p.get("splits", {})
    head = f"data: {p['source']} ({p.get('kind', '?')}, {p.get('task', '?')}); " + ", ".join(
        f"{k} {v:,}" for k, v in splits.items()
    )
    lines = [head + (" values" if "series" in p else "")]
    if "classes" in p:
        names, counts = p["classes"]["names"], p["classes"]["counts"].get("train")
        shown = ", ".join(f"{n} {c}" for n, c in zip(names, counts)) if counts else ", ".join(names)
        lines.append(f"  {len(names)} classes: {shown if len(shown) < 200 else shown[:200] + '…'}")
    if "images" in p:
        i = p["images"]
        modes = ", ".join(f"{m} {n}" for m, n in i["modes"].items())
        lines.append(f"  images {_size(i['smallest'])} to {_size(i['largest'])} (median h x w {_size(i['median'])}), "
                     f"{modes}; resized to {_size(i['resized_to'])}, {i['channels']} channel(s)")  # fmt: skip
    if "texts" in p:
        t = p["texts"]
        lines.append(f"  texts: median {t['words_median']} words ({t['chars_median']} characters), 90 % within "
                     f"{t['words_p90']} words ({t['chars_p90']} characters)")  # fmt: skip
    if "arrays" in p:
        lines.append(f"  arrays: x of shape (n, {', '.join(map(str, p['arrays']['shape']))}), {p['arrays']['dtype']}")
    for c in p.get("columns", []):
        missing = f", {c['missing']:.1%} missing" if c["missing"] else ""
        if c["type"] == "ignore":
            lines.append(f"  column {c['name']!r}: left out ({c['why']}); to use it: data.columns: "
                         f"{{{c['name']}: categorical}} (or numeric, text)")  # fmt: skip
        else:
            lines.append(f"  column {c['name']!r}: {c['type']} ({c['why']}{missing})")
    return lines + [f"  note: {n}" for n in p.get("notes", [])]


def print_profile(p: dict, console) -> None:
    """The full view of `mlcli inspect`: Rich tables."""
    from rich.table import Table as RichTable

    console.print(summary_lines(p)[0])
    if "classes" in p:
        table = RichTable(title="classes", title_justify="left")
        table.add_column("class")
        counts = p["classes"]["counts"]
        for split in counts:
            table.add_column(split, justify="right")
        for i, name in enumerate(p["classes"]["names"]):
            table.add_row(name, *[str(counts[s][i]) for s in counts])
        console.print(table)
    if "columns" in p:
        table = RichTable(title=f"columns (label: {p.get('label')})", title_justify="left")
        for col in ("column", "type", "why", "missing", "distinct"):
            table.add_column(col)
        for c in p["columns"]:
            kind = "left out" if c["type"] == "ignore" else c["type"]
            table.add_row(c["name"], kind, c["why"], f"{c['missing']:.1%}", str(c["distinct"]))
        console.print(table)
    if "images" in p:
        i = p["images"]
        table = RichTable(title=f"images ({i['seen']} read)", title_justify="left")
        table.add_column("")
        table.add_column("")
        table.add_row("smallest / median h and w / largest (h x w)",
                      f"{_size(i['smallest'])} / {_size(i['median'])} / {_size(i['largest'])}")  # fmt: skip
        table.add_row("modes", ", ".join(f"{m} {n}" for m, n in i["modes"].items()))
        table.add_row("formats", ", ".join(f"{m} {n}" for m, n in i["formats"].items()))
        table.add_row("resized to", f"{_size(i['resized_to'])} x {i['channels']} (bilinear, antialiased)")
        console.print(table)
    for line in summary_lines(p)[1:]:
        if "left out" in line or line.lstrip().startswith(("note:", "texts:", "arrays:")):
            console.print(line)
