"""The backup_due alarm (station/backup_watch.py): the line looks at the backup folder the nightly backup fills and
says when a project has no recent backup there, or the folder is gone or hangs, without ever waiting on it; a run
raises and clears the alarm, and the PLC reads it as bit 9."""

import threading
import time
from datetime import datetime, timedelta

import pytest

import station.backup_watch as backup_watch
from inspector_cli.main import main
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes
from station import Station
from station.backup import back_up, backup_path
from station.backup_watch import BackupWatch
from station.history import History
from station.line_io.alarms import ALARM_NAMES, AlarmLimits
from station.line_io.handshake import Handshake

HOUR = 3600.0
NOW = datetime(2026, 12, 6, 9, 0, 0)


def _backup_named(folder, project: str, taken: datetime):
    path = backup_path(f"/anywhere/{project}", folder, taken)
    path.write_bytes(b"PK")  # the watch goes by the name a finished backup takes, not its content
    return path


def test_the_watch_names_a_missing_folder_a_missing_backup_and_an_old_one(tmp_path):
    folder = tmp_path / "backups"
    watch = BackupWatch(folder, ["line-a", "line-b"], every_s=26 * HOUR, now=lambda: NOW)
    assert watch.problem() is None  # nothing is known before the first look
    assert "the backup folder" in watch.look() and "is not there" in watch.problem()
    folder.write_text("a file where the folder should be")
    assert watch.look() == f"the backup folder {folder} is a file, not a folder"
    folder.unlink()

    folder.mkdir()
    _backup_named(folder, "line-a", NOW - timedelta(hours=2))
    _backup_named(folder, "line-a-old", NOW - timedelta(hours=1))  # another project whose name begins alike
    (folder / ".inspector-backup-x1y2").mkdir()  # a backup being written: no name yet
    (folder / "line-b.zip").write_bytes(b"PK")  # a single-file backup: no time in its name
    problem = watch.look()
    assert problem == f"no backup of line-b in {folder}; backups are due every 26.0 h"

    _backup_named(folder, "line-b", NOW - timedelta(hours=30))
    _backup_named(folder, "line-b", NOW - timedelta(days=9))
    assert watch.look() == (f"no backup of line-b in {folder} for 30.0 h (the newest: line-b-20261205-030000.zip); "
                            "backups are due every 26.0 h")
    assert watch.problem() == watch.look()
    _backup_named(folder, "line-b", NOW - timedelta(hours=25))
    assert watch.look() is None and watch.problem() is None
    _backup_named(folder, "line-b", NOW - timedelta(hours=1))
    often = BackupWatch(folder, ["line-b"], every_s=90, now=lambda: NOW)  # spans said in units that fit them
    assert often.look().endswith("for 60 min (the newest: line-b-20261206-080000.zip); backups are due every 90 s")


def test_a_backup_taken_by_inspector_backup_clears_it(tmp_path):
    _, project = make_project(tmp_path / "line-a")
    folder = tmp_path / "backups"
    folder.mkdir()
    watch = BackupWatch(folder, ["line-a"], every_s=HOUR)
    assert watch.look().startswith("no backup of line-a")
    assert main(["backup", str(project), str(folder), "--keep", "3"]) == 0
    assert watch.look() is None


def test_a_folder_that_hangs_is_named_and_never_holds_up_the_caller(tmp_path, monkeypatch):
    """A network share can hang for minutes: the look is on the watch's thread; the line's loop only reads."""
    folder = tmp_path / "share"
    folder.mkdir()
    released = threading.Event()
    real = backup_watch.backups_of

    def hanging(*args):
        released.wait(30)
        return real(*args)

    monkeypatch.setattr(backup_watch, "backups_of", hanging)
    watch = BackupWatch(folder, ["line-a"], every_s=HOUR, check_s=0.05, hung_s=0.3)
    watch.start()
    try:
        deadline = time.monotonic() + 10
        while "has not answered" not in (watch.problem() or "") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert f"the backup folder {folder} has not answered for" in watch.problem()
        released.set()
        while "has not answered" in (watch.problem() or "") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watch.problem().startswith("no backup of line-a")  # the folder answered: what it holds
    finally:
        released.set()
        watch.close()


def test_a_run_raises_backup_due_until_a_backup_is_there_and_the_plc_reads_bit_9(tmp_path):
    engine, project = make_project(tmp_path / "line-a")
    folder = tmp_path / "backups"
    folder.mkdir()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "p1.png").write_bytes(png_bytes(part(300)))
    handshake = Handshake()
    bits = []
    handshake.subscribe(lambda s: bits.append(s.alarm_bits))
    options = RunOptions(idle_exit_s=1.0, backups=folder, backup_every_s=26 * HOUR, plcs=[handshake],
                         alarm_limits=AlarmLimits(yield_min=None, drift_warn_at=None))

    def run():
        messages = []
        with History(tmp_path / "h.sqlite") as history:
            summary = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.2), options,
                             on_message=messages.append).run()
        return summary, messages

    summary, messages = run()
    assert f"ALARM backup_due: no backup of line-a in {folder}; backups are due every 26.0 h" in messages
    assert set(summary.alarms) == {"backup_due"}
    assert bits[-1] == 1 << ALARM_NAMES.index("backup_due") == 1 << 9

    back_up(project, folder)
    (inbox / "p2.png").write_bytes(png_bytes(part(301)))
    summary, messages = run()
    assert summary.alarms == {} and not any("backup_due" in m for m in messages)


@pytest.mark.parametrize("argv, words", [
    (["--backup-every", "8h"], "--backup-every goes with --backups DIR"),
    (["--backups", "B", "--backup-every", "soon"], "--backup-every needs a span above 0"),
])
def test_backup_options_that_do_not_go_together_are_one_line(tmp_path, capsys, argv, words):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    argv = [a.replace("B", str(tmp_path / "b")) if a == "B" else a for a in argv]
    assert main(["run", str(tmp_path / "nowhere"), "--source", str(inbox), *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_serve_carries_backup_due_per_project_in_health_and_metrics(tmp_path, monkeypatch):
    """`inspector serve --backups DIR`: each project that had line inspections is watched by its publisher."""
    import httpx

    from inspector_service.app import create_app
    from inspector_service.line import ServiceLine
    from service_helpers import LiveServer
    from station.line_io.metrics import LineMetrics

    monkeypatch.setattr(backup_watch, "CHECK_S", 0.1)  # the product looks once a minute
    engine, proj = make_project(tmp_path / "projects" / "proj")
    folder = tmp_path / "backups"
    folder.mkdir()
    line = ServiceLine(LineMetrics(), backups=folder, backup_every_s=26 * HOUR)
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, line=line)).start()

    def health():
        return httpx.get(f"{server.url}/health", timeout=30).json()["alarms"]

    try:
        r = httpx.post(f"{server.url}/projects/proj/infer", timeout=120,
                       files=[("images", ("p.png", png_bytes(part(800)), "image/png"))])
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 30
        while "proj" not in health() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert health()["proj"]["backup_due"] == f"ALARM backup_due: no backup of proj in {folder}; backups are " \
                                                 "due every 26.0 h"
        body = httpx.get(f"{server.url}/metrics", timeout=30).text
        assert 'inspector_alarm_active{alarm="backup_due",project="proj"} 1.0' in body
        back_up(proj, folder)
        while "proj" in health() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "proj" not in health()
    finally:
        server.stop()
