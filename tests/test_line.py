"""The run mode on real computations: a watched folder written slowly, bad files, archive + POST, a video source.

A tiny random efficientnet_lite0 at 56 px on 64 x 64 discs keeps hundreds of parts quick.
"""

import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from station import Station
from station.history import NO_VERDICT, History
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource, VideoSource
from line_helpers import make_project, part, png_bytes


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """(engine, calibrated project, uncalibrated project)."""
    root = tmp_path_factory.mktemp("line")
    engine, raw = make_project(root / "raw", calibrated=False)
    shutil.copytree(raw, root / "cal")
    model = engine.load(root / "cal")
    engine.calibrate(model, [part(s) for s in range(100, 106)], [part(s, True) for s in range(200, 204)])
    return engine, root / "cal", raw


def _run(engine, project, source, history, **options):
    parts, messages = [], []
    runner = Runner(Station(project, engine, history=history), source, RunOptions(**options),
                    on_part=parts.append, on_message=messages.append)
    summary = runner.run()
    return summary, parts, messages


class SlowWriter(threading.Thread):
    """Writes PNGs in chunks, several files interleaved, pausing between chunks; some renamed into place."""

    def __init__(self, folder: Path, seeds, chunks=3, pause=(0.002, 0.03), open_at_once=3):
        super().__init__(daemon=True)
        self.folder, self.seeds, self.chunks, self.pause, self.open_at_once = folder, list(seeds), chunks, pause, \
            open_at_once
        self.written: list[str] = []
        self.error = None

    def run(self):
        try:
            rng = np.random.default_rng(1)
            queue = list(self.seeds)
            open_files = []
            while queue or open_files:
                while queue and len(open_files) < self.open_at_once:
                    seed = queue.pop(0)
                    data = png_bytes(part(seed))
                    name = f"part_{seed:04d}.png"
                    renamed = seed % 5 == 0
                    path = self.folder / (f".{name}.tmp" if renamed else name)
                    step = -(-len(data) // self.chunks)
                    open_files.append([open(path, "wb"), [data[i:i + step] for i in range(0, len(data), step)],
                                       path, name, renamed])
                entry = open_files[int(rng.integers(len(open_files)))]
                fh, pieces, path, name, renamed = entry
                fh.write(pieces.pop(0))
                fh.flush()
                if not pieces:
                    fh.close()
                    if renamed:
                        os.replace(path, self.folder / name)
                    open_files.remove(entry)
                    self.written.append(name)
                time.sleep(float(rng.uniform(*self.pause)))
        except Exception as exc:  # surfaced by the test
            self.error = exc


def test_watched_folder_300_files_written_slowly_exactly_once(projects, tmp_path):
    engine, project, _ = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    early = [f"part_{s:04d}.png" for s in range(1000, 1020)]
    for s in range(1000, 1020):  # already there at start: inspected first
        (inbox / f"part_{s:04d}.png").write_bytes(png_bytes(part(s)))
    writer = SlowWriter(inbox, range(2000, 2280))
    history = History(tmp_path / "history.sqlite")
    source = FolderSource(inbox, settle_s=0.5, poll_s=0.05)
    stop = threading.Event()
    parts = []
    runner = Runner(Station(project, engine, history=history), source, RunOptions(idle_exit_s=None),
                    on_part=parts.append)
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    writer.start()
    writer.join(timeout=120)
    assert writer.error is None and len(writer.written) == 280
    deadline = time.monotonic() + 120
    while history.count() < 300 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # anything extra (a half-written file judged twice) would show up now
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()

    rows = history.query(descending=False)
    names = [r.file_name for r in rows]
    assert len(rows) == 300
    assert Counter(names).most_common(1)[0][1] == 1  # none twice
    assert set(names) == set(early) | set(writer.written)  # none missed
    assert set(names[:20]) == set(early), names[:30]  # what was waiting goes first
    assert all(r.verdict == "OK" and r.error is None for r in rows)  # no half-written file read as broken
    assert all(r.heatmap_png[:8] == b"\x89PNG\r\n\x1a\n" for r in rows)
    assert [p.counts.total for p in parts][-1] == 300
    history.close()


def test_bad_files_are_error_rows_and_the_run_goes_on(projects, tmp_path):
    engine, project, _ = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a_good.png").write_bytes(png_bytes(part(1)))
    (inbox / "b_text.png").write_bytes(b"this is not an image")
    (inbox / "c_truncated.png").write_bytes(png_bytes(part(2))[:200])
    (inbox / "d_wrong_size.png").write_bytes(png_bytes(cv2.resize(part(3), (40, 40))))
    (inbox / "e_scratched.png").write_bytes(png_bytes(part(4, scratch=True)))
    (inbox / "f_good.png").write_bytes(png_bytes(part(5)))
    (inbox / "notes.txt").write_text("not an image suffix: ignored")
    with History(tmp_path / "h.sqlite") as history:
        summary, parts, messages = _run(engine, project, FolderSource(inbox, settle_s=0.2, error_after_s=1.0),
                                        history, idle_exit_s=1.0)
        rows = {r.file_name: r for r in history.query()}
    assert sorted(rows) == ["a_good.png", "b_text.png", "c_truncated.png", "d_wrong_size.png", "e_scratched.png",
                            "f_good.png"]
    assert {n: r.verdict for n, r in rows.items()} == {
        "a_good.png": "OK", "b_text.png": "ERROR", "c_truncated.png": "ERROR", "d_wrong_size.png": "ERROR",
        "e_scratched.png": "NG", "f_good.png": "OK"}
    assert "cannot read image" in rows["b_text.png"].error
    assert "skipped notes.txt: not an image extension" in " ".join(messages)  # a line says why, not silence
    assert rows["d_wrong_size.png"].error and rows["d_wrong_size.png"].score is None
    assert rows["e_scratched.png"].regions and all(r["counts"] for r in rows["e_scratched.png"].regions)
    assert (summary.counts.total, summary.counts.error, summary.counts.ng) == (6, 3, 1)
    # Arrival order (mtime, then name); an unreadable file is looked at again after each settle until it has
    # failed for error_after_s (its writer may have stalled), so it is recorded after the readable ones.
    assert [p.name for p in parts] == ["a_good.png", "d_wrong_size.png", "e_scratched.png", "f_good.png",
                                       "b_text.png", "c_truncated.png"]


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    Receiver.fail_first = 2  # the first attempts fail: retries must deliver anyway
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/results"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_archive_move_and_post(projects, tmp_path, receiver):
    engine, project, raw = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "ok1.png").write_bytes(png_bytes(part(11)))
    (inbox / "ng1.png").write_bytes(png_bytes(part(12, scratch=True)))
    (inbox / "bad.png").write_bytes(b"\x89PNG broken")
    archive = tmp_path / "archive"
    with History(tmp_path / "h.sqlite") as history:
        summary, parts, messages = _run(engine, project, FolderSource(inbox, settle_s=0.2, error_after_s=1.0),
                                        history, idle_exit_s=1.0, archive=archive, move=True, post_url=receiver)
        rows = {r.file_name: r for r in history.query()}
    day = next(archive.iterdir())
    assert {p.relative_to(day).as_posix() for p in day.rglob("*.png")} == {"OK/ok1.png", "NG/ng1.png",
                                                                            "ERROR/bad.png"}
    assert {n: Path(r.archive_path).relative_to(day).as_posix() for n, r in rows.items()} == {
        "ok1.png": "OK/ok1.png", "ng1.png": "NG/ng1.png", "bad.png": "ERROR/bad.png"}  # the history says where
    assert list(inbox.iterdir()) == []  # moved, not copied
    posted = {p["file_name"]: p for p in Receiver.received}
    assert set(posted) == set(rows) and summary.post_failed == 0
    assert posted["ng1.png"]["verdict"] == "NG" and posted["ng1.png"]["id"] == rows["ng1.png"].id
    assert posted["bad.png"]["verdict"] == "ERROR" and "cannot read image" in posted["bad.png"]["error"]

    # An uncalibrated model gives no verdict: archived apart, never as OK.
    inbox2 = tmp_path / "inbox2"
    inbox2.mkdir()
    (inbox2 / "p.png").write_bytes(png_bytes(part(13)))
    with History(tmp_path / "h2.sqlite") as history:
        _run(engine, raw, FolderSource(inbox2, settle_s=0.2), history, idle_exit_s=1.0, archive=archive)
        (row,) = history.query(verdict=NO_VERDICT)
    assert row.verdict == "NO_VERDICT" and row.score > 0 and "no verdict" in row.reason
    assert (day / "NO_VERDICT" / "p.png").is_file() and not (day / "OK" / "p.png").exists()


def test_unreachable_receiver_never_blocks_inspection(projects, tmp_path):
    engine, project, _ = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.png").write_bytes(png_bytes(part(21)))
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with History(tmp_path / "h.sqlite") as history:
        summary, _, messages = _run(engine, project, FolderSource(inbox, settle_s=0.2), history, idle_exit_s=0.5,
                                    post_url=dead)
        assert history.count() == 1
    (stats,) = summary.delivery  # kept in the outbox for the next run, not dropped
    assert (stats.sent, stats.pending, stats.failed) == (0, 1, 0) and summary.post_failed == 0
    assert any("cannot deliver to" in m and "resent" in m for m in messages)


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    assert out.isOpened()
    for f in frames:
        out.write(np.ascontiguousarray(f[..., ::-1]))
    out.release()


def test_video_source_every_n_frames_and_restart(projects, tmp_path):
    engine, project, _ = projects
    frames = [part(300 + i, scratch=(i == 9)) for i in range(30)]
    video = tmp_path / "line.avi"
    _write_video(video, frames)
    with History(tmp_path / "h.sqlite") as history:
        summary, parts, _ = _run(engine, project, VideoSource(str(video), every=3), history)
        rows = history.query(descending=False)
        assert [r.file_name for r in rows] == [f"line_frame{i:06d}" for i in range(0, 30, 3)]
        scores = {r.file_name: r.score for r in rows}
        assert max(scores, key=scores.get) == "line_frame000009"  # the scratched frame
        assert rows[3].verdict == "NG" and all(r.verdict in ("OK", "NG") for r in rows)
        assert not summary.interrupted and summary.counts.total == 10
        # Run again over the same video: every frame is already in the history.
        summary2, parts2, _ = _run(engine, project, VideoSource(str(video), every=3), history)
        assert summary2.counts.total == 0 and summary2.skipped == 10 and history.count() == 10


def test_video_trigger_file(projects, tmp_path):
    engine, project, _ = projects
    video = tmp_path / "cam.avi"
    _write_video(video, [part(400 + i) for i in range(12)])
    trigger = tmp_path / "trigger"
    trigger.touch()
    with History(tmp_path / "h.sqlite") as history:
        _run(engine, project, VideoSource(str(video), trigger=trigger), history)
        # One trigger: the next frame only, and the trigger is consumed.
        assert [r.file_name for r in history.query()] == ["cam_frame000000"]
    assert not trigger.exists()


def test_drift_warning_at_start_of_run(projects, tmp_path):
    engine, project, _ = projects
    model = engine.load(project)
    cal = model.calibration
    high = float(np.median(cal.ok_scores)) + 0.8 * (cal.threshold - float(np.median(cal.ok_scores)))
    history = History(tmp_path / "h.sqlite")
    for i in range(30):  # the line's recent OK parts score near the threshold
        history.record(source="x", file_name=f"{i}.png", verdict="OK", score=high, threshold=cal.threshold,
                       model_id=model.model_id)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    summary, _, messages = _run(engine, project, FolderSource(inbox), history, idle_exit_s=0.3)
    assert summary.drift.warning and any(m.startswith("DRIFT") for m in messages)
    history.close()



def test_a_model_that_cannot_be_loaded_mid_run_makes_error_rows_and_the_line_goes_on(projects, tmp_path):
    """The model's files change under a running line (a new export being copied over the folder): while they
    cannot be loaded, each part is an ERROR naming why, never judged by the model the files no longer hold;
    once they can, the next part is judged by the new files."""
    engine, project, _ = projects
    folder = tmp_path / "project"
    shutil.copytree(project, folder)
    manifest = (folder / "manifest.json").read_bytes()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.png").write_bytes(png_bytes(part(11)))

    def next_part(outcome):
        if outcome.name == "a.png":  # half written, as a copy in progress leaves it
            (folder / "manifest.json").write_bytes(manifest[: len(manifest) // 2])
            (inbox / "b.png").write_bytes(png_bytes(part(12)))
        elif outcome.name == "b.png":
            (folder / "manifest.json").write_bytes(manifest)
            (inbox / "c.png").write_bytes(png_bytes(part(13, scratch=True)))

    with History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(folder, engine, history=history), FolderSource(inbox, settle_s=0.1),
                        RunOptions(idle_exit_s=2.0), on_part=next_part)
        summary = runner.run()
        rows = {r.file_name: r for r in history.query()}
    assert {n: r.verdict for n, r in rows.items()} == {"a.png": "OK", "b.png": "ERROR", "c.png": "NG"}
    assert rows["b.png"].error.startswith("the model cannot be loaded: ") and "manifest" in rows["b.png"].error
    assert rows["b.png"].model_id is None and rows["a.png"].model_id == rows["c.png"].model_id is not None
    assert (summary.counts.total, summary.counts.error) == (3, 1)


@pytest.mark.skipif(sys.platform != "linux", reason="close-after-write events are Linux's inotify")
def test_a_file_closed_by_its_writer_is_taken_at_once_and_one_written_again_settles(tmp_path):
    """A camera program that writes its file in place and closes it: the part is inspected without the settle's
    wait. Opened again and written more, the file waits for the settle as any write does."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    source = FolderSource(inbox, settle_s=10.0, poll_s=0.02)  # a settle no step below waits out
    source.start()
    try:
        data = png_bytes(part(1))
        started = time.monotonic()
        with open(inbox / "closed.png", "wb") as fh:
            fh.write(data)
        batch = source.next_batch(4, timeout=8.0)
        assert [i.name for i in batch] == ["closed.png"] and time.monotonic() - started < 8.0

        writing = open(inbox / "open.png", "wb")  # still open: only the settle says it is done
        writing.write(data[: len(data) // 2])
        writing.flush()
        assert source.next_batch(4, timeout=1.5) == []
        writing.write(data[len(data) // 2:])
        writing.close()
        assert [i.name for i in source.next_batch(4, timeout=8.0)] == ["open.png"]

        with open(inbox / "again.png", "wb") as fh:  # closed, then opened again to write more before it is taken
            fh.write(data[:100])
        time.sleep(0.3)  # the close event arrives
        source._poll()  # the close is noted with the file as it was then
        with open(inbox / "again.png", "ab") as fh:
            fh.write(data[100:200])
            fh.flush()
            time.sleep(0.3)
            source._poll()  # written since the close: no longer complete by the writer's word
            assert source._hand_out(4) == [] and source.waiting == 1
            fh.write(data[200:])
        # closed again: complete, all of it
        batch = source.next_batch(4, timeout=8.0)
        assert [(i.name, i.extra["size"]) for i in batch] == [("again.png", len(data))]
    finally:
        source.stop()


def test_a_version_activated_mid_run_is_said_with_its_calibrations_warning(projects, tmp_path):
    """The console names the version the line switched to, and what is wrong with its calibration: a technician
    reads it where the parts scroll by, not only in the window."""
    engine, calibrated, _ = projects
    project = shutil.copytree(calibrated, tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    station = Station(project, engine, history=History(tmp_path / "h.sqlite"))
    first = station.model().version
    messages, parts = [], []
    runner = Runner(station, FolderSource(inbox, settle_s=0.1, poll_s=0.02), RunOptions(idle_exit_s=None),
                    on_part=parts.append, on_message=messages.append)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        (inbox / "a.png").write_bytes(png_bytes(part(1)))
        deadline = time.monotonic() + 60
        while not parts:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        done = Station(project, engine, record=False).calibrate([part(s) for s in (300, 301)])  # 2 OK images only
        (inbox / "b.png").write_bytes(png_bytes(part(2)))
        while len(parts) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert done.version != first and "Only 2 OK image(s)" in done.calibration.warning
    said = [m for m in messages if m.startswith("now inspecting")]
    assert said == [f"now inspecting with proj version {done.version}; WARNING: its calibration is not to be trusted "
                    f"as it stands: {done.calibration.warning}"]
    station.history.close()
