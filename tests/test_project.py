import json
import os

import numpy as np
import pytest

from inference import ProjectError
from inference import project as proj


def _save(folder, value, n=4):
    manifest = {"model_id": f"m{value}", "model_version": "x", "value": value}
    return proj.save_model(folder, manifest, np.full((n, 3), value, np.float32), f"coreset{value}".encode())


def test_save_and_load_round_trip(tmp_path):
    saved = _save(tmp_path, 1)
    stored = proj.load_model(tmp_path)
    assert stored.manifest == saved and stored.manifest["schema_version"] == proj.SCHEMA_VERSION
    assert (stored.embeddings == 1).all() and stored.coreset_bytes == b"coreset1"
    assert sorted(os.listdir(tmp_path)) == ["coreset.faiss", "embeddings.npy", "manifest.json"]


def test_crash_while_staging_keeps_the_old_model(tmp_path, monkeypatch):
    _save(tmp_path, 1)
    real = proj.atomic_write

    def dying_write(path, data):
        if path.name == "manifest.json":  # the process dies before COMMIT
            raise OSError("power cut")
        real(path, data)

    monkeypatch.setattr(proj, "atomic_write", dying_write)
    with pytest.raises(OSError):
        _save(tmp_path, 2)
    monkeypatch.setattr(proj, "atomic_write", real)
    stored = proj.load_model(tmp_path)
    assert stored.manifest["value"] == 1 and (stored.embeddings == 1).all()
    assert not (tmp_path / proj.PENDING).exists()


def test_crash_after_commit_rolls_forward(tmp_path, monkeypatch):
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
    with pytest.raises(OSError):
        _save(tmp_path, 2)
    monkeypatch.setattr(os, "replace", real_replace)
    # the folder now holds one new file and the old manifest: loading must finish the save
    stored = proj.load_model(tmp_path)
    assert stored.manifest["value"] == 2 and (stored.embeddings == 2).all() and stored.coreset_bytes == b"coreset2"


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


def test_atomic_write_leaves_no_temp_files_on_failure(tmp_path):
    target = tmp_path / "f.json"
    proj.atomic_write(target, b"old")

    with pytest.raises(TypeError):
        proj.atomic_write(target, object())  # not bytes: the write fails half way
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.json"]
