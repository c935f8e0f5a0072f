"""SIGTERM and Ctrl-C that end a multi-worker process even while it is blocked in a collective.

Python runs signal handlers only between bytecodes, so a main thread stuck inside a TensorFlow
collective never runs them. Python's C-level handler still writes the signal number to the
wakeup fd from whichever thread the kernel picks; a small thread reads it, records the run as
interrupted and exits. Committed epochs are atomic folders, so a write in progress is simply not
there (its temp name is cleared at the next start).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
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


_held = 0
_pending: list[int] = []


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


def interrupt_on_signals() -> None:
    """SIGTERM (a scheduler, `kill`) and SIGHUP (a closed terminal) end single-process training as
    Ctrl-C does, with every committed epoch kept; inside `held()` any of them waits for the block's end.
    A signal the shell started mlcli ignoring (`nohup`, a background job's SIGINT) stays ignored."""

    def handler(signum, frame):
        if _held:
            _pending.append(signum)
            return
        _raise(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, handler)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """An epoch's commit runs whole: a Ctrl-C, SIGTERM or SIGHUP arriving inside (a backup written, its
    best.keras, last.keras and metrics.csv not yet) is raised when the block ends, so an interrupted run's
    files agree with each other, as a finished one's do. kill -9 is for resume to mend."""
    global _held
    _held += 1
    try:
        yield
    except BaseException:
        _pending.clear()
        raise
    finally:
        _held -= 1
    if not _held and _pending:
        signum = _pending[0]
        _pending.clear()
        _raise(signum)


def exit_code(exc: KeyboardInterrupt) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)
