"""The run's archive (`inspector run --archive DIR`): its keeper (the disk never fills: archive_keeper.py), its thread
(no PLC waits for an image's copy, and a share that hangs never stops the line: archive_queue.py), and the images
owed to it across a stop.

A part whose image goes to the archive is recorded as owed to it (archive_path ARCHIVE_OWED), in its history row's
own transaction; the archive's thread writes where the image went once it is there. A kill or a power cut between
the two (or a stop while the share hung) leaves the row owed, and the next start archives the image from the
watched folder while the file is as it was inspected. Before, copy mode lost such an image for good, silently:
the history knew the part, so no run looked at it again.

    archive = RunArchive(options, history, known=runner_known_key, say=print)
    archive.open()                       # the thread (before the publisher, whose disk alarm watches it)
    archive.start()                      # the keeper, and what the last stop left owed
    row = {..., **archive.owed_mark(item)}
    archive.put(item, verdict, when, row_id)
    archive.leftover(item)               # move mode: a known part still in the folder
    archive.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from station.history import ARCHIVE_OWED
from station.line_io.alarms import AlarmLimits

from .archive_keeper import ArchiveKeeper
from .archive_queue import ArchiveQueue
from .sinks import Archiver
from .sources import Item, key_file


class RunArchive:
    def __init__(self, options, history, known: Callable[[Path, object], Optional[str]],
                 say: Callable[[str], None]):
        """`options`: the run's RunOptions (archive, move, archive_keep_days, alarm_limits' min_free); `known(path,
        stat)`: the key the history recorded for this very file, or None (the runner's)."""
        self.history, self.known, self.say = history, known, say
        self.move = options.move
        self.keeper = ArchiveKeeper(options.archive, keep_days=options.archive_keep_days,
                                    min_free=(options.alarm_limits or AlarmLimits()).min_free, on_message=say,
                                    marked=history.marked_archive_paths)
        self.archiver = Archiver(options.archive, options.move, self.keeper)
        self.queue: Optional[ArchiveQueue] = None  # the archive's own thread, while the run runs

    def open(self) -> None:
        self.queue = ArchiveQueue(self.archiver, record=self.history.set_archive_path, on_message=self.say)

    def disk_checks(self) -> list:
        """What the disk alarm watches of the archive: its disk (the keeper) and its thread."""
        return [self.keeper.problem, self.queue.problem]

    def start(self) -> None:
        self.keeper.start()
        self._archive_owed()

    def close(self) -> None:
        if self.queue is not None:
            self.queue.close()  # what still waits is archived first (DRAIN_S at most)
        self.keeper.close()

    def owed_mark(self, item: Item) -> dict:
        """The history columns of a part whose image goes to the archive: owed to it until it is there."""
        return {"archive_path": ARCHIVE_OWED} if item.image is not None else {}

    def put(self, item: Item, verdict, when: float, row_id: Optional[int], data: Optional[bytes] = None) -> None:
        """Hand the part's image to the archive's thread, which records where in its history row. `data`: the file's
        bytes as they were inspected, archived as they are in copy mode (a source whose camera writes each image
        under the same name); else, and always with --move (the file must leave the folder), the file itself,
        archived only while it is as it was inspected (its sha256)."""
        if self.queue is None:
            return
        if data is not None and not self.move:
            self.queue.put(data, item.name, verdict, when, row_id)
        else:
            self.queue.put(item.image, item.name, verdict, when, row_id,
                           item.sha256 if isinstance(item.image, Path) else None)

    def leftover(self, item: Item) -> None:
        """Move mode empties the folder into the archive: a part the history knows, recorded by a run that did not
        archive, is moved now (one owed to the archive was handed over at the start)."""
        if not self.move or item.path is None or not item.path.exists():
            return
        row = self.history.row_for_key(item.key)
        if row is not None and row.archive_path is None:
            self.put(item, row.verdict, row.time, row.id)

    def _archive_owed(self) -> None:
        """Archive the images recorded and never archived before the last stop, from the watched folder where they
        still are, unchanged. Frames, and files gone or rewritten since, cannot be: their rows stop being owed,
        and the run says how many."""
        owed = self.history.archive_owed()
        lost = []
        for row_id, key, name, verdict, when in owed:
            path = key_file(key) if key else None
            try:
                same = path is not None and self.known(path, path.stat()) == key
            except OSError:
                same = False
            if same:
                self.queue.put(path, name, verdict, when, row_id, key.rpartition("#")[2])
            else:
                lost.append(row_id)
        if len(owed) > len(lost):
            self.say(f"archiving {len(owed) - len(lost)} images recorded before the last stop and not archived then")
        if lost:
            self.history.archive_not_owed(lost)
            self.say(f"WARNING: {len(lost)} images recorded before the last stop were never archived and are no "
                     "longer in the watched folder as they were inspected (or were camera frames): not archived")


__all__ = ["RunArchive"]
