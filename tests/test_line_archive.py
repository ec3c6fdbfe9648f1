"""The archive as a line fills it for months: every row keeps its own image, and the PLC's answer never waits for
the archive (inspector_line/sinks.py, inspector_line/runner.py).

Before: a camera that names every part `image.png` had its copies numbered by counting up past every earlier one
(65 ms a part after 5,000 parts, growing with each), and the PLC's ResultReady waited for the archive's copy (a
large image, or a network share). The folder, runner, engine, history and archive are real.
"""

import hashlib
import threading
import time
from pathlib import Path

import pytest

from inspector_line.archive_keeper import archive_date
from inspector_line.runner import RunOptions, Runner
from inspector_line.sinks import Archiver, SinkError
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes
from station import Station
from station.history import ARCHIVE_OWED, History
from station.line_io.handshake import Handshake


def test_a_name_taken_again_is_told_apart_by_its_row_at_one_look(tmp_path, monkeypatch):
    source = tmp_path / "image.png"
    source.write_bytes(png_bytes(part(1)))
    archiver = Archiver(tmp_path / "archive")
    names = [archiver.put(source, source.name, "OK", 1.7e9, row_id=row).name for row in (7, 8, 9)]
    assert names == ["image.png", "image_row8.png", "image_row9.png"]

    looks = []
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: looks.append(self) or real_exists(self))
    archiver.put(source, source.name, "OK", 1.7e9, row_id=10)
    assert len(looks) == 2  # image.png is taken, image_row10.png is not: not one look per earlier copy


def test_a_camera_that_names_every_part_alike_keeps_each_rows_own_image(tmp_path):
    engine, project = make_project(tmp_path / "project")
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    history = History(tmp_path / "h.sqlite")
    plc = Handshake()
    seen_at_archive = []
    runner = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.05, poll_s=0.02),
                    RunOptions(archive=archive, move=True, plcs=[plc], batch_size=1))
    put = runner.archive.archiver.put

    def archiving(*args, **kwargs):
        seen_at_archive.append((plc.state.sequence, plc.state.result_ready))
        return put(*args, **kwargs)

    runner.archive.archiver.put = archiving
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        sent = []
        for n in range(6):
            image = png_bytes(part(400 + n, scratch=n % 3 == 2))
            sent.append(hashlib.sha256(image).hexdigest())
            (inbox / ".image.png.tmp").write_bytes(image)
            (inbox / ".image.png.tmp").rename(inbox / "image.png")
            deadline = time.monotonic() + 30
            while (inbox / "image.png").exists() or plc.state.sequence < n + 1:  # moved into the archive
                assert time.monotonic() < deadline, f"part {n} was not archived"
                time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=30)
    rows = sorted(history.query(limit=100), key=lambda r: r.id)
    history.close()
    assert [r.sha256 for r in rows] == sent
    # The PLC had each part's result before its image was archived.
    assert seen_at_archive == [(n + 1, True) for n in range(6)]
    archived = [Path(r.archive_path) for r in rows]
    assert len(set(archived)) == 6
    # Each row's archived file is that part's own image, under its own name.
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in archived] == sent
    folders = set()
    for row, path in zip(rows, archived):  # the first of a verdict folder keeps its name; the next get their row's
        assert path.name == ("image.png" if path.parent not in folders else f"image_row{row.id}.png")
        folders.add(path.parent)
    assert {p.parent.name for p in archived} == {"OK", "NG"}



def test_a_part_recorded_just_before_a_crash_is_archived_and_its_row_says_where(tmp_path):
    """In move mode the image leaves the folder only once archived, after its row and its answer: a crash in
    between leaves a part the history knows still in the folder. The next run archives it without judging it
    again, and (before, it did not) records where in the part's row. The crash is a first run that recorded
    the parts and archived nothing."""
    engine, project = make_project(tmp_path / "project")
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    for n in range(3):
        (inbox / f"p{n}.png").write_bytes(png_bytes(part(500 + n)))
    history = History(tmp_path / "h.sqlite")
    station = Station(project, engine, history=history)
    Runner(station, FolderSource(inbox, settle_s=0.05), RunOptions(idle_exit_s=0.5)).run()
    assert [r.archive_path for r in history.query()] == [None] * 3
    summary = Runner(station, FolderSource(inbox, settle_s=0.05),
                     RunOptions(archive=archive, move=True, idle_exit_s=0.5)).run()
    assert summary.counts.total == 0 and not list(inbox.iterdir())
    rows = history.query()
    history.close()
    assert sorted(Path(r.archive_path).name for r in rows) == ["p0.png", "p1.png", "p2.png"]
    assert all(Path(r.archive_path).is_file() for r in rows)


def test_images_owed_to_the_archive_at_a_crash_are_archived_at_the_next_start(tmp_path, monkeypatch):
    """Copy mode keeps every part in the folder. A kill between a part's row and its archive copy (or a stop while
    the share hung) lost its image for good before: the history knew the part, so no run looked at it again, and
    nothing said so. Now the row says its image is owed to the archive, and the next start archives it from the
    folder while the file is as it was inspected; one rewritten or gone since is not, and the run says so. The
    crash is a first run whose archive's thread never got the images."""
    from inspector_line.archive_queue import ArchiveQueue

    engine, project = make_project(tmp_path / "project")
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    sent = {f"p{n}.png": png_bytes(part(520 + n)) for n in range(4)}
    for name, data in sent.items():
        (inbox / name).write_bytes(data)
    history = History(tmp_path / "h.sqlite")
    station = Station(project, engine, history=history)
    monkeypatch.setattr(ArchiveQueue, "put", lambda *args, **kwargs: None)  # killed before the thread copied
    Runner(station, FolderSource(inbox, settle_s=0.05), RunOptions(archive=archive, idle_exit_s=0.5)).run()
    monkeypatch.undo()
    assert [r.archive_path for r in history.query()] == [ARCHIVE_OWED] * 4 and not list(archive.rglob("*.png"))
    assert [r.to_dict()["archive_path"] for r in history.query()] == [None] * 4  # exports: not archived
    (inbox / "p2.png").unlink()  # gone since
    (inbox / "p3.png").write_bytes(png_bytes(part(530)))  # a camera wrote another part under its name
    messages = []
    summary = Runner(station, FolderSource(inbox, settle_s=0.05), RunOptions(archive=archive, idle_exit_s=0.5),
                     on_message=messages.append).run()
    rows = {r.file_name: r for r in history.query() if r.id <= 4}
    assert history.archive_owed() == []
    history.close()
    assert summary.counts.total == 1  # the new p3.png, judged as a part of its own
    assert [Path(rows[n].archive_path).read_bytes() for n in ("p0.png", "p1.png")] == [sent["p0.png"], sent["p1.png"]]
    assert rows["p2.png"].archive_path is None and rows["p3.png"].archive_path is None  # owed no more
    assert "archiving 2 images recorded before the last stop" in messages[0]
    assert any(m.startswith("WARNING: 2 images recorded before the last stop were never archived") for m in messages)


def test_an_uploads_name_never_places_its_bytes_outside_the_archive(tmp_path):
    """`inspector serve --archive` writes an upload as it came, under the name its sender gave."""
    archiver = Archiver(tmp_path / "archive")
    day = tmp_path / "archive" / archive_date(1.7e9) / "NG"
    for row, (name, kept_as) in enumerate([("..", "image"), ("../../etc/x.png", "x.png"),
                                           ("C:\\cam\\p1.png", "p1.png"), ("", "image_row4")], start=1):
        where = archiver.put(b"bytes as sent", name, "NG", 1.7e9, row_id=row)
        assert where == day / kept_as and where.read_bytes() == b"bytes as sent", name


def test_an_archive_that_hangs_never_stops_the_line(tmp_path, monkeypatch):
    """A network share that stops answering mid-copy. Before, the run's own thread copied into it: the line
    stopped at the next part (no Trigger taken, the Heartbeat still). Now the parts are judged and recorded
    meanwhile, the disk alarm says images are not being archived, and once the share answers again every image
    is archived and its row says where."""
    from inspector_line import archive_queue

    monkeypatch.setattr(archive_queue, "STALLED_S", 0.5)
    engine, project = make_project(tmp_path / "project")
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    history = History(tmp_path / "h.sqlite")
    messages = []
    runner = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.05, poll_s=0.02),
                    RunOptions(archive=archive, batch_size=1), on_message=messages.append)
    share_answers = threading.Event()
    put = runner.archive.archiver.put
    runner.archive.archiver.put = lambda *args, **kwargs: share_answers.wait(60) and put(*args, **kwargs)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        for n in range(6):
            (inbox / f"p{n}.png").write_bytes(png_bytes(part(600 + n)))
        deadline = time.monotonic() + 60
        while history.count() < 6 or not any(m.startswith("ALARM disk:") for m in messages):
            assert time.monotonic() < deadline, f"{history.count()} parts judged while the archive hung: {messages}"
            time.sleep(0.02)
        # Judged and recorded, none archived yet: each row says its image is owed to the archive.
        assert all(r.archive_path == ARCHIVE_OWED for r in history.query())
        alarm = next(m for m in messages if m.startswith("ALARM disk:"))
        assert "images are not being archived" in alarm and str(archive) in alarm
        share_answers.set()
        while any(not r.archive_path for r in history.query()):
            assert time.monotonic() < deadline, "not archived once the share answered"
            time.sleep(0.02)
        while not any(m.startswith("alarm cleared disk") for m in messages):
            assert time.monotonic() < deadline, messages
            time.sleep(0.02)
    finally:
        share_answers.set()
        stop.set()
        thread.join(timeout=60)
    rows = history.query()
    history.close()
    assert sorted(Path(r.archive_path).name for r in rows) == [f"p{n}.png" for n in range(6)]


def test_frames_waiting_for_a_hung_archive_hold_bounded_memory(tmp_path, monkeypatch):
    """Camera frames wait as pixels: past MAX_WAITING_BYTES of them, further frames are not archived (said once
    and counted) rather than filling the PC's memory; those that waited are archived once the share answers."""
    import numpy as np

    from inspector_line import archive_queue

    frame = np.zeros((100, 100, 3), np.uint8)
    monkeypatch.setattr(archive_queue, "MAX_WAITING_BYTES", 5 * frame.nbytes)
    answers, said, recorded = threading.Event(), [], []
    archiver = Archiver(tmp_path / "archive")
    put = archiver.put
    archiver.put = lambda *args, **kwargs: answers.wait(30) and put(*args, **kwargs)
    queue = archive_queue.ArchiveQueue(archiver, record=lambda row, where: recorded.append(row),
                                       on_message=said.append)
    for row in range(1, 11):
        queue.put(frame, f"frame{row}", "OK", 1.7e9, row)
    answers.set()
    queue.close()
    assert queue.dropped == 5  # five frames' pixels held (the one with the hung archive among them); the rest go
    assert recorded == [1, 2, 3, 4, 5] and len(said) == 1 and "not archived" in said[0]


def test_a_frame_is_archived_under_any_folder_name_and_a_full_disk_is_named(tmp_path, monkeypatch):
    """Camera frames are written as PNG by Python, not cv2.imwrite: that one says only False (no reason for the
    disk alarm's line) and cannot write to a path with non-ASCII letters on Windows."""
    import errno

    import cv2
    import numpy as np

    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    archiver = Archiver(tmp_path / "Prüfstand 2" / "检测")
    where = archiver.put(frame, "cam_frame000001", "NG", 1.7e9, row_id=1)
    assert where.name == "cam_frame000001.png"
    assert np.array_equal(cv2.imdecode(np.fromfile(where, np.uint8), cv2.IMREAD_COLOR)[..., ::-1], frame)

    def full(self, data):
        self.open("wb").write(data[:10])  # cut short, as a full disk cuts a write
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(SinkError, match="No space left on device"):
        archiver.put(frame, "cam_frame000002", "NG", 1.7e9, row_id=2)
    assert not (where.parent / "cam_frame000002.png").exists()  # no half image left behind
