"""`--log FILE` (inspector run, inspector serve): every line the command prints, time-stamped, also in a file that
rotates (10 MB, 5 older ones kept: at most 60 MB).

Under systemd the journal keeps what a line PC's run said last night; Windows' Task Scheduler keeps nothing, and a
console window closed by someone is gone with its lines. The history keeps every part and the alarm history every
alarm; this keeps the rest a technician asks about: the model switched, the source folder gone and back, a receiver
that did not answer, the warnings. Lines printed from any thread go in whole (each thread's text is collected up
to its end of line), so two threads never share a line. A file that cannot be written (a full disk) never stops
the command: the console says so once and keeps every line.
"""

from __future__ import annotations

import logging
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Callable

from inference import plain_os_error

MAX_BYTES = 10_000_000
BACKUPS = 5


class _LogFile(RotatingFileHandler):
    def __init__(self, path: Path, console):
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        self.console, self.failing = console, False

    def handleError(self, record: logging.LogRecord) -> None:
        # Said on the console itself, once: logging's own report would be printed, teed and fail again.
        if not self.failing and self.console is not None:
            self.failing = True
            error = sys.exc_info()[1]
            self.console.write(f"WARNING: the log file {self.baseFilename} cannot be written ({error}); the console "
                               "still gets every line\n")
            self.console.flush()


class _Tee:
    """A text stream that writes through to `stream` and hands each whole line to `log`."""

    def __init__(self, stream, log: logging.Handler):
        self.stream, self.log = stream, log
        self._pending = threading.local()

    def write(self, text: str) -> int:
        # No console at all (a windowed launcher, a service without one): the file still gets the line.
        n = self.stream.write(text) if self.stream is not None else len(text)
        buffered = getattr(self._pending, "text", "") + text
        *lines, self._pending.text = buffered.split("\n")
        for line in lines:
            if line.strip():
                self.log.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO,
                                                       "levelname": "INFO"}))
        return n

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()

    def __getattr__(self, name):  # isatty, encoding, fileno, ...: the console's own
        return getattr(self.stream, name)


def log_file(path, fmt: str = "%(asctime)s %(message)s") -> logging.Handler:
    """The rotating log file at `path`, as a logging handler (`inspector serve` hangs it on its root logger);
    InspectorError naming the file when it cannot be opened (a missing folder, no permission)."""
    path = Path(path)
    try:
        handler = _LogFile(path, sys.stderr)
    except OSError as exc:
        raise plain_os_error(exc, path, "open the log file") from None
    handler.setFormatter(logging.Formatter(fmt))
    return handler


def tee_console(path) -> Callable[[], None]:
    """From now on, also write every line printed on stdout and stderr to `path` (rotated); returns the undo.
    InspectorError naming the file when it cannot be opened."""
    log = log_file(path)
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)

    def undo() -> None:
        sys.stdout, sys.stderr = out, err
        try:
            log.close()
        except (OSError, ValueError):  # its last flush, to a disk still full: said already, if it failed before
            pass

    return undo


__all__ = ["BACKUPS", "MAX_BYTES", "log_file", "tee_console"]
