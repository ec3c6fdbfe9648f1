"""The line's disks: the archive never fills its disk, images are kept as long as asked, and the disk alarm rises
while a disk the line writes to is short of the free space it keeps (inspector_line/archive_keeper.py,
station/line_io/disk_space.py).

Most tests run on a disk of known size made of the archive's own files (`FakeDisk`: its free space is its size
less the bytes the archive really holds), so that the keeper's real deletions make the room it measures; one runs
a real line onto a real 16 MB tmpfs where this machine may mount one.
"""

import os
import shutil
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from inference import InspectorError
from inspector_line import archive_keeper
from inspector_line.archive_keeper import ArchiveKeeper
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes
from station import Station
from station.history import History
from station.line_io import disk_space as disk_space_module
from station.line_io.alarms import AlarmLimits
from station.line_io.disk_space import DiskSpace, MinFree
from station.line_io.handshake import Handshake
from station.line_io.publisher import Publisher

TODAY = date(2026, 12, 6)


class FakeDisk:
    """A disk of `total` bytes holding `other` bytes besides the files under `root`."""

    def __init__(self, root: Path, total: int, other: int = 0):
        self.root, self.total, self.other = root, total, other

    def used(self) -> int:
        return self.other + sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def __call__(self, path) -> DiskSpace:
        return DiskSpace(self.total - self.used(), self.total)


def _image(folder: Path, name: str, size: int, mtime: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def _archive(root: Path, days: int = 3, per_verdict: int = 4, size: int = 1000) -> None:
    """`days` date folders up to TODAY, each with OK and NG images; older images have older times."""
    t = 1.7e9
    for d in range(days - 1, -1, -1):
        day = (TODAY - timedelta(days=d)).isoformat()
        for verdict in ("NG", "OK"):
            for i in range(per_verdict):
                t += 1
                _image(root / day / verdict, f"{verdict.lower()}{i}.png", size, t)


def _names(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# -- the floor ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, fraction, nbytes", [
    ("5%", 0.05, None), ("0.5 %", 0.005, None), ("20GB", None, 20 * 10 ** 9), ("2GiB", None, 2 * 2 ** 30),
    ("500mb", None, 500 * 10 ** 6), ("0", None, 0), (None, 0.05, None),
])
def test_min_free_reads_a_share_or_a_size(text, fraction, nbytes):
    floor = MinFree.parse(text)
    assert (floor.fraction, floor.nbytes) == (fraction, nbytes)
    assert floor.bytes_on(1000) == (int(fraction * 1000) if fraction is not None else nbytes)
    assert floor.off == (text == "0")


@pytest.mark.parametrize("text", ["5x", "-3%", "100%", "GB", "lots"])
def test_min_free_refuses_what_is_no_size(text):
    with pytest.raises(InspectorError, match="--min-free"):
        MinFree.parse(text)


# -- the keeper ---------------------------------------------------------------------------------------------------
def test_keep_days_removes_the_expired_dates_and_nothing_else(tmp_path):
    root = tmp_path / "archive"
    _archive(root, days=5, per_verdict=2)
    _image(root / "notes", "readme.txt", 10, 1.7e9)  # not the archive's layout: never touched
    _image(root, "2020-01-01.txt", 10, 1.7e9)
    said = []
    keeper = ArchiveKeeper(root, keep_days=2, min_free="0", on_message=said.append, today=lambda: TODAY)
    files, freed = keeper.prune()
    kept_days = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert kept_days == [(TODAY - timedelta(days=d)).isoformat() for d in (2, 1, 0)] + ["notes"]
    assert (root / "2020-01-01.txt").exists()
    assert (files, freed) == (8, 8000)  # two dates of 2 OK + 2 NG images of 1000 bytes
    assert "removed 8 images" in said[0] and "older than 2 days" in said[0]


def test_marked_images_outlive_both_rules_and_unknown_marks_remove_nothing(tmp_path, monkeypatch):
    """A reviewer's marked image is the evidence *Teach false rejects* and *Calibrate with marked* read back:
    neither --archive-keep-days nor the floor removes it. The history names it by the path the run archived it
    under, relative here, while the keeper walks an absolute root."""
    root = tmp_path / "archive"
    _archive(root, days=4, per_verdict=2)
    oldest = (TODAY - timedelta(days=3)).isoformat()
    second = (TODAY - timedelta(days=2)).isoformat()
    marked = [f"archive/{oldest}/OK/ok1.png", f"archive/{second}/NG/ng0.png"]
    keeper = ArchiveKeeper(root, keep_days=1, min_free="0", today=lambda: TODAY, marked=lambda: marked)
    before = _names(root)
    assert keeper.prune() == (6, 6000)
    assert before - _names(root) == {f"{oldest}/OK/ok0.png", f"{oldest}/NG/ng0.png", f"{oldest}/NG/ng1.png",
                                     f"{second}/OK/ok0.png", f"{second}/OK/ok1.png", f"{second}/NG/ng1.png"}
    assert not (root / oldest / "NG").exists()  # emptied folders go; the ones holding a marked image stay

    disk = FakeDisk(root, total=20_000, other=18_000)  # floor 2,000: everything but the marks must go
    monkeypatch.setattr(archive_keeper, "disk_space", disk)
    keeper = ArchiveKeeper(root, min_free="10%", today=lambda: TODAY, marked=lambda: marked)
    assert not keeper.room()  # only the marked images are left, and they stay: this image is not archived
    assert _names(root) == {m.removeprefix("archive/") for m in marked}

    def locked():
        raise InspectorError("the inspection history h.sqlite is locked")

    _archive(root, days=1, per_verdict=1)
    keeper = ArchiveKeeper(root, min_free="10%", today=lambda: TODAY, marked=locked)
    before = _names(root)
    assert keeper.prune() == (0, 0) and _names(root) == before  # marks unknown: nothing is removed


def test_a_full_disk_loses_the_oldest_ok_images_first(tmp_path, monkeypatch):
    root = tmp_path / "archive"
    _archive(root, days=3, per_verdict=4)  # 24 images of 1000 bytes
    disk = FakeDisk(root, total=40_000, other=16_000)  # full; the floor is 10 % = 4,000
    monkeypatch.setattr(archive_keeper, "disk_space", disk)
    keeper = ArchiveKeeper(root, min_free="10%", today=lambda: TODAY)
    before = _names(root)
    assert keeper.room()  # below the floor: room is made at once, for this image to go in
    gone = before - _names(root)
    oldest = (TODAY - timedelta(days=2)).isoformat()
    # 5,200 bytes free wanted (1.3 x the floor): the oldest date's 4 OK images, then its 2 oldest NG ones.
    assert gone == {f"{oldest}/OK/ok{i}.png" for i in range(4)} | {f"{oldest}/NG/ng{i}.png" for i in range(2)}
    assert (keeper.removed_files, keeper.removed_bytes) == (6, 6000) and disk(root).free >= 1.3 * 4000
    assert keeper.problem() is None and keeper.skipped == 0


def test_room_made_is_measured_when_the_disk_fills_from_elsewhere_meanwhile(tmp_path, monkeypatch):
    """The history shares the archive's disk and grows by its whole checkpoint at once. Found on CI: the keeper
    counted the room its removals made, the checkpoint took it while it removed, and the image was refused (the
    disk alarm rose) with older images still there to remove."""
    root = tmp_path / "archive"
    _archive(root, days=3, per_verdict=4)  # 24 images of 1000 bytes
    disk = FakeDisk(root, total=40_000, other=11_800)  # 4,200 free: below the 4,400 where the keeper starts
    monkeypatch.setattr(archive_keeper, "disk_space", disk)
    remove = archive_keeper._remove

    def remove_while_the_history_checkpoints(image):
        size = remove(image)
        if disk.other == 11_800:
            disk.other += 1_500
        return size

    monkeypatch.setattr(archive_keeper, "_remove", remove_while_the_history_checkpoints)
    keeper = ArchiveKeeper(root, min_free="10%", today=lambda: TODAY)
    assert keeper.room()
    assert keeper.removed_files == 3 and disk(root).free >= 1.3 * 4000
    assert keeper.problem() is None and keeper.skipped == 0


def test_the_keeper_turns_the_archive_over_before_the_floor_is_reached(tmp_path, monkeypatch):
    """A line archiving for weeks onto a disk that cannot hold it all: images go in, the oldest go out, and no
    image is ever refused, since the keeper starts a tenth above the floor."""
    root = tmp_path / "archive"
    disk = FakeDisk(root, total=100_000)  # floor 10,000; the keeper starts below 11,000 free
    monkeypatch.setattr(archive_keeper, "disk_space", disk)
    keeper = ArchiveKeeper(root, min_free="10%", today=lambda: TODAY)
    t = 1.7e9
    for n in range(300):
        day = (TODAY - timedelta(days=(300 - n) // 20)).isoformat()
        assert keeper.room(), n
        t += 60
        _image(root / day / ("NG" if n % 7 == 0 else "OK"), f"p{n}.png", 700, t)
        if keeper._wake.is_set():  # what the keeper's thread does when woken
            keeper._wake.clear()
            keeper.prune()
        assert disk(root).free >= 10_000
    assert keeper.skipped == 0 and keeper.removed_files > 150
    assert "p299.png" in {p.name for p in root.rglob("*.png")}  # the newest stay


def test_a_copy_cut_short_by_a_full_disk_leaves_no_half_image(tmp_path, monkeypatch):
    from inspector_line.sinks import Archiver, SinkError

    source = tmp_path / "part.png"
    source.write_bytes(png_bytes(part(1)))

    def full(src, dst, **kwargs):
        Path(dst).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copy2", full)
    with pytest.raises(SinkError, match="No space left"):
        Archiver(tmp_path / "archive").put(source, source.name, "OK", 1.7e9)
    assert not [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]


# -- the disk alarm -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("min_free, raised", [("99.9%", True), ("0", False)])
def test_the_history_disk_short_of_its_floor_raises_the_disk_alarm_at_start(tmp_path, min_free, raised):
    """Measured on this machine's real disk: no disk in use has 99.9 % of itself free."""
    plc, said = Handshake(), []
    publisher = Publisher(tmp_path / "h.sqlite", plcs=[plc], on_message=said.append,
                          alarm_limits=AlarmLimits(min_free=min_free))
    publisher.start()
    try:
        assert ("disk" in publisher.alarms.active) is raised
        assert plc.state.alarm is raised
        if raised:
            text = plc.state.alarm_text
            assert "the disk holding the inspection history" in text and "99.9% kept free" in text
            assert said and said[0].startswith("ALARM disk:")
    finally:
        publisher.close()


def test_a_line_whose_disk_fills_from_elsewhere_keeps_judging(tmp_path, monkeypatch):
    """The run mode end to end: after 20 parts something else fills the disk. The keeper removes every archived
    image and still cannot reach the floor, so the rest are judged and recorded but not archived, and the disk
    alarm names why."""
    engine, project = make_project(tmp_path / "project")
    inbox, root = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    for s in range(40):
        (inbox / f"p{s:03d}.png").write_bytes(png_bytes(part(300 + s)))
    size = len(png_bytes(part(300)))
    disk = FakeDisk(root, total=100 * size)  # the floor: 10 images' worth
    monkeypatch.setattr(archive_keeper, "disk_space", disk)
    said, parts = [], []

    def on_part(p):
        parts.append(p)
        if len(parts) == 20:
            while runner.archive.queue.waiting:  # the archive's thread has caught up with the line
                time.sleep(0.01)
            # A technician marks a part in the window (its own connection to the history), then the disk fills.
            with History(tmp_path / "h.sqlite") as window:
                window.mark(parts[2].row_id, "false_reject")
            disk.other = 95 * size

    history = History(tmp_path / "h.sqlite")
    runner = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.05),
                    RunOptions(archive=root, idle_exit_s=1.0, batch_size=1, alarm_limits=AlarmLimits(min_free="10%")),
                    on_part=on_part, on_message=said.append)
    summary = runner.run()
    archived = [history.get(p.row_id).archive_path for p in parts]
    assert summary.counts.total == 40 and summary.counts.judged == 40  # no part lost for the disk
    assert all(a is not None for a in archived[:20])
    assert all(a is None for a in archived[21:])
    # All removed to make room, but the marked part's image: the window teaches it back from there.
    assert [p for p in root.rglob("*") if p.is_file()] == [Path(archived[2])]
    assert "images are not archived" in summary.alarms["disk"]
    assert any(m.startswith("WARNING: images are not archived") for m in said)
    assert any(m.startswith("ALARM disk:") for m in said)


def _tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def _grainy(seed: int, scratch: bool = False):
    """A 256 px part with sensor grain: about 150 kB as PNG, so that a few hundred fill a small disk."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    big = cv2.resize(part(seed, scratch), (256, 256)).astype(np.int16)
    return np.clip(big + rng.integers(-24, 24, big.shape), 0, 255).astype(np.uint8)


def test_a_line_on_a_small_real_disk_never_stops_for_its_archive(tmp_path):
    """Before the keeper, the archive filled the disk and the line stopped: "the disk holding the inspection
    history ... is full". Here 200 parts (30 MB of images) onto a real 16 MB disk that holds the history and the
    archive."""
    from inference import Engine
    from line_helpers import tiny_line_config

    disk = tmp_path / "disk"
    if not _tmpfs(disk, "16m"):
        pytest.skip("this machine may not mount a tmpfs (needs root)")
    try:
        engine = Engine(tiny_line_config())
        project = tmp_path / "project"
        engine.fit(project, [_grainy(s) for s in range(8)], roi=None)
        engine.calibrate(engine.load(project), [_grainy(s) for s in range(100, 106)],
                         [_grainy(s, True) for s in range(200, 204)])
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        for s in range(200):
            (inbox / f"p{s:03d}.png").write_bytes(png_bytes(_grainy(1000 + s)))
        assert sum(p.stat().st_size for p in inbox.iterdir()) > 1.5 * disk_space_module.disk_space(disk).total
        parts, said = [], []
        with History(disk / "history.sqlite") as history:
            summary = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.05),
                             RunOptions(archive=disk / "archive", idle_exit_s=1.0), on_part=parts.append,
                             on_message=said.append).run()
            assert summary.counts.total == 200 and summary.counts.judged == 200
            assert history.count() == 200
            last = history.get(parts[-1].row_id).archive_path
        assert last is not None and Path(last).exists()
        # The archive turned over before the floor was reached: room is made before an image that would come
        # within a tenth of it is written, so the disk alarm never rose, not even for a moment.
        assert "disk" not in summary.alarms and not [m for m in said if m.startswith("ALARM")]
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], capture_output=True)
