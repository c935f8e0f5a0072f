"""Durable atomic writes that cannot be redirected: a reader sees the old file or the new one, never
half of either, and nobody else can make mlcli write anywhere but the target.

Every write goes into a private temp folder created beside the target (mode 0700, so no other user can
create, replace or plant a symlink inside it) and is reached only through that folder's open
descriptor (`/proc/self/fd/N/...`), so renaming or replacing the folder's *name* — possible in a
group-writable `runs/` — changes nothing. The file is fsynced, given the mode a plain `open()` would
give it (0666 & ~umask, so a team's shared `runs/` stays readable), and renamed over the target with
`renameat` (which never follows a symlink at the target); then the folder is fsynced. A killed writer
leaves only `.NAME.tmp-*` folders, which `remove_stale_temps` clears.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMP_MARK = ".tmp-"
PROC_FD = Path("/proc/self/fd")
_ANCHORS: dict[str, int] = {}  # absolute path of a held run directory → its open descriptor


def anchor(path: Path, fd: int | None = None) -> None:
    """Reach everything below `path` (a folder this process holds: a run directory, its TensorBoard
    folder) through its open descriptor `fd` (opened here when not given) from now on: renaming it, or
    putting a symlink in its place, cannot redirect a single write."""
    key = os.path.abspath(path)
    if key in _ANCHORS or not PROC_FD.is_dir():
        if fd is not None:
            os.close(fd)
        return
    _ANCHORS[key] = fd if fd is not None else os.open(key, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def unanchor(path: Path) -> None:
    """Let go of `path` and of every folder held below it."""
    key = os.path.abspath(path)
    for held in [k for k in _ANCHORS if k == key or k.startswith(key + os.sep)]:
        os.close(_ANCHORS.pop(held))


def through_anchor(path: Path) -> Path:
    """`path` as this process reaches it: through the descriptor of the held run directory above it."""
    absolute = os.path.abspath(path)
    for key, fd in sorted(_ANCHORS.items(), key=lambda kv: -len(kv[0])):
        if absolute == key or absolute.startswith(key + os.sep):
            rest = os.path.relpath(absolute, key)
            return PROC_FD / str(fd) if rest == "." else PROC_FD / str(fd) / rest
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open(path, 'w')` would give a new file under the current umask."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def fsync_dir(path: Path | int) -> None:
    """Make a rename inside `path` (a path or an open descriptor) durable; a no-op where it cannot."""
    try:
        fd = path if isinstance(path, int) else os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        if not isinstance(path, int):
            os.close(fd)


def _settle(path: Path) -> None:
    """Umask-based modes (libraries such as mkstemp use 0600) and fsync, for a file or a whole tree. Every
    path here is inside the private folder, where nothing can be swapped under us."""
    if path.is_dir():
        for folder, dirs, files in os.walk(path):
            for name in files:
                child = Path(folder) / name
                os.chmod(child, file_mode())
                with open(child, "rb+") as fh:
                    os.fsync(fh.fileno())
            for name in dirs:
                os.chmod(Path(folder) / name, dir_mode())
            fsync_dir(Path(folder))
        os.chmod(path, dir_mode())
    elif path.exists():
        os.chmod(path, file_mode())
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())


class PrivateFolder:
    """A 0700 folder beside a target, held by an open descriptor; paths inside go through /proc/self/fd."""

    def __init__(self, parent_fd: int, base: str):
        self.parent_fd = parent_fd
        for _ in range(100):
            self.name = f".{base}{TEMP_MARK}{secrets.token_hex(4)}"
            try:
                os.mkdir(self.name, 0o700, dir_fd=parent_fd)
                fd = os.open(self.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
            except OSError as exc:
                # a name taken, or (in a shared folder) swapped by another user for a symlink before it
                # was opened, which O_NOFOLLOW refuses: take a fresh name rather than fail the write
                if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.ENOENT, errno.ELOOP):
                    continue
                raise
            if os.fstat(fd).st_uid == os.geteuid():  # ours, not a folder someone renamed into its place
                self.fd = fd
                return
            os.close(fd)
        raise OSError(errno.EEXIST, "could not create a private temporary folder in 100 tries")

    def path(self, name: str) -> Path:
        return PROC_FD / str(self.fd) / name

    def close(self) -> None:
        """Remove what is left inside (after a failed write), then the folder itself, by descriptor."""
        try:
            for name in os.listdir(self.fd):
                try:
                    os.unlink(name, dir_fd=self.fd)
                except IsADirectoryError:
                    shutil.rmtree(name, dir_fd=self.fd, ignore_errors=True)
                except OSError:
                    shutil.rmtree(name, dir_fd=self.fd, ignore_errors=True)
            os.rmdir(self.name, dir_fd=self.parent_fd)  # fails harmlessly if the name was swapped
        except OSError:
            pass
        finally:
            os.close(self.fd)


def _open_folder(folder: Path) -> int:
    """A descriptor of `folder`: the held run directory's own (duplicated) when it is one, else opened with
    O_NOFOLLOW, so a symlink planted in place of the target's folder is refused, never followed."""
    if folder.parent == PROC_FD:  # /proc/self/fd/N itself is a link to the held directory
        return os.dup(int(folder.name))
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def atomic_write(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call `write(tmp)` (it makes a file or a folder at `tmp`), make it durable, then rename it over `path`.

    `suffix` is kept for callers; the temporary keeps the target's own name, so libraries that check a
    file name (Keras wants `.keras`) see the right one.
    """
    path = through_anchor(Path(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not PROC_FD.is_dir():  # not Linux: a private folder by name (still never a shared temp name)
        return _atomic_write_by_name(path, write)
    try:
        parent_fd = _open_folder(path.parent)
    except OSError as exc:
        raise OSError(exc.errno, f"{path.parent}: cannot write here ({exc.strerror})") from None
    try:
        private = PrivateFolder(parent_fd, path.name)
        try:
            inner = private.path(path.name)
            write(inner)
            _settle(inner)
            if inner.is_dir() and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)  # a directory target (a backup epoch rewritten): replace it whole
            os.replace(path.name, path.name, src_dir_fd=private.fd, dst_dir_fd=parent_fd)
            fsync_dir(parent_fd)
        finally:
            private.close()
    finally:
        os.close(parent_fd)


def _atomic_write_by_name(path: Path, write: Callable[[Path], None]) -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}{TEMP_MARK}", dir=path.parent))
    try:
        inner = folder / path.name
        write(inner)
        _settle(inner)
        if inner.is_dir() and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(inner, path)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(Path(path), lambda p: p.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def atomic_link(source: Path, target: Path) -> None:
    """`target` replaced atomically by a hard link to the (durable) `source`: the same bytes without
    copying them; a copy where the filesystem has no hard links or `source` is on another one."""

    def link(tmp: Path) -> None:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)

    atomic_write(Path(target), link)


def own_folder(path: Path, subfolders: tuple[str, ...] = ()) -> Path:
    """A folder below a held run directory for a library that writes files by name (TensorBoard): made
    here, with its `subfolders`, writable by this user alone (so nobody can swap a name inside it),
    refused if something else (a symlink, another user's folder) is in its place, and held by descriptor;
    the returned path reaches it through that descriptor."""
    target = through_anchor(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    parent_fd = _open_folder(target.parent)
    try:
        fd = _own_child(parent_fd, target.name, path)
    finally:
        os.close(parent_fd)
    for name in subfolders:
        os.close(_own_child(fd, name, Path(path) / name))
    anchor(Path(path), fd)
    return through_anchor(Path(path))


def _own_child(parent_fd: int, name: str, shown: Path) -> int:
    mode = dir_mode() & ~0o022
    try:
        os.mkdir(name, mode, dir_fd=parent_fd)
    except FileExistsError:
        pass
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError as exc:
        raise OSError(errno.EPERM, f"{shown}: not a plain folder ({exc.strerror}); refusing to write into it") from None
    if os.fstat(fd).st_uid != os.geteuid():
        os.close(fd)
        raise OSError(errno.EPERM, f"{shown}: another user's folder; refusing to write into it")
    os.fchmod(fd, mode)
    return fd


def remove_tree(path: Path) -> None:
    """Delete the folder `path` below a held directory, resolving its parent without following symlinks."""
    path = through_anchor(Path(path))
    try:
        parent_fd = _open_folder(path.parent)
    except OSError:
        return
    try:
        shutil.rmtree(path.name, dir_fd=parent_fd, ignore_errors=True)
    finally:
        os.close(parent_fd)


def remove_stale_temps(root: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Delete temp folders (and files, from earlier versions) a killed writer left below `root`, leaving
    alone the folders named in `skip` (other processes' directories, which they clean themselves)."""
    root = through_anchor(Path(root))
    if not root.is_dir():
        return []
    stale = [p for p in root.rglob(f".*{TEMP_MARK}*")
             if p.name.startswith(".") and not set(skip) & set(p.relative_to(root).parts[:-1])]  # fmt: skip
    for path in sorted(stale, key=lambda p: len(p.parts), reverse=True):
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
    return stale
