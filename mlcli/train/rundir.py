"""Run directories: creation, the resolved config, run.json, and atomic writes.

Every file a run writes goes through `atomic_write_*` (temp file in the same folder, then
`os.replace`), so a crash or SIGKILL never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlcli import __version__
from mlcli.errors import UserError

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
SPEC_FILE = "data_spec.json"


def atomic_write(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call `write(tmp_path)` then rename over `path`; the temp file is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def new_run_dir(name: str, root: Path = Path("runs")) -> Path:
    """`runs/<name>/<timestamp>`, made unique if two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = root / name / stamp
    n = 2
    while candidate.exists():
        candidate = root / name / f"{stamp}-{n}"
        n += 1
    return candidate


def claim_run_dir(path: Path, resume: bool) -> Path:
    """Create the run directory; an existing non-empty one is refused unless resuming."""
    path = Path(path)
    if resume:
        if not (path / CONFIG_FILE).is_file():
            raise UserError(f"{path}: not a run directory to resume (no {CONFIG_FILE})")
        return path
    if path.exists() and any(path.iterdir()):
        raise UserError(
            f"{path}: run directory already exists and is not empty; use --resume to continue it "
            "or choose another --run-dir"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "mlcli": __version__}
    for module in ("tensorflow", "keras", "tensorflow_datasets", "numpy"):
        mod = sys.modules.get(module)
        if mod is not None:
            out[module] = getattr(mod, "__version__", "?")
    return out


def start_record(run_dir: Path, seed: int, argv: list[str], device: dict, resumed: bool) -> dict:
    """The run.json written at start; `finish_record` adds status and end time."""
    path = Path(run_dir) / RUN_FILE
    previous = json.loads(path.read_text()) if resumed and path.is_file() else {}
    record = {
        "versions": versions(),
        "seed": seed,
        "command": argv,
        "cwd": os.getcwd(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "device": device,
        "status": "running",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "attempts": previous.get("attempts", [])
        + ([{k: previous.get(k) for k in ("started", "ended", "status")}] if previous else []),
    }
    atomic_write_json(path, record)
    return record


def finish_record(run_dir: Path, record: dict, status: str, **extra: Any) -> None:
    record.update(status=status, ended=datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra)
    atomic_write_json(Path(run_dir) / RUN_FILE, record)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
