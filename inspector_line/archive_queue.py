"""The run's archiving, in a thread of its own: an archive that is slow or hangs (a network share gone unresponsive,
a disk that stalls) never holds up the line.

Before, the run's own thread copied each image into the archive after the part's answer, so a share that hung
in the middle of a copy stopped the line: no next Trigger was taken, and the Heartbeat stood still. Now the run
hands each image over and goes on; the thread archives them in order and records where in each part's history
row. While images wait longer than STALLED_S, or more than MAX_WAITING of them (or MAX_WAITING_BYTES of frames
or uploads) wait (those further are not archived, and that is counted), `problem()` says so and the disk alarm
rises. On a stop the images still waiting
are archived for up to DRAIN_S; an image left over (or dropped, or in flight at a crash) stays owed in its history
row, and the next start archives it while its file is still in the watched folder (run_archive.py).

    archiving = ArchiveQueue(archiver, record=history.set_archive_path, on_message=print)
    archiving.put(image, name, verdict, when, row_id)   # returns at once
    archiving.problem()                                  # None, or why images are not being archived
    archiving.close()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from inference import InspectorError

from .sinks import Archiver, held_bytes

log = logging.getLogger(__name__)

MAX_WAITING = 2000  # images handed over and not yet archived, at most (a few minutes of a fast line)
MAX_WAITING_BYTES = 512 * 2 ** 20  # and of frames' pixels or uploads' bytes (held in memory until written)
STALLED_S = 30.0  # the oldest image waiting this long: the archive does not keep up (the disk alarm says so)
DRAIN_S = 30.0  # on a stop, the images still waiting are archived for this long at most


class ArchiveQueue:
    def __init__(self, archiver: Archiver, record: Callable[[int, Path], None],
                 on_message: Optional[Callable[[str], None]] = None):
        self.archiver = archiver
        self.record = record
        self.on_message = on_message or (lambda text: None)
        self.dropped = 0  # images not archived because too many waited
        self._queue: "queue.Queue[Optional[tuple]]" = queue.Queue()
        self._oldest: Optional[float] = None  # monotonic time the image being archived was handed over
        self._held = 0  # bytes of frames' pixels and uploads' bytes waiting (held_bytes)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="archive", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        return self._queue.qsize() + (self._oldest is not None)

    def put(self, image, name: str, verdict, when: float, row_id: Optional[int], sha256: Optional[str] = None) -> None:
        """Hand one image over (a file, pixels or an upload's bytes): it is archived in order, after those before
        it. `sha256`: a file's content as it was inspected (Archiver.put)."""
        size = held_bytes(image)
        if self._queue.qsize() >= MAX_WAITING or self._held + size > MAX_WAITING_BYTES:
            self.dropped += 1
            if self.dropped == 1:
                self.on_message(f"WARNING: images are not archived: {self.waiting} wait already for the archive "
                                f"{self.archiver.root}, which does not keep up (a network share that hangs?)")
            return
        with self._lock:
            self._held += size
        self._queue.put((image, name, verdict, when, row_id, sha256, time.monotonic()))

    def problem(self) -> Optional[str]:
        """Why images are not being archived now (the disk alarm's text), None while the archive keeps up."""
        with self._lock:
            oldest = self._oldest
        stalled = oldest is not None and time.monotonic() - oldest >= STALLED_S
        if not stalled and self._queue.qsize() < MAX_WAITING:
            return None
        return (f"images are not being archived: the archive {self.archiver.root} has taken none for "
                f"{time.monotonic() - oldest if oldest is not None else 0:.0f} s and {self.waiting} wait "
                "(a network share that hangs, or a stalled disk); inspection goes on")

    def close(self, timeout: float = DRAIN_S) -> None:
        """Archive what still waits, for `timeout` seconds at most, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
        left = self.waiting
        if self._thread.is_alive() and left:
            self.on_message(f"WARNING: {left} images were not archived before the stop (the archive "
                            f"{self.archiver.root} does not answer); those still in the watched folder are archived "
                            "at the next start")

    def _record(self, row_id: Optional[int], where: Optional[Path]) -> None:
        if row_id is not None:
            try:
                self.record(row_id, where)
            except InspectorError as exc:  # the history is locked or full: the next start looks again
                self.on_message(f"WARNING: {exc}")

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            image, name, verdict, when, row_id, sha256, handed = job
            with self._lock:
                self._oldest = handed
            try:
                # Where it went, or None: the keeper had no room (it said so, the disk alarm is up); either way the
                # row is owed nothing more.
                where = self.archiver.put(image, name, verdict, when, row_id, sha256)
                self._record(row_id, where)
            except InspectorError as exc:  # the verdict is recorded; archiving is secondary
                self.on_message(f"WARNING: {exc}")
                self._record(row_id, None)  # refused (permission, disk full): not tried again at each start
            except Exception:  # never let the archive's thread die: the next images still go
                log.exception("archiving %s failed", name)
            finally:
                with self._lock:
                    self._oldest = None
                    self._held -= held_bytes(image)


__all__ = ["ArchiveQueue"]
