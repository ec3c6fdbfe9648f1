import json
import multiprocessing
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from inference import ModelRecord, ProjectError, calibrate
from inference import project as proj
from inference.errors import ProjectBusyError, StorageError


def manifest_for(value, n=4):
    return {
        "model_id": f"m{value}", "model_version": "x", "app_version": "t", "value": value,
        "backbone": {"name": "b", "timm_name": "b", "kind": "cnn", "feature_dim": 3, "weights": {}},
        "input_size": 32, "token_shape": [2, 2], "config": {}, "roi": {"type": "circle", "cx": 1, "cy": 1, "r": 1},
        "mm_per_px": None, "n_images": 1, "images": [], "n_embeddings": n, "coreset_size": n,
    }


def record_for(value, n=4):
    """A model record for the writer tests: `value` rides along as a key this version does not know."""
    return ModelRecord.from_dict({**manifest_for(value, n), "schema_version": proj.SCHEMA_VERSION, "files": {}},
                                 Path("manifest.json"))


def _save(folder, value, n=4):
    return proj.save_model(folder, record_for(value, n), np.full((n, 3), value, np.float32),
                           f"coreset{value}".encode()).record


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_save_and_load_round_trip(tmp_path):
    saved = _save(tmp_path, 1)
    stored = proj.load_model(tmp_path)
    assert stored.record == saved and stored.record.schema_version == proj.SCHEMA_VERSION
    assert json.loads((tmp_path / "manifest.json").read_text()) == saved.to_dict()
    assert (stored.embeddings == 1).all() and stored.coreset_bytes == b"coreset1"
    assert sorted(os.listdir(tmp_path)) == [".lock", "active_version.json", "coreset.faiss", "embeddings.npy",
                                            "manifest.json", "versions"]
    # The version holds the same files, and version.json says what it is.
    assert sorted(os.listdir(tmp_path / "versions" / "v1")) == ["coreset.faiss", "embeddings.npy", "manifest.json",
                                                                "version.json"]
    assert [v.version for v in proj.list_versions(tmp_path)] == ["v1"] and proj.active_version(tmp_path) == "v1"


def test_crash_while_staging_keeps_the_old_model(tmp_path, monkeypatch):
    _save(tmp_path, 1)
    real = proj.atomic_write

    class Death(BaseException):
        """The process dies here: no handler of the writer runs."""

    def dying_write(path, data):
        if path.name == "manifest.json":  # the process dies before COMMIT
            raise Death()
        real(path, data)

    monkeypatch.setattr(proj, "atomic_write", dying_write)
    with pytest.raises(Death):
        _save(tmp_path, 2)
    monkeypatch.setattr(proj, "atomic_write", real)
    stored = proj.load_model(tmp_path)
    assert stored.record.extra["value"] == 1 and (stored.embeddings == 1).all()
    # The version being written never got its name: v1 is the only version and stays active.
    assert [v.version for v in proj.list_versions(tmp_path)] == ["v1"] and proj.active_version(tmp_path) == "v1"
    proj.save_settings(tmp_path, {})  # the next writer clears whatever staging is left
    assert not (tmp_path / proj.PENDING).exists() and proj.load_model(tmp_path).record.extra["value"] == 1
    assert not list((tmp_path / "versions").glob(".*"))


def test_crash_after_commit_reads_as_the_new_model_and_the_next_writer_finishes(tmp_path, monkeypatch):
    _save(tmp_path, 1)
    real_replace = os.replace
    moved = []

    def dying_replace(src, dst):
        if str(src).startswith(str(tmp_path / proj.PENDING)) and not str(src).endswith(".tmp"):
            if moved:  # first model file moved in, then the power goes
                raise OSError("power cut")
            moved.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(StorageError):
        _save(tmp_path, 2)
    monkeypatch.setattr(os, "replace", real_replace)
    # The folder holds one new file and the old manifest; the staged rest is what a reader must see.
    before = _snapshot(tmp_path)
    stored = proj.load_model(tmp_path)
    assert stored.record.extra["value"] == 2 and (stored.embeddings == 2).all() and stored.coreset_bytes == b"coreset2"
    assert _snapshot(tmp_path) == before  # the reader changed nothing
    proj.save_settings(tmp_path, {"x": 1})
    assert not (tmp_path / proj.PENDING).exists() and proj.load_model(tmp_path).record.extra["value"] == 2


def test_a_read_only_copy_of_a_committed_unfinished_save_loads(tmp_path, monkeypatch):
    _save(tmp_path, 1)
    monkeypatch.setenv(proj.CRASH_AT_ENV, "move:manifest.json")
    monkeypatch.setattr(proj, "_checkpoint", lambda step: (_ for _ in ()).throw(OSError("killed"))
                        if step == "move:manifest.json" else None)
    with pytest.raises(StorageError):
        _save(tmp_path, 2)
    for p in [tmp_path, *tmp_path.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        assert proj.load_model(tmp_path).record.extra["value"] == 2
    finally:
        for p in [tmp_path, *tmp_path.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)


def test_truncated_and_missing_files_are_named(tmp_path):
    _save(tmp_path, 1)
    data = (tmp_path / "coreset.faiss").read_bytes()
    (tmp_path / "coreset.faiss").write_bytes(data[:3])
    with pytest.raises(ProjectError, match="coreset.faiss .* corrupt or truncated"):
        proj.load_model(tmp_path)
    (tmp_path / "coreset.faiss").unlink()
    with pytest.raises(ProjectError, match="coreset.faiss is missing"):
        proj.load_model(tmp_path)


def test_newer_schema_and_non_projects(tmp_path):
    _save(tmp_path, 1)
    m = json.loads((tmp_path / "manifest.json").read_text())
    m["schema_version"] = proj.SCHEMA_VERSION + 1
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ProjectError, match="newer version .* update the application"):
        proj.load_model(tmp_path)
    with pytest.raises(ProjectError, match="not found"):
        proj.load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="holds no fitted model"):
        proj.load_model(tmp_path / "empty")
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ProjectError, match="not valid JSON"):
        proj.load_model(tmp_path)


@pytest.mark.parametrize("edit,match", [
    (lambda m: m.pop("roi"), "lacks roi"),
    (lambda m: m.update(n_embeddings="4"), "'n_embeddings' must be int"),
    (lambda m: m.update(token_shape=[2]), "token_shape"),
    (lambda m: m["backbone"].pop("feature_dim"), "backbone.feature_dim"),
    (lambda m: m.update(files=[]), "'files' must be dict"),
    (lambda m: m.update(mm_per_px=-1), "mm_per_px"),
    (lambda m: m.update(coreset_size=99), "coreset_size exceeds"),
])
def test_a_manifest_with_missing_keys_or_wrong_types_is_named(tmp_path, edit, match):
    _save(tmp_path, 1)
    m = json.loads((tmp_path / "manifest.json").read_text())
    edit(m)
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ProjectError, match=match):
        proj.read_manifest(tmp_path)


def test_atomic_write_leaves_no_temp_files_on_failure(tmp_path):
    target = tmp_path / "f.json"
    proj.atomic_write(target, b"old")

    with pytest.raises(TypeError):
        proj.atomic_write(target, object())  # not bytes: the write fails half way
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.json"]


def test_a_failed_write_before_the_commit_leaves_no_staging(tmp_path, monkeypatch):
    _save(tmp_path, 1)
    monkeypatch.setattr(proj, "_checkpoint", lambda step: (_ for _ in ()).throw(OSError(28, "No space left"))
                        if step == "stage:manifest.json" else None)
    with pytest.raises(StorageError, match="no space left"):
        _save(tmp_path, 2)
    assert not (tmp_path / proj.PENDING).exists() and proj.load_model(tmp_path).record.extra["value"] == 1


def test_the_next_writer_removes_temp_files_a_killed_write_left(tmp_path):
    _save(tmp_path, 1)
    (tmp_path / ".embeddings.npy.123.456.tmp").write_bytes(b"half")
    _save(tmp_path, 2)
    assert not list(tmp_path.glob(".*.tmp"))


def test_project_files_follow_the_umask(tmp_path):
    _save(tmp_path, 1)
    mode = stat.S_IMODE((tmp_path / "manifest.json").stat().st_mode)
    assert mode == proj.FILE_MODE and mode & 0o044  # the usual 022 umask: readable by the group and others


def _hold_lock(folder, ready, release):
    with proj.writing(folder):
        ready.set()
        release.wait(30)


def test_a_second_writer_is_refused_while_another_process_saves(tmp_path):
    _save(tmp_path, 1)
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        before = _snapshot(tmp_path)
        with pytest.raises(ProjectBusyError, match="being saved by another process"):
            _save(tmp_path, 2)
        assert proj.load_model(tmp_path).record.extra["value"] == 1 and _snapshot(tmp_path) == before
    finally:
        release.set()
        holder.join(30)
    _save(tmp_path, 2)
    assert proj.load_model(tmp_path).record.extra["value"] == 2


def test_calibration_is_sealed_into_the_model(tmp_path):
    _save(tmp_path, 1)
    cal = calibrate([1.0, 2.0, 3.0], [9.0])
    cal.model_id = "m1"
    proj.save_calibration(tmp_path, cal)
    stored = proj.load_model(tmp_path)
    assert stored.calibration.threshold == cal.threshold and stored.calibration_note == ""
    # Edited by hand to pass everything: no verdict, and the reason says so.
    data = json.loads((tmp_path / "calibration.json").read_text())
    data["threshold"] = 1e9
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    stored = proj.load_model(tmp_path)
    assert stored.calibration is None and "changed outside the application" in stored.calibration_note
    (tmp_path / "calibration.json").unlink()
    assert "missing though the model was calibrated" in proj.load_model(tmp_path).calibration_note
    _save(tmp_path, 2)  # a refit: the earlier calibration no longer belongs
    proj.atomic_write(tmp_path / "calibration.json", proj.json_bytes(cal.to_dict()))
    assert proj.load_model(tmp_path).calibration is None


def test_a_calibration_for_another_model_is_not_saved(tmp_path):
    _save(tmp_path, 1)
    cal = calibrate([1.0])
    cal.model_id = "other"
    before = _snapshot(tmp_path)
    with pytest.raises(ProjectError, match="calibrate again"):
        proj.save_calibration(tmp_path, cal)
    assert _snapshot(tmp_path) == before


def test_writing_onto_a_file_or_a_read_only_folder_is_named(tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(ProjectError, match="is a file, not a project folder"):
        _save(f, 1)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that ignores permissions")
        with pytest.raises(StorageError, match="permission denied"):
            _save(ro / "p", 1)
    finally:
        ro.chmod(0o755)


def test_a_calibration_shares_the_model_files_it_does_not_change(tmp_path):
    """A calibration's version and the top level link to the fitted version's model files (one copy on the disk);
    the hand-editable JSON files are copies, so an edit in place at the top level leaves the versions intact."""
    from inference.project_blobs import ArrayBlob
    from inference.project_files import sha256_bytes

    import io

    saved = _save(tmp_path, 1, n=6)
    written = io.BytesIO()
    np.save(written, np.full((6, 3), 1, np.float32), allow_pickle=False)
    assert saved.files["embeddings.npy"] == sha256_bytes(written.getvalue())
    assert ArrayBlob(np.full((6, 3), 1, np.float32)).sha256 == saved.files["embeddings.npy"]
    cal = calibrate([1.0, 2.0, 3.0], [9.0])
    cal.model_id = "m1"
    proj.save_calibration(tmp_path, cal)
    v1, v2 = tmp_path / "versions" / "v1", tmp_path / "versions" / "v2"
    for name in ("embeddings.npy", "coreset.faiss"):
        assert os.path.samefile(v1 / name, v2 / name) and os.path.samefile(v2 / name, tmp_path / name)
    for name in ("calibration.json", "manifest.json"):
        assert not os.path.samefile(v2 / name, tmp_path / name)
    assert proj.load_model(tmp_path).calibration.threshold == cal.threshold
    # Edited in place (a text editor that writes into the file): no verdict at the top level, the version intact.
    with open(tmp_path / "calibration.json", "r+", encoding="utf-8") as fh:
        data = json.loads(fh.read())
        data["threshold"] = 1e9
        fh.seek(0)
        fh.write(json.dumps(data))
        fh.truncate()
    assert proj.load_model(tmp_path).calibration is None
    proj.activate(tmp_path, "v1")
    proj.activate(tmp_path, "v2")
    assert proj.load_model(tmp_path).calibration.threshold == cal.threshold
    # A shared model file damaged in place is damaged in every version that shares it, and named in each.
    with open(tmp_path / "embeddings.npy", "r+b") as fh:
        fh.seek(-4, os.SEEK_END)
        fh.write(b"\0\0\0\1")
    for folder in (tmp_path, v1, v2):
        with pytest.raises(ProjectError, match="embeddings.npy .*checksum mismatch"):
            proj.load_model(folder)
    with pytest.raises(ProjectError, match="checksum mismatch"):
        proj.activate(tmp_path, "v1")


def test_without_hard_links_the_files_are_copied(tmp_path, monkeypatch):
    import errno

    def no_links(source, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    _save(tmp_path, 1, n=6)
    cal = calibrate([1.0, 2.0, 3.0], [9.0])
    cal.model_id = "m1"
    proj.save_calibration(tmp_path, cal)
    v1, v2 = tmp_path / "versions" / "v1", tmp_path / "versions" / "v2"
    for name in ("embeddings.npy", "coreset.faiss"):
        assert not os.path.samefile(v1 / name, v2 / name) and (v1 / name).read_bytes() == (v2 / name).read_bytes()
        assert not os.path.samefile(v2 / name, tmp_path / name)
    stored = proj.load_model(tmp_path)
    assert stored.calibration.threshold == cal.threshold and (stored.embeddings == 1).all()
    assert not [p for p in tmp_path.rglob("*.tmp")]
