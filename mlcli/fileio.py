"""Durable atomic writes: a reader sees the old file or the new one, never half of either.

Write to a temp name in the same folder, fsync it, rename over the target, fsync the folder.
Temp files get the mode a plain `open()` would (0666 & ~umask), so a team's shared `runs/`
stays readable; a killed writer leaves only `.*.tmp*` names, which `remove_stale_temps` clears.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMP_MARK = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open(path, 'w')` would give a new file under the current umask."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                with open(child, "rb+") as fh:
                    os.fsync(fh.fileno())
        for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
            fsync_dir(folder)
    elif path.is_file():
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())


def temp_path(path: Path, suffix: str = "") -> Path:
    """A fresh, unused temp name beside `path` that `remove_stale_temps` recognises."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


def atomic_write(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call `write(tmp)` (a file or a folder), make it durable, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, suffix or path.suffix)
    try:
        write(tmp)
        _fix_modes(tmp)
        _fsync_tree(tmp)
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _fix_modes(path: Path) -> None:
    """Give written files and folders umask-based modes (libraries such as mkstemp use 0600)."""
    if path.is_dir():
        os.chmod(path, dir_mode())
        for child in path.rglob("*"):
            os.chmod(child, dir_mode() if child.is_dir() else file_mode())
    elif path.exists():
        os.chmod(path, file_mode())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def atomic_copy(source: Path, target: Path) -> None:
    atomic_write(Path(target), lambda tmp: shutil.copyfile(source, tmp))


def remove_stale_temps(root: Path) -> list[Path]:
    """Delete temp files and folders a killed writer left anywhere below `root`; returns them."""
    root = Path(root)
    if not root.is_dir():
        return []
    stale = [p for p in root.rglob(f".*{TEMP_MARK}*") if p.name.startswith(".")]
    for path in sorted(stale, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale
