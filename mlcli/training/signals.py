"""SIGTERM and Ctrl-C that end a multi-worker process even while it is blocked in a collective.

Python runs signal handlers only between bytecodes, so a main thread stuck inside a TensorFlow
collective never runs them. Python's C-level handler still writes the signal number to the
wakeup fd from whichever thread the kernel picks; a small thread reads it, records the run as
interrupted and exits. Committed epochs are atomic folders, so a write in progress is simply not
there (its temp name is cleared at the next start).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from mlcli import rundir

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _noop(signum, frame) -> None:  # the wakeup fd, not this, does the work
    return None


def exit_cleanly_on_signals(run_dir: Path) -> None:
    """From the main thread, after TensorFlow has set up: SIGINT/SIGTERM exit with 130/143."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    for sig in _SIGNALS:
        signal.signal(sig, _noop)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def wait() -> None:
        received = os.read(read_fd, 1)[0]
        name = signal.Signals(received).name
        record = rundir.read_record(run_dir)
        if record:
            try:
                rundir.finish_record(run_dir, record, "interrupted", signal=name)
            except OSError:
                pass
        print(
            f"interrupted by {name}; committed epochs are kept in {run_dir}/backup "
            "(continue with `mlcli train --resume`)",
            file=sys.stderr,
            flush=True,
        )
        os._exit(130 if received == signal.SIGINT else 128 + received)

    threading.Thread(target=wait, name="mlcli-signals", daemon=True).start()


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C: training stops between steps, the run is
    recorded as interrupted, and the process exits 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupt_on_signals() -> None:
    """SIGTERM (a scheduler, `kill`) and SIGHUP (a closed terminal) end single-process training as
    Ctrl-C does, with every committed epoch kept."""

    def handler(signum, frame):
        raise Interrupted(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def exit_code(exc: KeyboardInterrupt) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)
