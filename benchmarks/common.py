"""What every benchmark shares: timing a command from outside, statistics, and results.json.

Every figure in README and RESULTS.md comes from `results.json`, and only these scripts write it:
each section is stored with the command line that produced it, the date, the machine, the versions
and the number of rounds, so a reader can rerun exactly that.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
EPOCH_LINE = re.compile(r"^epoch (\d+)\b")  # mlcli's plain progress and the baselines both print it


def machine() -> dict:
    cpu = platform.processor()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines() if ln.startswith("model name")), cpu
        )
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def versions() -> dict:
    found = {}
    for package in ("mlcli", "tensorflow", "keras", "keras-hub", "numpy", "ludwig", "torch"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def commit() -> str:
    """The code measured: git's HEAD, marked `+changes` when the working tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    outputs = [":!benchmarks/results.json", ":!benchmarks/RESULTS.md", ":!README.md"]  # what benchmarks write
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no", "--", ".", *outputs) else "")


def spread(values: list[float]) -> dict:
    """Median, min and max: the only summary the README quotes."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


@dataclass
class Timed:
    """One process, timed from outside: when each `epoch K` line arrived, total wall, peak RSS."""

    wall_s: float
    peak_rss_mib: float
    epoch_ends: dict[int, float] = field(default_factory=dict)
    stdout: str = ""

    def rate(self, samples_per_epoch: int) -> float:
        """Samples/s over epochs 2..N: everything the program does per epoch after the first."""
        last = max(self.epoch_ends)
        return (last - 1) * samples_per_epoch / (self.epoch_ends[last] - self.epoch_ends[1])


def timed(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> Timed:
    """Run `cmd`, stamping each epoch line as it is printed; the peak RSS is the child's own (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )  # fmt: skip
    ends, lines = {}, []
    for line in proc.stdout:
        now = time.perf_counter()
        lines.append(line)
        match = EPOCH_LINE.match(line)
        if match:
            ends[int(match.group(1))] = now - start
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{shlex.join(cmd)} exited {os.waitstatus_to_exitcode(status)}:\n{''.join(lines)[-2000:]}")
    return Timed(wall, usage.ru_maxrss / 1024, ends, "".join(lines))


def abba(sides: list[str], rounds: int) -> list[list[str]]:
    """Side order per round: A B C, then C B A, ... so slow drift of a shared host hits every side alike."""
    return [sides if r % 2 == 0 else sides[::-1] for r in range(rounds)]


def record(section: str, results: dict, rounds: int | None = None, replaces: tuple[str, ...] = ()) -> None:
    """Store one section in results.json with what is needed to rerun and believe it (dropping the
    sections it `replaces`, an older layout of the same measurement)."""
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for old in replaces:
        data.pop(old, None)
    data[section] = {
        "command": shlex.join(["python", os.path.relpath(Path(sys.argv[0]).resolve(), ROOT), *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(),
        "commit": commit(),
        "rounds": rounds,
        "results": results,
    }
    RESULTS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote section {section!r} of {RESULTS.relative_to(ROOT)}", flush=True)
