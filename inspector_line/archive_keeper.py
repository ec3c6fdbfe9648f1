"""The archive's housekeeping: it never fills the disk, and it keeps images as long as asked.

An archive (archive/<date>/OK|NG|ERROR|NO_VERDICT/<name>, inspector_line/sinks.py) grows by every part; on a
line that runs for months it fills the disk, and the line stops when its history can no longer be written. The
keeper works from its own thread (expiry) and from the archive's (archive_queue.py: room for the next image), so
no part waits for it:
- `--archive-keep-days D`: date folders older than D days are removed (at the start, then hourly);
- `--min-free` (default 5 % of the disk) is the floor of free space the line keeps. Before an image is written
  that would leave the disk within a tenth of it, the oldest archived images are removed until the disk has
  30 % more than the floor free besides that image: the oldest date first
  and, within a date, its OK images before its others (NG, ERROR, NOT_FOUND, NO_VERDICT), which a technician
  reviews. So an archive that fills its disk turns over without ever reaching the floor;
- below the floor (the keeper has found nothing left to remove, or the disk fills from elsewhere), new images
  are not archived until there is room again; the runner's disk alarm says so and verdicts go on.
Only the archive's own layout is touched: folders named YYYY-MM-DD and the verdict folders in them. An image
whose history row a reviewer marked (false reject / false accept) is never removed, by either rule: it is the
evidence the window teaches and calibrates from, and the history keeps its row too. When the marks cannot be
read (the history is locked or damaged), the pass removes nothing.

    keeper = ArchiveKeeper(root, keep_days=30, min_free="5%", on_message=print,
                           marked=history.marked_archive_paths)
    keeper.start()
    if keeper.room(size):       # before each image of `size` bytes is archived
        ...
    keeper.problem()            # None, or why images are not archived now (the disk alarm's text)
    keeper.close()
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable, Optional

from station.line_io.disk_space import MinFree, disk_space, size_text

from .sources import file_mtime

log = logging.getLogger(__name__)

DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
PRUNE_BELOW = 1.1  # times the floor: the keeper starts removing before the floor (and the disk alarm) is reached
REFILL = 1.3  # times the floor: where it stops, so that it does not run again at the next image
KEEP_DAYS_EVERY_S = 3600.0


class ArchiveKeeper:
    def __init__(self, root: str | Path, *, keep_days: Optional[float] = None, min_free=None,
                 on_message: Optional[Callable[[str], None]] = None, today: Callable[[], date] = date.today,
                 marked: Optional[Callable[[], Iterable[str]]] = None):
        self.root = Path(root)
        self.marked = marked  # where the marked rows' images were archived: they stay
        self.keep_days = keep_days
        self.min_free = MinFree.parse(min_free)
        self.on_message = on_message or (lambda text: None)
        self.today = today
        self.removed_files = 0
        self.removed_bytes = 0
        self.skipped = 0  # images not archived for want of room
        self._paused: Optional[str] = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()  # one pass at a time (the thread's, or a caller's prune())

    # -- the runner's side ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.prune()  # an archive left short by the last run is put right before the first part
        self._thread = threading.Thread(target=self._loop, name="archive-keeper", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def room(self, size: int = 0) -> bool:
        """Whether an image of `size` bytes may be archived now. Room is made first, at once, when writing it
        would leave the disk within a tenth of the floor: the caller is the archive's own thread, so no part
        waits for it, and one image never takes the disk below the floor, which the disk alarm watches."""
        if self.min_free.off:
            return True
        try:
            space = disk_space(self.root)
        except OSError:
            return True  # the archive's disk is gone: writing fails and the runner says so
        floor = self.min_free.bytes_on(space.total)
        if space.free - size < PRUNE_BELOW * floor:
            try:
                self.prune(need=size)
                space = disk_space(self.root)
            except Exception:  # housekeeping never stops the line: this image is not archived, and that is said
                log.exception("archive housekeeping failed")
        if space.free - size < floor:
            self.skipped += 1
            if self._paused is None:
                self._paused = (f"images are not archived: the disk holding the archive {self.root} has "
                                f"{size_text(space.free)} free, below the {self.min_free} kept free (its oldest "
                                "images are removed to make room; free space on that disk if none are left)")
                self.on_message(f"WARNING: {self._paused}")
            return False
        if self._paused is not None:
            self._paused = None
            self.on_message(f"archiving again: {self.skipped} images were not archived for want of room")
        return True

    def problem(self) -> Optional[str]:
        """Why images are not archived now (for the disk alarm), None while they are."""
        return self._paused

    # -- the keeper's side ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(KEEP_DAYS_EVERY_S)
            self._wake.clear()
            if not self._stop.is_set():
                try:
                    self.prune()
                except Exception:  # housekeeping never stops the line; the disk alarm still tells
                    log.exception("archive housekeeping failed")

    def prune(self, need: int = 0) -> tuple[int, int]:
        """One pass: the expired dates, then the oldest images while the disk, less `need` bytes about to be
        written, is within a tenth of its floor. Returns (files removed, bytes freed) by this pass."""
        with self._lock:
            files = freed = 0
            try:
                spared = self._spared()
            except Exception as exc:  # the marks are unknown: nothing goes this time (the disk alarm still tells)
                log.warning("archive housekeeping skipped: the reviewers' marks cannot be read (%s)", exc)
                return 0, 0
            if self.keep_days is not None:
                files, freed = self._remove_expired(spared)
            f, b = self._make_room(spared, need)
            files, freed = files + f, freed + b
            self.removed_files += files
            self.removed_bytes += freed
            return files, freed

    def _spared(self) -> set[tuple[str, ...]]:
        # An image is named by its date, verdict folder and file name, so that a relative --archive, or one
        # reached by another path, still matches the rows' paths.
        return {_name(path) for path in (self.marked() if self.marked is not None else ()) if path}

    def _dates(self) -> list[Path]:
        try:
            return sorted(p for p in self.root.iterdir() if p.is_dir() and DATE_FOLDER.fullmatch(p.name))
        except OSError:
            return []

    def _remove_expired(self, spared: set[tuple[str, ...]]) -> tuple[int, int]:
        oldest_kept = (self.today() - timedelta(days=self.keep_days)).isoformat()
        files = freed = 0
        for day in self._dates():
            if day.name >= oldest_kept:
                break
            for image in _images(day):
                if _name(image) not in spared:
                    size = _remove(image)
                    if size is not None:
                        files, freed = files + 1, freed + size
            _remove_empty(day)
        if files:
            self.on_message(f"archive: removed {files} images ({size_text(freed)}) older than {self.keep_days:g} "
                            "days (--archive-keep-days)")
        return files, freed

    def _make_room(self, spared: set[tuple[str, ...]], need: int = 0) -> tuple[int, int]:
        if self.min_free.off:
            return 0, 0
        space = disk_space(self.root)
        floor = self.min_free.bytes_on(space.total)
        if space.free - need >= PRUNE_BELOW * floor:
            return 0, 0
        target, free = REFILL * floor + need, space.free
        files = freed = 0
        today = self.today().isoformat()
        for day in self._dates():
            for image in _oldest_first(day):
                if _name(image) in spared:
                    continue
                size = _remove(image)
                if size is None:
                    continue
                files, freed, free = files + 1, freed + size, free + size
                if free >= target:
                    # What the removals freed is checked on the disk: it may have filled from elsewhere meanwhile
                    # (the history, on the same disk, grows by its whole checkpoint at once), and then more go.
                    free = disk_space(self.root).free
                    if free >= target:
                        break
            if day.name != today:  # today's folders stay: the runner may be creating one this moment
                _remove_empty(day)
            if free >= target:
                break
        if files:
            free_now = disk_space(self.root).free
            self.on_message(f"archive: removed the oldest {files} images ({size_text(freed)}) to keep "
                            f"{self.min_free} of the disk free ({size_text(free_now)} free now)")
        return files, freed


def _oldest_first(day: Path) -> list[Path]:
    """A date folder's images in the order they go: OK ones first, then the rest, each by time."""
    def by_time(folder: Path) -> list[Path]:
        try:
            found = [p for p in folder.iterdir() if p.is_file()]
        except OSError:
            return []
        return sorted(found, key=file_mtime)

    try:
        verdicts = sorted(p for p in day.iterdir() if p.is_dir())
    except OSError:
        return []
    ok = [p for p in verdicts if p.name == "OK"]
    return [image for folder in ok + [p for p in verdicts if p.name != "OK"] for image in by_time(folder)]


def _images(day: Path) -> list[Path]:
    try:
        return [p for p in day.rglob("*") if p.is_file()]
    except OSError:
        return []


def _name(path) -> tuple[str, ...]:
    return Path(path).parts[-3:]


def _remove(image: Path) -> Optional[int]:
    """Remove one archived image; its size, or None when it could not be removed."""
    try:
        size = image.stat().st_size
        image.unlink()
        return size
    except OSError:
        return None


def _remove_empty(day: Path) -> None:
    for folder in sorted(day.glob("**/"), key=lambda p: len(p.parts), reverse=True):  # the deepest first
        try:
            folder.rmdir()  # only empty ones go
        except OSError:
            pass


def archive_date(when: float) -> str:
    """The date folder a part archived at `when` (seconds since the epoch) goes into."""
    return datetime.fromtimestamp(when).strftime("%Y-%m-%d")


__all__ = ["ArchiveKeeper", "archive_date"]
