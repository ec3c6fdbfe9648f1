"""The watched folder's events: parts taken in the order they came, a file moved in complete at once, and files
moved out (the archive's --move, a camera program's clean-up) holding no later part back
(inspector_line/folder_watch.py, FolderSource)."""

import os
import sys
import threading
import time

import pytest

from inspector_line.sources import FolderSource

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="inotify's events; the settle decides elsewhere")


def take(source, n, timeout=30.0, on_item=None):
    """The names of the next `n` parts, in the order handed out."""
    names, deadline = [], time.monotonic() + timeout
    while len(names) < n and time.monotonic() < deadline:
        for item in source.next_batch(8, 1.0):
            names.append(item.name)
            if on_item is not None:
                on_item(item)
    return names


@linux_only
def test_a_file_moved_in_from_another_folder_is_complete_at_once(tmp_path):
    """A camera program that writes its image elsewhere and moves the finished file in: nothing to wait for. It
    came as "created" and waited the settle time (here set far beyond the test's wait)."""
    inbox, outside = tmp_path / "inbox", tmp_path / "camera_tmp"
    inbox.mkdir()
    outside.mkdir()
    source = FolderSource(inbox, settle_s=60.0)
    source.start()
    try:
        (outside / "part_1.png").write_bytes(os.urandom(2000))
        os.replace(outside / "part_1.png", inbox / "part_1.png")
        assert take(source, 1, timeout=20.0) == ["part_1.png"]
    finally:
        source.stop()


@linux_only
def test_parts_come_in_order_while_each_one_is_moved_out_after_it_is_taken(tmp_path):
    """Each part moved out as it is taken (--move): watchdog held the events behind each move-out for half a
    second, the folder's rescan found the parts meanwhile, and noted them in the directory's order, so later parts
    went first (97 of 2,000 at 40 parts/s, bench/bench_soak.py). A rescan at every look makes that certain here."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    archive.mkdir()
    source = FolderSource(inbox, settle_s=60.0, rescan_s=0.0)
    source.start()
    n = 150

    def feed():
        for i in range(n):
            tmp = inbox / f".part_{i:03d}.tmp"
            tmp.write_bytes(os.urandom(1500))
            os.replace(tmp, inbox / f"part_{i:03d}.png")
            time.sleep(0.01)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        got = take(source, n, timeout=60.0, on_item=lambda item: os.replace(item.path, archive / item.name))
    finally:
        writer.join()
        source.stop()
    assert got == [f"part_{i:03d}.png" for i in range(n)]


def test_a_rescan_notes_what_it_finds_in_the_order_it_came(tmp_path):
    """No event tells (a network share sends none): the rescan finds the parts, and takes them in the order they
    came, not in the directory's order or by name."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    source = FolderSource(inbox, settle_s=0.0, rescan_s=0.0)
    source.start()
    source.stop()  # no more events: only the rescan sees what comes
    for name in ("m.png", "z.png", "a.png", "q.png"):
        (inbox / name).write_bytes(os.urandom(1000))
        time.sleep(0.02)  # distinct change times, whatever the file system's resolution
    assert take(source, 4, timeout=20.0) == ["m.png", "z.png", "a.png", "q.png"]
