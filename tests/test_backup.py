"""Backups of a project and their restore (station/backup.py, inference/project_backup.py): one checked file
that brings a project back whole on another PC, taken while the line writes its history, and never restored
damaged or over a project."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zipfile

import pytest

from inference import (Engine, InspectorError, ProjectBusyError, check_backup, list_versions, read_audit,
                       read_backup_info)
from inference.project import writing
from inference.project_backup import BACKUP_META
from inference.synthetic import disc
from inspector_cli.main import main
from station import History, Station
from station.backup import back_up, backups_of, restore
from tiny_project import TINY_YAML


@pytest.fixture(scope="module")
def project(tiny_config, tmp_path_factory):
    """A project with two versions (fit, calibrate), the calibrated one active, and inspections in its history."""
    folder = tmp_path_factory.mktemp("backup") / "line-a"
    with Station(folder, Engine(tiny_config)) as st:
        st.teach([disc(i)[0] for i in range(5)])
        st.calibrate([disc(20 + i)[0] for i in range(5)], [disc(40 + i, True)[0] for i in range(2)])
        list(st.inspect([disc(60)[0], disc(61, True)[0]], part_ids=["SN-1", "SN-2"]))
    return folder


def _scores(folder, engine, images):
    with Station(folder, engine, record=False) as st:
        return [(o.verdict, o.score) for o in st.inspect(images)]


def test_a_restored_project_inspects_as_the_original_with_its_versions_audit_and_history(project, tiny_config,
                                                                                       tmp_path):
    info = back_up(project, tmp_path)
    assert info.path.parent == tmp_path and info.path.name.startswith("line-a-") and info.path.suffix == ".zip"
    assert info.active_version == "v2" and info.versions == ("v1", "v2") and info.notes["history_rows"] == 2
    assert not any(p.name.endswith(".tmp") or p.name.startswith(".") for p in tmp_path.iterdir())
    # Each content once: the calibrated v2 holds v1's embeddings and coreset, the top level v2's files.
    assert info.files["versions/v2/embeddings.npy"]["same_as"] == info.files["versions/v1/embeddings.npy"].get(
        "same_as", "versions/v1/embeddings.npy") == "embeddings.npy"
    with zipfile.ZipFile(info.path) as stored:
        assert len(stored.namelist()) - 1 == sum("same_as" not in f for f in info.files.values()) < len(info.files)
    target = tmp_path / "restored" / "line-a"
    restore(info.path, target, who="tech", note="new line PC")
    assert [(v.version, v.active) for v in list_versions(target)] == [(v.version, v.active)
                                                                      for v in list_versions(project)]
    # Stored once on the disk too, as the project was; the hand-editable JSON files as copies.
    assert os.path.samefile(target / "versions" / "v2" / "embeddings.npy", target / "embeddings.npy")
    assert os.path.samefile(target / "versions" / "v1" / "coreset.faiss", target / "coreset.faiss")
    assert not os.path.samefile(target / "versions" / "v2" / "calibration.json", target / "calibration.json")
    audit = read_audit(target)
    assert audit[:-1] == read_audit(project)
    assert audit[-1]["action"] == "restore" and audit[-1]["who"] == "tech" and audit[-1]["note"] == "new line PC"
    assert audit[-1]["new"]["taken"] == info.created and audit[-1]["version"] == "v2"
    with History(target / "history.sqlite") as restored, History(project / "history.sqlite") as original:
        assert [r.to_dict() for r in restored.query()] == [r.to_dict() for r in original.query()]
    images = [disc(70)[0], disc(71, True)[0]]
    engine = Engine(tiny_config)
    assert _scores(target, engine, images) == _scores(project, engine, images)
    assert not (target.parent / ".line-a.restore.tmp").exists()


def test_a_backup_taken_while_the_line_writes_holds_a_consistent_history(project, tiny_config, tmp_path):
    """A file copy of a WAL database taken while a run writes can be torn; SQLite's online backup is not."""
    stop = threading.Event()
    written = []
    with History(project / "history.sqlite") as before:
        first = before.counts().total

    def line():
        with Station(project, Engine(tiny_config)) as st:
            image = disc(80)[0]
            while not stop.is_set():
                written.extend(o.row_id for o in st.inspect([image], part_ids=[f"W-{len(written)}"]))

    writer = threading.Thread(target=line)
    writer.start()
    try:
        while len(written) < 2:
            time.sleep(0.05)
        info = back_up(project, tmp_path / "b.zip")
    finally:
        stop.set()
        writer.join()
    restore(info.path, tmp_path / "r")
    connection = sqlite3.connect(tmp_path / "r" / "history.sqlite")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()
    with History(tmp_path / "r" / "history.sqlite") as restored:
        rows = restored.counts().total
    assert rows == info.notes["history_rows"] and first + 2 <= rows <= first + len(written)


def test_a_damaged_backup_is_refused_and_restores_nothing(project, tmp_path):
    info = back_up(project, tmp_path / "good.zip", history=False)
    assert info.notes["history_rows"] is None and "history.sqlite" not in info.files
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(info.path) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "line-a/coreset.faiss":
                data = data[:-1] + bytes([data[-1] ^ 1])  # one bit, re-zipped with a matching CRC
            dst.writestr(item, data)
    with pytest.raises(InspectorError, match="damaged backup: coreset.faiss does not match its checksum"):
        check_backup(damaged)
    with pytest.raises(InspectorError, match="does not match its checksum"):
        restore(damaged, tmp_path / "r")
    assert not (tmp_path / "r").exists() and not (tmp_path / ".r.restore.tmp").exists()
    truncated = tmp_path / "cut.zip"
    truncated.write_bytes(info.path.read_bytes()[: info.path.stat().st_size // 2])
    with pytest.raises(InspectorError, match="not an Inspector backup"):
        check_backup(truncated)


def test_a_restore_never_writes_over_a_project_and_finishes_after_a_cut_one(project, tmp_path, monkeypatch):
    info = back_up(project, tmp_path / "b.zip")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)  # `inspector restore B .`: a shell there would go on seeing the old, empty folder
    with pytest.raises(InspectorError, match="cannot restore into the folder you are in"):
        restore(info.path, ".")
    monkeypatch.chdir(tmp_path)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(InspectorError, match="exists and is not empty"):
        restore(info.path, occupied)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    cut = tmp_path / ".fresh.restore.tmp"  # what a restore killed half-way leaves
    (cut / "versions").mkdir(parents=True)
    (cut / "manifest.json").write_text("{half")
    empty = tmp_path / "fresh"
    empty.mkdir()
    restore(info.path, empty)
    assert not cut.exists() and [v.version for v in list_versions(empty)] == ["v1", "v2"]


def test_a_backup_waits_out_a_save_or_says_the_project_is_busy(project, tmp_path):
    held, release = threading.Event(), threading.Event()

    def fit_saving():
        with writing(project):
            held.set()
            release.wait(10)

    saver = threading.Thread(target=fit_saving)
    saver.start()
    held.wait(10)
    try:
        with pytest.raises(ProjectBusyError, match="being saved"):
            back_up(project, tmp_path / "now.zip")
        assert not (tmp_path / "now.zip").exists() and list(tmp_path.iterdir()) == []
        threading.Timer(0.5, release.set).start()
        info = back_up(project, tmp_path / "later.zip", wait_s=10)
    finally:
        release.set()
        saver.join()
    assert check_backup(info.path).versions == ("v1", "v2")


def test_a_backup_folder_keeps_the_newest_n_of_this_project(project, tmp_path):
    for stamp in ("20261201-060000", "20261202-060000"):
        (tmp_path / f"line-a-{stamp}.zip").write_bytes(b"older")
    (tmp_path / "line-a-notes.zip").write_bytes(b"not a backup's name")
    (tmp_path / "line-b-20261201-060000.zip").write_bytes(b"another project")
    info = back_up(project, tmp_path, keep=2)
    assert backups_of(tmp_path, "line-a") == [tmp_path / "line-a-20261202-060000.zip", info.path]
    assert (tmp_path / "line-a-notes.zip").exists() and (tmp_path / "line-b-20261201-060000.zip").exists()
    with pytest.raises(InspectorError, match="keep must be 1 or more"):
        back_up(project, tmp_path, keep=0)
    with pytest.raises(InspectorError, match="needs a backup folder that collects them"):  # not silently ignored
        back_up(project, tmp_path / "one.zip", keep=3)
    assert not (tmp_path / "one.zip").exists()


def test_bad_places_and_forged_backups_are_refused_in_one_line(project, tmp_path):
    with pytest.raises(InspectorError, match="inside the project"):
        back_up(project, project / "self.zip")
    with pytest.raises(InspectorError, match="does not exist"):
        back_up(project, tmp_path / "no-such-folder" / "b.zip")
    assert not (project / "self.zip").exists()
    info = back_up(project, tmp_path / "b.zip", history=False)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(info.path) as src, zipfile.ZipFile(forged, "w") as dst:
        meta = json.loads(src.read(BACKUP_META))
        meta["files"]["../../escaped.txt"] = {"bytes": 1, "sha256": "0" * 64}
        dst.writestr(BACKUP_META, json.dumps(meta))
    with pytest.raises(InspectorError, match="names the path '../../escaped.txt'"):
        restore(forged, tmp_path / "r")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "r").exists()
    with zipfile.ZipFile(info.path) as src, zipfile.ZipFile(forged, "w") as dst:
        meta = json.loads(src.read(BACKUP_META))
        meta["files"]["manifest.json"]["same_as"] = "elsewhere.json"
        dst.writestr(BACKUP_META, json.dumps(meta))
    with pytest.raises(InspectorError, match="manifest.json is the same as a file it does not hold"):
        check_backup(forged)
    with pytest.raises(InspectorError, match="not an Inspector backup"):
        check_backup(_plain_zip(tmp_path))
    with pytest.raises(InspectorError, match="backup file not found"):
        read_backup_info(tmp_path / "absent.zip")


def _plain_zip(folder):
    path = folder / "photos.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "hello")
    return path


def test_cli_backs_up_checks_and_restores_with_exit_codes(project, tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_YAML)
    assert main(["backup", str(project), str(tmp_path), "--keep", "3"]) == 0
    out = capsys.readouterr().out
    (made,) = backups_of(tmp_path, "line-a")
    assert "active v2, 2 versions" in out and str(made) in out and "read back and checked" in out
    assert main(["restore", str(made), "--check"]) == 0
    assert "is whole" in capsys.readouterr().out
    assert main(["restore", str(made), str(tmp_path / "new"), "--config", str(config), "--note", "disk died"]) == 0
    out = capsys.readouterr().out
    assert "restored" in out and "it inspects on this machine with its calibrated active version" in out
    assert main(["restore", str(made), str(tmp_path / "new")]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["restore", str(_plain_zip(tmp_path)), "--check"]) == 2
    assert "not an Inspector backup" in capsys.readouterr().err
    assert main(["restore", str(made)]) == 2
    assert "name the new project folder" in capsys.readouterr().err
    assert main(["backup", str(tmp_path / "nothing"), str(tmp_path)]) == 2
    assert "project folder not found" in capsys.readouterr().err
    assert main(["backup", str(project), str(tmp_path), "--wait", "soon"]) == 2
    assert "--wait needs a span" in capsys.readouterr().err


def test_cli_backs_up_every_project_of_a_service_and_names_the_one_that_fails(project, tmp_path, capsys):
    """A service's PC holds many projects: --all backs up each, and a project that cannot be backed up (here: held
    by a save) is named without costing the others theirs; the exit code says one failed."""
    import shutil

    projects = tmp_path / "projects"
    for name in ("line-a", "line-b"):
        shutil.copytree(project, projects / name, ignore=shutil.ignore_patterns(".lock"))
    (projects / "empty").mkdir()  # no model: not a project
    out = tmp_path / "nightly"
    out.mkdir()
    assert main(["backup", str(projects), str(out), "--all", "--no-history"]) == 0
    assert [p.name.rsplit("-", 2)[0] for p in sorted(out.iterdir())] == ["line-a", "line-b"]
    capsys.readouterr()
    held, release = threading.Event(), threading.Event()

    def saving():
        with writing(projects / "line-a"):
            held.set()
            release.wait(10)

    saver = threading.Thread(target=saving)
    saver.start()
    held.wait(10)
    assert main(["backup", str(projects), str(tmp_path / "again"), "--all"]) == 2
    assert "the backup folder" in capsys.readouterr().err and not (tmp_path / "again").exists()
    (tmp_path / "again").mkdir()
    try:
        assert main(["backup", str(projects), str(tmp_path / "again"), "--all", "--wait", "0"]) == 2
    finally:
        release.set()
        saver.join()
    err = capsys.readouterr().err
    assert "line-a: the project" in err and "being saved" in err and "1 of 2 projects not backed up: line-a" in err
    assert [p.name.rsplit("-", 2)[0] for p in (tmp_path / "again").iterdir()] == ["line-b"]
    assert main(["backup", str(projects), str(tmp_path / "x.zip"), "--all"]) == 2
    assert "DEST must be a folder" in capsys.readouterr().err
