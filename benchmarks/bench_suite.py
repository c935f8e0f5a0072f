"""The test suite as CI runs it: a fresh clone of HEAD, its install, `make test`, then `make test-fast`.

Issue 24's target is `make test` under 10 minutes from a fresh clone on 2 cores, install included, and
`make test-fast` under 2 minutes. The install is timed apart (`make .venv/.installed-dev`, what `make test`
does first); uv's download cache is whatever this machine has, as CI's is. `.ci/run` also installs
chromium when it is missing (not timed here: it is there on a machine that ran it once).

python benchmarks/bench_suite.py [--rounds 1]    (each step's output: $TMPDIR/mlcli-suite-logs/)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, record, spread

LOGS = Path(tempfile.gettempdir()) / "mlcli-suite-logs"  # kept after the clone is gone: why a test failed


def timed_make(target: str, clone: Path) -> tuple[float, int, str, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run(["make", target], cwd=clone, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    LOGS.mkdir(exist_ok=True)
    (LOGS / f"{target.replace('/', '_')}.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    lines = proc.stdout.splitlines()
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), "")
    failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")]
    return elapsed, proc.returncode, summary.strip("= "), failed


def one_round(scratch: Path) -> dict:
    clone = scratch / "clone"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    row = {}
    for name, target in (("install", ".venv/.installed-dev"), ("make test", "test"), ("make test-fast", "test-fast")):
        seconds, code, summary, failed = timed_make(target, clone)
        row[name] = {"seconds": seconds, "exit_code": code, "summary": summary, "failed": failed}
        print(f"{name}: {seconds:.0f} s, exit {code}  {summary}  {' '.join(failed)}", flush=True)
    row["install + make test"] = {"seconds": row["install"]["seconds"] + row["make test"]["seconds"]}
    return row


def main(rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mlcli-suite-") as scratch:
        rows = [one_round(Path(scratch)) for _ in range(rounds)]
    results = {name: {"seconds": spread([r[name]["seconds"] for r in rows])} for name in rows[0]}
    for name in ("install", "make test", "make test-fast"):
        results[name]["exit_codes"] = [r[name]["exit_code"] for r in rows]
        results[name]["summaries"] = [r[name]["summary"] for r in rows]
        results[name]["failed"] = sorted({f for r in rows for f in r[name]["failed"]})
    for name, r in results.items():
        s = r["seconds"]
        print(f"{name}: median {s['median']:.0f} s (min {s['min']:.0f}, max {s['max']:.0f}; {rounds} rounds)")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    record("suite", main(args.rounds), rounds=args.rounds)
