"""The state behind the backup_due alarm (station.line_io.alarms): whether each project of the line has a recent
backup in the backup folder.

A line runs for months while its nightly backup may fail unseen (the share not mounted, its disk full, the timer
never enabled); the day the PC's disk dies, the project dies with it. So the line looks at the backup folder
itself, as `inspector backup PROJECT DIR` (and the nightly unit, packaging/linux/) fills it: each project's
newest PROJECT-DATE-TIME.zip must be younger than the interval. A backup still being written has a temp name
and does not count; one that was never read back whole never took its name.

The folder is often a network share, which can hang for minutes: it is looked at from a thread of its own,
every CHECK_S, and a look that has not come back after HUNG_S is itself the problem. `problem()` never touches
the folder, so the line's loop that asks never waits on it.

    watch = BackupWatch("/mnt/backups", ["bottle"], every_s=26 * 3600)
    watch.start(); watch.problem()  # None, or "no backup of bottle in /mnt/backups for 31.0 h (...)"
    watch.close()
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, Sequence

from .backup import backup_taken, backups_of

CHECK_S = 60.0
HUNG_S = 30.0
DEFAULT_EVERY_S = 26 * 3600.0  # a nightly backup, and two hours for a late or slow one


def _age(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}" if unit != "min" else f"{seconds / size:.0f} min"
    return f"{seconds:.0f} s"


class BackupWatch:
    def __init__(self, folder: str | Path, projects: Sequence[str], every_s: Optional[float] = None, *,
                 check_s: Optional[float] = None, hung_s: float = HUNG_S, now: Callable[[], datetime] = datetime.now):
        """`projects`: the names of the project folders whose backups must be there (the run's recipes, or the
        service's project); `every_s`: how recent the newest must be (None: DEFAULT_EVERY_S); `now`: the local
        time (backup names are in local time)."""
        self.folder, self.projects = Path(folder), list(projects)
        self.every_s = DEFAULT_EVERY_S if every_s is None else float(every_s)
        self.check_s, self.hung_s, self.now = CHECK_S if check_s is None else check_s, hung_s, now
        self._lock = threading.Lock()
        self._problem: Optional[str] = None  # the last look's; None before the first
        self._looking_since: Optional[float] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def look(self) -> Optional[str]:
        """Look at the folder now (the thread does, every check_s); what is wrong, or None."""
        with self._lock:
            self._looking_since = time.monotonic()
        try:
            problem = self._look()
        finally:
            with self._lock:
                self._looking_since = None
        with self._lock:
            self._problem = problem
        return problem

    def _look(self) -> Optional[str]:
        interval = _age(self.every_s)
        try:
            if not self.folder.is_dir():
                if self.folder.exists():
                    return f"the backup folder {self.folder} is a file, not a folder"
                return f"the backup folder {self.folder} is not there (a share not mounted, a disk not attached?)"
            stale = []
            for name in self.projects:
                newest = (backups_of(self.folder, name) or [None])[-1]
                taken = backup_taken(newest) if newest is not None else None
                if taken is None:
                    stale.append(f"no backup of {name} in {self.folder}")
                    continue
                age = (self.now() - taken).total_seconds()
                if age > self.every_s:
                    stale.append(f"no backup of {name} in {self.folder} for {_age(age)} (the newest: {newest.name})")
        except OSError as exc:
            return f"the backup folder {self.folder} cannot be read ({exc.strerror or exc})"
        return f"{'; '.join(stale)}; backups are due every {interval}" if stale else None

    def problem(self) -> Optional[str]:
        """What is wrong with the backups as last seen, without looking at the folder."""
        with self._lock:
            since, problem = self._looking_since, self._problem
        if since is not None and time.monotonic() - since > self.hung_s:
            return f"the backup folder {self.folder} has not answered for {time.monotonic() - since:.0f} s"
        return problem

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="backup-watch", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self.look()
            if self._stop.wait(self.check_s):
                return

    def close(self) -> None:
        """Stop looking; a look hung on the folder is left to end on its own (its thread is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


__all__ = ["BackupWatch", "DEFAULT_EVERY_S"]
