"""Where images come from on the line: a watched folder, a camera or a video file.

Every source hands out `Item`s in arrival order through `next_batch()`; the
runner asks for whatever is ready (up to a batch) so that images that arrive
together are scored together.

Folder: watchdog reports files as they appear (folder_watch.py), and a look
is taken as each event comes; a file counts once it is complete, i.e. renamed
into place by its writer or moved in, closed by it (Linux: inotify's
close-after-write, at once), or its size and modification time unchanged for
`settle_s` (Windows, network shares), and it decodes: one that does not is looked at
again after each settle until it has failed for `error_after_s` (then it is an
ERROR row), so a writer that stalls mid-file never makes an ERROR row. A
periodic rescan catches anything the file system events missed, in the order
the files came. Files already there at start come first, oldest first. Every other file gets one line saying
why it is skipped (its extension, a hidden temporary name, or a rewrite of a
file already inspected: a name is a new part only once the first file was
archived or moved away).

Camera / video: inspector_line/camera_source.py.
"""

from __future__ import annotations

import hashlib
import os
import queue
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from inference import IMAGE_SUFFIXES
from inference import sha256_file as file_sha256

from . import folder_watch
from .camera_source import VideoSource
from .source_items import Item, SourceError


_UNSEEN = object()
RESTAT_PER_SCAN = 300  # files handed out already that a folder scan looks at again, in turn
ERROR_AFTER_S = 10.0  # a file undecodable (or empty) this long is an ERROR row; before, its writer may be busy


def file_identity(st: os.stat_result) -> str:
    """A file's version as the history keeps it beside its key: size, modification time (ns) and inode. A
    rewrite changes the time, and a file moved in from elsewhere has another inode."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def key_file(key: str) -> Optional[Path]:
    """The file an exactly-once key names ("PATH#SHA256", FolderSource's keys); None for other keys (video
    frames)."""
    path, sep, sha = key.rpartition("#")
    if not sep or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        return None
    return Path(path)


def is_hidden(path: Path) -> bool:
    """A writer's temporary file (e.g. '.part_1.png.tmp', '~part.png')."""
    return path.name.startswith((".", "~"))


def is_candidate(path: Path, extensions: Iterable[str] = IMAGE_SUFFIXES) -> bool:
    """Image files only (by extension); hidden names are a writer's temporary files."""
    return path.suffix.lower() in extensions and not is_hidden(path)


def by_arrival(paths: list[Path]) -> list[Path]:
    """Files in the order they came (renamed into place: ctime; written: mtime), then by name; gone ones left
    out. What a scan finds, no event having told (a network share sends none), is noted so: in the directory's
    own order, a later part could be inspected (and answer a Trigger) before an earlier one."""
    arrived = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        arrived.append((max(st.st_mtime_ns, st.st_ctime_ns), p.name, p))
    return [p for _, _, p in sorted(arrived)]


def parse_extensions(text: str) -> frozenset[str]:
    """'.png,jpg, .TIF' -> {'.png', '.jpg', '.tif'}; SourceError when none is given."""
    exts = frozenset("." + e.strip().lstrip(".").lower() for e in text.split(",") if e.strip().lstrip("."))
    if not exts:
        raise SourceError(f"--extensions needs at least one extension, e.g. .png,.jpg; got {text!r}")
    return exts


class FolderSource:
    """A folder that a camera program writes images into."""

    kind = "folder"
    # Each file is a new capture: one identical to the one before is a fault (station/repeated_images.py).
    fresh_captures = True

    def __init__(self, folder: Union[str, Path], settle_s: float = 0.5, poll_s: float = 0.1,
                 rescan_s: float = 3.0, recursive: bool = False, error_after_s: float = ERROR_AFTER_S,
                 extensions: Optional[Iterable[str]] = None, reuse_names: bool = False,
                 on_message: Optional[Callable[[str], None]] = None):
        """`reuse_names`: a file rewritten in place after its row is a new part (the run archives each part, so
        the archive tells them apart); otherwise only once the first was moved away or deleted.
        `on_message`: where the lines about skipped files, and about the folder going and coming back, go."""
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"source folder not found: {self.folder}")
        if settle_s < 0 or error_after_s < 0:
            raise SourceError(f"--settle and --error-after must be 0 or more seconds, got {settle_s:g} and "
                              f"{error_after_s:g}")
        self.label = str(self.folder.absolute())  # a row's source: where its file is, from any working directory
        self.settle_s = settle_s
        self.error_after_s = error_after_s
        self.extensions = frozenset(e.lower() for e in (extensions or IMAGE_SUFFIXES))
        self.reuse_names = reuse_names
        self.on_message = on_message
        self._told: set = set()  # what a skip line was given for (once each)
        self._failing: dict[Path, float] = {}  # path -> when it first failed to decode (monotonic)
        self.poll_s = poll_s
        self.rescan_s = rescan_s
        self.recursive = recursive
        # (path, True: renamed into place or closed after writing, False: written, None: gone)
        self._events: "queue.SimpleQueue[tuple[Path, Optional[bool]]]" = queue.SimpleQueue()
        # Files seen but not yet complete: path -> [size, mtime_ns, last change (monotonic), first seen order,
        # complete by its writer's word (renamed into place or closed after writing)]
        self._pending: dict[Path, list] = {}
        self._order = 0
        # The key handed out for each file still in the folder (a modify event must not repeat one). Forgotten
        # when the file leaves: a run of months would otherwise hold every part's key (the history has them).
        self._handed: dict[Path, str] = {}
        # (size, mtime) of files already handed out: a rescan or a stray event does not hash them again.
        self._handed_stat: dict[Path, tuple[int, int]] = {}
        # Unreadable once: path -> content hash then; handed out again after another settle.
        self._retry: dict[Path, Optional[str]] = {}
        self._initial: set[Path] = set()  # files there at start, not yet handed out
        self._last_rescan = 0.0
        self._scan_cost = 0.0  # seconds the last scan took: the next waits at least 20 times that
        self._paths: dict[str, Optional[Path]] = {}  # name -> its Path (None: not a candidate), for _listing
        self._restat_at = 0  # where the next scan's look at handed files starts
        self._observer = None
        self._handler = None
        self._here = True  # the folder was there when the last look was taken
        self.problem: Optional[str] = None  # why nothing can arrive now (the runner's `source` alarm)
        # Complete files in arrival order, path -> (stat, renamed): hashed only as they are handed out, so a backlog
        # of thousands (a restart) is not read whole before the first part goes.
        self._ready: dict[Path, tuple[os.stat_result, bool]] = {}
        # known(real path, stat): the exactly-once key the history recorded for this very file (same path, size,
        # modification time and inode), or None. A file it knows is not read again to be skipped: a copy-mode
        # folder keeps every part, and a restart hashed each of them (minutes for a day of 3 MB images). The
        # runner sets it.
        self.known: Optional[Callable[[Path, os.stat_result], Optional[str]]] = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self._handler = folder_watch.event_handler(self._events)
        self._watch()
        # What is already there goes first, oldest first (after the watch starts, so nothing falls in between).
        self._scan(initial=True)

    def _watch(self) -> None:
        try:
            self._observer = folder_watch.observer(self._handler, self.folder, self.recursive)
        except OSError as exc:
            raise SourceError(f"cannot watch folder {self.folder}: {exc.strerror or exc}") from None

    def _folder_here(self) -> bool:
        """Whether the folder is there; says when it goes (a camera PC's share unmounted, the folder deleted) and
        when it comes back, and watches the folder that came back (the old watch died with the old folder)."""
        here = self.folder.is_dir()
        if here == self._here:
            return here
        self._here = here
        if not here:
            self.problem = (f"the source folder {self.folder} is gone (deleted, or a network share unmounted): "
                            "nothing is inspected until it is back")
            self._say(f"WARNING: {self.problem}; parts written there then are inspected")
            return False
        self.problem = None
        self.stop()
        try:
            self._watch()
        except SourceError as exc:  # the rescan still finds its files, only later
            self._say(f"WARNING: {exc}; new files are found by a rescan every {self.rescan_s:g} s")
        self._say(f"the source folder {self.folder} is back: inspecting again")
        return True

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    # -- discovery ----------------------------------------------------------------
    def _listing(self) -> list[Path]:
        if not self._folder_here():
            return []
        try:
            if self.recursive:
                found = [p for p in self.folder.glob("**/*") if p.is_file()]
                return [p for p in found if self._candidate(p)]  # says once why a file is skipped
            # The directory's own entry types (no stat a file), and each name's Path made once, its hash kept:
            # a folder that keeps a week of parts holds 600,000 files, looked at every few seconds.
            with os.scandir(self.folder) as entries:
                names = [e.name for e in entries if e.is_file()]
        except OSError:
            return []
        paths, found = self._paths, []
        for name in names:
            path = paths.get(name, _UNSEEN)
            if path is _UNSEEN:
                path = self.folder / name
                paths[name] = path = path if self._candidate(path) else None  # None: skipped (said once)
            if path is not None:
                found.append(path)
        if len(paths) > 2 * len(names) + 1000:  # names gone: forget their Paths
            self._paths = {name: paths[name] for name in names if name in paths}
        return found

    def _candidate(self, path: Path) -> bool:
        if is_candidate(path, self.extensions):
            return True
        if is_hidden(path):
            self._tell("hidden", f"skipping hidden files (names starting with '.' or '~' are writers' temporary "
                                 f"files, inspected once renamed), e.g. {path.name}")
        elif ("ext", path) not in self._told and path.exists() and not path.is_dir():
            self._tell(("ext", path), f"skipped {path.name}: not an image extension "
                                      f"({', '.join(sorted(self.extensions))}; see --extensions)")
        return False

    def _tell(self, key, text: str) -> None:
        if key in self._told:
            return
        self._told.add(key)
        self._say(text)

    def _say(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)

    def _forget(self, path: Path) -> None:
        """The file left the folder (moved away, archived with --move, deleted): its name may be reused."""
        self._pending.pop(path, None)
        self._ready.pop(path, None)
        self._handed.pop(path, None)
        self._handed_stat.pop(path, None)
        self._failing.pop(path, None)
        self._retry.pop(path, None)

    def _rewritten(self, path: Path, st) -> bool:
        """A file already inspected whose content changed in place: skipped (said once) unless names may be
        reused; True when it is skipped."""
        if self.reuse_names or path not in self._handed_stat:
            return False
        if self._handed_stat[path] == (st.st_size, st.st_mtime_ns):
            return True
        self._handed_stat[path] = (st.st_size, st.st_mtime_ns)
        self._tell(("rewritten", path, st.st_size, st.st_mtime_ns),
                   f"skipped {path.name}: rewritten after it was inspected; a new part needs a new name, or the "
                   "first file archived or moved away first (its row stays)")
        return True

    def _scan(self, initial: bool = False) -> None:
        """Look at the whole folder: what no event told (a network share sends none). Files handed out already
        are looked at again a few hundred a scan, in turn (a rewrite in place); and a scan that took long is not
        repeated sooner than 20 times its own time, so a folder that keeps every part for weeks costs the line a
        few per cent, not its latency."""
        started = time.monotonic()
        files = self._listing()
        if initial:
            files.sort(key=lambda p: (file_mtime(p), p.name))
            self._initial = set(files)
        present = set(files)
        for p in [p for p in self._handed_stat if p not in present and p not in self._pending]:
            self._forget(p)  # gone since it was handed out (an event may have been missed)
        new = [p for p in files if p not in self._handed_stat and p not in self._ready and p not in self._pending]
        for p in new if initial else by_arrival(new):
            self._note(p, renamed=False)
        for p in self._next_to_restat():
            try:
                st = p.stat()
            except OSError:
                continue
            if self._handed_stat.get(p, (st.st_size, st.st_mtime_ns)) != (st.st_size, st.st_mtime_ns):
                self._note(p, renamed=False)
        self._last_rescan = time.monotonic()
        self._scan_cost = self._last_rescan - started

    def _next_to_restat(self) -> list[Path]:
        """The next RESTAT_PER_SCAN files handed out (and not pending), in turn."""
        handed = [p for p in self._handed_stat if p not in self._pending]
        if len(handed) <= RESTAT_PER_SCAN:
            return handed
        start = self._restat_at % len(handed)
        self._restat_at = start + RESTAT_PER_SCAN
        return (handed + handed)[start:start + RESTAT_PER_SCAN]

    def _note(self, path: Path, renamed: Optional[bool]) -> None:
        if renamed is None:
            self._forget(path)
            return
        if not self._candidate(path):
            return
        entry = self._pending.get(path)
        if entry is None:
            self._order += 1
            self._pending[path] = entry = [-1, -1, time.monotonic(), self._order, renamed and path not in self._retry]
        if renamed and path not in self._retry:
            entry[4] = True

    def _poll(self) -> None:
        """Move complete files from pending to ready, in arrival order."""
        while True:
            try:
                path, renamed = self._events.get_nowait()
            except queue.Empty:
                break
            self._note(path, renamed)
        if time.monotonic() - self._last_rescan >= max(self.rescan_s, 20 * self._scan_cost):
            self._scan()
        now = time.monotonic()
        complete = []
        for path, entry in list(self._pending.items()):
            try:
                st = path.stat()
            except OSError:
                del self._pending[path]  # gone (moved away, deleted)
                continue
            if (st.st_size, st.st_mtime_ns) != (entry[0], entry[1]):
                entry[0], entry[1], entry[2] = st.st_size, st.st_mtime_ns, now
                if not entry[4]:
                    continue
            if st.st_size == 0 and now - entry[2] < max(self.error_after_s, self.settle_s):
                continue  # created, not yet written; one that stays empty is an ERROR row in the end
            if entry[4] or now - entry[2] >= self.settle_s:
                complete.append((entry[3], path, st, entry[4]))
        if self._initial:
            # What was waiting at start goes first, oldest first: later arrivals wait until it has all been handed
            # out, and none of it goes before an older one still settling (one closed since the watch began is
            # complete at once, one closed before it settles).
            self._initial &= set(self._pending)
            if self._initial:
                done = {c[1] for c in complete}
                waiting = min((self._pending[p][3] for p in self._initial if p not in done), default=None)
                complete = [c for c in complete if c[1] in self._initial and (waiting is None or c[0] < waiting)]
        for _, path, st, renamed in sorted(complete, key=lambda c: c[0]):
            del self._pending[path]
            self._initial.discard(path)
            self._ready[path] = (st, renamed)

    def _hand_out(self, max_items: int) -> list[Item]:
        """The next complete files as Items, up to `max_items`: each hashed now (or its key taken from the
        history, `known`), not before."""
        items: list[Item] = []
        while self._ready and len(items) < max_items:
            path = next(iter(self._ready))
            st, renamed = self._ready.pop(path)
            try:
                now = path.stat()
            except OSError:
                continue  # gone since it was complete (moved away, deleted)
            if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                self._note(path, renamed=False)  # written again since: it settles again
                continue
            if self._handed_stat.get(path) == (st.st_size, st.st_mtime_ns) or self._rewritten(path, st):
                continue
            where = path.resolve()  # as keys name files
            key = self.known(where, st) if self.known is not None else None
            data = None
            if key is not None:
                sha = key.rpartition("#")[2]
            else:
                try:
                    data, sha = _read_hashed(path, st.st_size)
                except OSError:
                    continue  # vanished while reading; a new event brings it back if it returns
                key = f"{where}#{sha}"
            if self._handed.get(path) == key:
                continue
            self._handed[path] = key
            self._handed_stat[path] = (st.st_size, st.st_mtime_ns)
            # Complete since: the rename (it changes ctime on POSIX), or the last write.
            arrived = max(st.st_mtime, st.st_ctime) if renamed else st.st_mtime
            # `retried`: it has failed to decode for error_after_s already, so this look is the last one.
            failing = self._failing.get(path)
            extra = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "file": file_identity(st),
                     "retried": failing is not None and time.monotonic() - failing >= self.error_after_s}
            self._retry.pop(path, None)
            items.append(Item(path.name, path, key, sha, arrived, path, extra, data))
        return items

    def requeue(self, item: Item, unreadable: bool = True) -> None:
        """The item could not be read: watch it again; it comes back when it has settled once more.

        A writer that stalls longer than `settle_s` mid-file makes a truncated
        image; the second look tells a slow writer (the file changed, a new key)
        from a broken file (same content: handed out again marked `retried`).
        `unreadable` False: it read well but was no longer the content handed out (written again in between), which
        starts no count towards `retried`.
        """
        if item.path is not None:
            self._handed.pop(item.path, None)
            self._handed_stat.pop(item.path, None)
            self._retry[item.path] = item.sha256
            if unreadable:
                self._failing.setdefault(item.path, time.monotonic())
            self._note(item.path, renamed=False)

    def next_batch(self, max_items: int, timeout: float) -> list[Item]:
        """Whatever is complete, up to `max_items`, waiting up to `timeout` seconds for the first."""
        deadline = time.monotonic() + timeout
        while True:
            self._poll()
            batch = self._hand_out(max_items)
            now = time.monotonic()
            if batch or now >= deadline:
                return batch
            self._wait_for_event(min(self.poll_s, deadline - now))

    def _wait_for_event(self, timeout: float) -> None:
        """Wait until the file system says a file is complete, `timeout` seconds at most: a part renamed into
        place is taken at once, not at the next look (`poll_s` apart: 50 ms of every part's latency on average).
        Writes only are noted as they come (a large image written in place sends hundreds), without a look each."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                path, complete = self._events.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                return
            self._note(path, complete)
            if complete or time.monotonic() >= deadline:
                return

    @property
    def exhausted(self) -> bool:
        return False  # a folder may always receive more

    @property
    def waiting(self) -> int:
        """Files seen and not handed out yet (complete, or still settling), as of the source's last look."""
        return len(self._ready) + len(self._pending)


def file_mtime(path: Path) -> float:
    """A file's modification time, 0 when it cannot be read (gone meanwhile): for ordering files oldest first."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


HOLD_MAX = 256 * 2 ** 20  # bytes of a file read whole to hash it and judge those bytes; a larger one is streamed


def _read_hashed(path: Path, size: int) -> tuple[Optional[bytes], str]:
    """(the file's bytes, their sha256), read once: the run judges the very bytes its key names. A file over HOLD_MAX
    (no image within the pixel limit is) is hashed as a stream and its bytes left unread: (None, sha256)."""
    if size > HOLD_MAX:
        return None, file_sha256(path)
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def open_source(spec: str, settle_s: float = 0.5, every: int = 1,
                trigger: Optional[Union[str, Path]] = None, error_after_s: float = ERROR_AFTER_S,
                extensions: Optional[Iterable[str]] = None, reuse_names: bool = False,
                on_message: Optional[Callable[[str], None]] = None):
    """`DIR` -> FolderSource, `camera:N` or a video file -> VideoSource."""
    if spec.startswith("camera:"):
        return VideoSource(spec, every=every, trigger=trigger)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, settle_s=settle_s, error_after_s=error_after_s, extensions=extensions,
                            reuse_names=reuse_names, on_message=on_message)
    if path.is_file():
        return VideoSource(spec, every=every, trigger=trigger)
    raise SourceError(f"source not found: {spec} (a folder, camera:N or a video file)")


__all__ = ["ERROR_AFTER_S", "FolderSource", "Item", "SourceError", "VideoSource", "file_identity", "file_mtime",
           "file_sha256", "open_source", "parse_extensions"]
