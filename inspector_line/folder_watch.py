"""The watched folder's file system events (watchdog), as (path, complete) pairs for FolderSource.

`complete`: True when the file's writer said it is whole (renamed into place, moved in from another folder, or
closed after writing: Linux's IN_CLOSE_WRITE), False when it was only written to (it must settle), None when it
left the folder (deleted, renamed or moved away).

On Linux the observer reports each half of a move on its own (`generate_full_events`), and at once. watchdog
otherwise holds every file moved out of the folder back for half a second, waiting for the other half of a
rename, and every event behind it waits too. A line moves each part out (`--move` into the archive, a camera
program's clean-up), so each new part then waited up to 0.5 s before it was seen. Parts found by the folder's
rescan meanwhile went out of order. And a file moved in from another folder (a camera program that writes
elsewhere, then moves the finished file in, as it should) arrived as "created" and waited the settle time.
Each half is enough here: the old name is gone and the new one is complete.
"""

from __future__ import annotations

import importlib
import queue
import sys
from pathlib import Path
from typing import Optional

# watchdog's class that holds a file moved out back, and its module, by watchdog version (7: the grouper; 4-6:
# the buffer). Its `delay` is read when an observer starts.
_MOVE_HOLDERS = (("watchdog.observers.inotify_move_event_grouper", "InotifyMoveEventGrouper"),
                 ("watchdog.observers.inotify_buffer", "InotifyBuffer"))


def _no_move_hold() -> None:
    """Report the halves of a move at once (see the module's docstring): a hold of 0 s."""
    for module, name in _MOVE_HOLDERS:
        try:
            holder = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(getattr(holder, "delay", None), (int, float)):
            holder.delay = 0.0
            return


def observer(handler, folder: Path, recursive: bool):
    """A started watchdog observer of `folder` that gives its events to `handler` (OSError when the folder
    cannot be watched)."""
    if sys.platform.startswith("linux"):
        from watchdog.observers.inotify import InotifyObserver

        _no_move_hold()
        watcher = InotifyObserver(generate_full_events=True)
    else:
        from watchdog.observers import Observer

        watcher = Observer()
    watcher.schedule(handler, str(folder), recursive=recursive)
    watcher.start()
    return watcher


def event_handler(events: "queue.SimpleQueue[tuple[Path, Optional[bool]]]"):
    """A watchdog handler that puts (path, complete) on `events`."""
    from watchdog.events import FileSystemEventHandler

    def put(path, complete: Optional[bool]) -> None:
        if path:  # a half move's other side is "" (or None in older watchdog versions)
            events.put((Path(path), complete))

    class Handler(FileSystemEventHandler):
        def on_created(self, event):
            if not event.is_directory:
                put(event.src_path, False)

        def on_modified(self, event):
            if not event.is_directory:
                put(event.src_path, False)

        def on_closed(self, event):
            # Written and closed by its writer (IN_CLOSE_WRITE): complete, as a rename into place is, without the
            # settle's wait (half a second a part). Written again before it is taken, it settles (FolderSource's
            # second look at hand-out); a writer that reopens it later leaves a truncated image, which fails to
            # decode and is looked at again once it settles (requeue), never an ERROR row at once.
            if not event.is_directory:
                put(event.src_path, True)

        def on_moved(self, event):
            if not event.is_directory:
                put(event.src_path, None)  # gone from its old name
                put(event.dest_path, True)

        def on_deleted(self, event):
            if not event.is_directory:
                put(event.src_path, None)

    return Handler()
