"""One run at a time per history: a lock file next to it, taken before anything is printed or inspected."""

from __future__ import annotations

from pathlib import Path

from station.history import HistoryError


def acquire_run_lock(history_path: Path):
    """The held FileLock for `history_path`; HistoryError naming the history when another run holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(history_path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise HistoryError(f"another run is already recording into {history_path}; stop it first "
                           "(two runs on one history would inspect parts twice)") from None
    except OSError as exc:
        raise HistoryError(f"cannot lock {history_path}: {exc.strerror or exc}") from None
    return lock
