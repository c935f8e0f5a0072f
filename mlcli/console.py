"""Standard output that survives its reader going away: `mlcli train ... | head -1`, or a pager quit,
stops the printing, never the training."""

from __future__ import annotations

import errno
import io
import os
import sys


class _ReaderMayLeave(io.TextIOBase):
    def __init__(self, stream):
        self.stream = stream
        self.gone = False

    def _closed(self) -> None:
        self.gone = True
        try:  # later writes and the interpreter's last flush go nowhere, quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                self._closed()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                self._closed()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    def writable(self) -> bool:
        return True


def survive_closed_stdout() -> None:
    if not isinstance(sys.stdout, _ReaderMayLeave) and sys.stdout is not None:
        sys.stdout = _ReaderMayLeave(sys.stdout)
