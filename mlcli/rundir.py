"""A run directory's layout and lifecycle: claim it, lock it, record the run, its metrics.csv.

Layout (README, *Run directory*): config.yaml, run.json, data_spec.json, metrics.csv, summary.json,
checkpoints/{best,last}.keras, backup/epoch-NNNNNN/ (the resume state). One process at a time
holds a run directory, through an advisory lock that the kernel drops if the process dies.
Imports no TensorFlow: `mlcli runs` reads run directories too (`mlcli.inference.run` opens one to
load a checkpoint).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import platform
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlcli import __version__
from mlcli.errors import UserError
from mlcli.fileio import anchor, atomic_write_json, atomic_write_text, remove_stale_temps, unanchor

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
SPEC_FILE = "data_spec.json"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
LOCK_FILE = ".lock"
WORKERS_DIR = "workers"
CHECKPOINTS = "checkpoints"

ENVIRONMENT_RECORDED = ("TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")

_held_locks: dict[Path, int] = {}



def not_a_run_dir(path: Path, purpose: str = "", hint: str = "") -> UserError:
    """The error for a path given as a run directory: a typo'd path is said to be missing, not to lack a file."""
    if not Path(path).exists():
        return UserError(f"{path}: no such directory{hint}")
    return UserError(f"{path}: not a run directory{' ' + purpose if purpose else ''} (no {CONFIG_FILE}){hint}")


def new_run_dir(name: str, root: Path = Path("runs")) -> Path:
    """`runs/<name>/<timestamp>`, made unique if two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = root / name / stamp
    n = 2
    while candidate.exists():
        candidate = root / name / f"{stamp}-{n}"
        n += 1
    return candidate


def lock_run_dir(path: Path) -> None:
    """Hold `path/.lock` for this process's lifetime; a second process gets exit 2, not a clobber."""
    path = Path(path)
    if path.resolve() in _held_locks:
        return
    if str(path.resolve()).startswith(("/proc/", "/sys/", "/dev/")):
        raise UserError(f"{path}: not a place for a run directory (a system folder); choose another --run-dir")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{path}: cannot create the run directory ({exc.strerror or exc})") from None
    try:  # the folder first, by descriptor: a symlink swapped in after the mkdir is refused, never followed
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise UserError(f"{path}: not a plain directory ({exc.strerror}); choose another --run-dir") from None
    try:  # O_NOFOLLOW: a symlink planted as .lock is refused, never followed
        fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666, dir_fd=dir_fd)
    except OSError as exc:
        os.close(dir_fd)
        raise UserError(f"{path}: cannot lock the run directory ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        os.close(dir_fd)
        raise UserError(f"{path}: another mlcli process is using this run directory; wait for it to end "
                        "(then --resume continues it) or choose another --run-dir") from None
    _held_locks[path.resolve()] = fd
    anchor(path, dir_fd)  # every later write below it goes through this descriptor


def held_by_a_process(run_dir: Path) -> bool:
    """Whether an mlcli process holds the run's lock right now (the kernel drops it when one dies)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def release_run_dir(path: Path) -> None:
    unanchor(path)
    fd = _held_locks.pop(Path(path).resolve(), None)
    if fd is not None:
        os.close(fd)


def claim_run_dir(path: Path, resume: bool, shared_with_workers: bool = False) -> Path:
    """Lock the run directory; a new run needs it empty (a multi-worker chief ignores `workers/`)."""
    path = Path(path)
    if resume:
        if not (path / CONFIG_FILE).is_file():
            raise not_a_run_dir(path, "to resume")
        lock_run_dir(path)
        # a multi-worker chief's workers/worker-N are the other workers' own run directories, locked and
        # cleaned by them: removing their temporaries here raced with their first writes
        remove_stale_temps(path, skip=(WORKERS_DIR,))
        return path
    ignored = {LOCK_FILE} | ({WORKERS_DIR} if shared_with_workers else set())
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: exists and is not a directory; choose another --run-dir")

    def taken() -> bool:
        return path.is_dir() and any(p.name not in ignored for p in path.iterdir())

    if taken():  # refused before anything is written into someone's folder (not even a .lock)
        if path.resolve() not in _held_locks and held_by_a_process(path):  # another process, not this one
            raise UserError(f"{path}: another mlcli process is training in this run directory; wait for it or "
                            "choose another --run-dir")  # fmt: skip
        raise UserError(f"{path}: run directory already exists and is not empty; use --resume to continue it "
                        "or choose another --run-dir")  # fmt: skip
    had_lock = (path / LOCK_FILE).exists()
    lock_run_dir(path)
    if taken():  # another process got there between the look and the lock
        release_run_dir(path)
        if not had_lock:
            (path / LOCK_FILE).unlink(missing_ok=True)
        raise UserError(f"{path}: another run started in this directory just now; choose another --run-dir")
    return path


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "mlcli": __version__}
    for module in ("tensorflow", "keras", "tensorflow_datasets", "numpy"):
        mod = sys.modules.get(module)
        if mod is not None:
            out[module] = getattr(mod, "__version__", "?")
    return out


def read_record(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def start_record(run_dir: Path, seed: int, argv: list[str], device: dict, resumed: bool) -> dict:
    """The run.json written at start; `finish_record` adds status and end time."""
    previous = read_record(run_dir) if resumed else {}
    record = {
        "versions": versions(),
        "seed": seed,
        "command": argv,
        "cwd": os.getcwd(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "platform": platform.platform(),
        "device": device,
        # numerics-relevant settings of this process (oneDNN is off for deterministic runs, see tfenv)
        "environment": {k: os.environ.get(k) for k in ENVIRONMENT_RECORDED},
        "status": "running",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "attempts": previous.get("attempts", []) + ([_ended_attempt(run_dir, previous)] if previous else []),
    }
    atomic_write_json(Path(run_dir) / RUN_FILE, record)
    return record


def _ended_attempt(run_dir: Path, previous: dict) -> dict:
    """The attempt before this one. One still `running` was killed (this process holds the lock now): it
    ended at its last write, so `runs` can add its time to the others' (marked `wall_time_estimated`)."""
    attempt = {k: previous.get(k) for k in ("started", "ended", "status", "wall_time_s")}
    if attempt["status"] != "running" or not attempt["started"]:
        return attempt
    last = max((p.stat().st_mtime for p in Path(run_dir).rglob("*") if p.is_file() and p.name != LOCK_FILE),
               default=None)  # fmt: skip
    began = datetime.fromisoformat(attempt["started"]).timestamp()
    if last is None or last < began:
        return {**attempt, "status": "killed"}
    ended = datetime.fromtimestamp(last, timezone.utc).isoformat(timespec="seconds")
    return {**attempt, "status": "killed", "ended": ended, "wall_time_s": round(last - began, 3),
            "wall_time_estimated": True}  # fmt: skip


def finish_record(run_dir: Path, record: dict, status: str, **extra: Any) -> None:
    record.update(status=status, ended=datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra)
    atomic_write_json(Path(run_dir) / RUN_FILE, record)


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_metrics(run_dir: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(run_dir) / METRICS_FILE, buf.getvalue())


class Stopwatch:
    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


# ---- the resume checkpoints' record (read without TensorFlow; written by mlcli.training.checkpoint) ----

BACKUP_DIR = "backup"
STATE_FILE = "state.json"


def backup_dirs(run_dir: Path) -> list[Path]:
    """Complete epoch folders, oldest first (temp folders of a killed write are not listed)."""
    root = Path(run_dir) / BACKUP_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("epoch-*") if p.is_dir() and (p / STATE_FILE).is_file())


def epochs_saved(run_dir: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in backup_dirs(run_dir)]


def _damage(folder: Path) -> str | None:
    """What is corrupt in a committed epoch folder (a disk error, a copy gone wrong), or None."""
    import zipfile

    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        if not isinstance(state, dict) or "epoch" not in state:
            return f"{STATE_FILE} has no epoch"
    except (OSError, ValueError) as exc:
        return f"{STATE_FILE} is unreadable ({exc})"
    for name in ("model.keras", "rng.npz"):
        try:
            with zipfile.ZipFile(folder / name) as archive:
                bad = archive.testzip()
            if bad is not None:
                return f"{name} is corrupt (its member {bad} fails its checksum)"
        except (OSError, zipfile.BadZipFile) as exc:
            return f"{name} is corrupt ({exc})"
    return None


def read_state(run_dir: Path, epoch: int | None = None) -> dict | None:
    """The newest committed epoch's state.json (or epoch `epoch`'s), with `_dir` naming its folder. A
    corrupt newest folder falls back to the one before it (the reason two are kept), with a warning."""
    dirs = backup_dirs(run_dir)
    if epoch is not None:
        dirs = [d for d in dirs if int(d.name.split("-")[1]) == epoch]
    for folder in reversed(dirs):
        problem = _damage(folder)
        if problem is None:
            state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            state["_dir"] = str(folder)
            return state
        print(f"warning: {folder}: {problem}; resuming from the epoch before it", file=sys.stderr, flush=True)
    return None


# ---- outputs of other commands never land on a run's own files ---------------------------------------

RESERVED = (CONFIG_FILE, RUN_FILE, SPEC_FILE, METRICS_FILE, SUMMARY_FILE, "eval.json", LOCK_FILE, CHECKPOINTS,
            BACKUP_DIR, WORKERS_DIR, "tensorboard", "plots", "quality", "train.log")  # fmt: skip


def check_output(
    path: Path, *, suffixes: tuple[str, ...] | None = None, force: bool = False, folder: bool = False
) -> Path:
    """Refuse (exit 2) an output path that is one of a run directory's own files or folders (or inside
    one), an existing one unless `force`, a folder where a file is written, or a name without one of
    `suffixes`."""
    path = Path(path)
    resolved = path.resolve()
    for parent in resolved.parents:
        if (parent / CONFIG_FILE).is_file() and ((parent / RUN_FILE).is_file() or (parent / SPEC_FILE).is_file()):
            part = resolved.relative_to(parent).parts[0]
            if part in RESERVED:
                raise UserError(f"{path}: that is the run's own {part}; write outputs elsewhere, e.g. {parent}/export/")
            break
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"{path}: the name must end in {' or '.join(suffixes)}")
    if path.is_dir() and not folder:
        raise UserError(f"{path}: is a folder; give a file name")
    if path.exists() and not force:
        raise UserError(f"{path}: already exists; choose another name or pass --force")
    return path
