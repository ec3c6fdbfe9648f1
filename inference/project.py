"""The only module that writes project folders.

A project folder holds manifest.json, embeddings.npy, coreset.faiss and
calibration.json. Single files are written atomically (temp file, fsync,
os.replace). A model (embeddings + coreset + manifest) changes as one unit:
the new files are staged in .pending/, a COMMIT marker is written, then the
files are moved in with manifest.json last. A crash before COMMIT leaves the
old model; a crash after it is rolled forward on the next load. Either way
the folder never holds half of one model and half of another.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .calibration import Calibration
from .errors import ProjectError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
EMBEDDINGS = "embeddings.npy"
CORESET = "coreset.faiss"
CALIBRATION = "calibration.json"
SETTINGS = "settings.json"
PENDING = ".pending"
COMMIT_MARKER = "COMMIT"
MODEL_FILES = (EMBEDDINGS, CORESET)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return  # directories cannot be opened for fsync on Windows; os.replace is still atomic there
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode("utf-8")


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


@dataclass
class StoredModel:
    """A project's model as read from disk, checked against its manifest."""

    folder: Path
    manifest: dict
    embeddings: np.ndarray
    coreset_bytes: bytes
    calibration: Optional[Calibration]
    calibration_note: str = ""


def recover(folder: Path) -> None:
    """Finish or discard an interrupted model save (see module docstring)."""
    pending = folder / PENDING
    if not pending.is_dir():
        return
    if (pending / COMMIT_MARKER).is_file():
        # Every staged model file (embeddings, coreset, an alignment reference), the manifest last.
        staged_files = sorted(p.name for p in pending.iterdir() if p.is_file() and not p.name.startswith("."))
        names = [n for n in staged_files if n not in (MANIFEST, COMMIT_MARKER)] + [MANIFEST]
        for name in names:
            staged = pending / name
            if staged.is_file():
                os.replace(staged, folder / name)
        _fsync_dir(folder)
    shutil.rmtree(pending, ignore_errors=True)


def save_model(folder: Path, manifest: dict, embeddings: np.ndarray, coreset: bytes,
               extra_files: Optional[dict[str, bytes]] = None) -> dict:
    """Write a new model as one unit and return the manifest as saved (with file hashes).

    `extra_files` (name -> bytes, e.g. the alignment reference image) belong to the
    model: checksummed in the manifest and moved in with it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    pending = folder / PENDING
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir()
    blobs = {EMBEDDINGS: npy_bytes(np.ascontiguousarray(embeddings, dtype=np.float32)), CORESET: coreset}
    for name, data in (extra_files or {}).items():
        if name in (MANIFEST, COMMIT_MARKER, CALIBRATION, SETTINGS, *MODEL_FILES) or Path(name).name != name:
            raise ProjectError(f"{name!r} cannot be stored as a model file")
        blobs[name] = data
    manifest = dict(manifest)
    manifest["schema_version"] = SCHEMA_VERSION
    manifest["files"] = {name: sha256_bytes(data) for name, data in blobs.items()}
    for name, data in blobs.items():
        atomic_write(pending / name, data)
    atomic_write(pending / MANIFEST, json_bytes(manifest))
    atomic_write(pending / COMMIT_MARKER, b"ok\n")
    recover(folder)
    return manifest


def copy_model(source: Path, target: Path) -> None:
    """Copy a project's model (checked on read) and its calibration to another folder, e.g. Save As.

    The copy keeps model_id, so the calibration stays valid for it.
    """
    stored = load_model(Path(source))
    manifest = {k: v for k, v in stored.manifest.items() if k != "files"}
    extra = {name: read_model_file(Path(source), name, stored.manifest)
             for name in stored.manifest.get("files", {}) if name not in MODEL_FILES}
    save_model(Path(target), manifest, stored.embeddings, stored.coreset_bytes, extra)
    calibration = Path(source) / CALIBRATION
    if calibration.is_file():
        atomic_write(Path(target) / CALIBRATION, calibration.read_bytes())


def save_calibration(folder: Path, calibration: Calibration) -> None:
    atomic_write(Path(folder) / CALIBRATION, json_bytes(calibration.to_dict()))


def save_settings(folder: Path, settings: dict) -> None:
    """GUI-side project settings (ROI being edited, config for the next fit); not part of the model."""
    atomic_write(Path(folder) / SETTINGS, json_bytes(settings))


def load_settings(folder: Path) -> dict:
    path = Path(folder) / SETTINGS
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{path} is not valid JSON ({exc})") from None


def has_model(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / MANIFEST).is_file() or (folder / PENDING / COMMIT_MARKER).is_file()


def read_manifest(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise ProjectError(f"project folder not found: {folder}")
    recover(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ProjectError(f"{folder} holds no fitted model ({MANIFEST} missing): run fit first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ProjectError(f"{path} is not a manifest")
    schema = manifest.get("schema_version")
    if not isinstance(schema, int):
        raise ProjectError(f"{path} has no schema_version: not a project of this application")
    if schema > SCHEMA_VERSION:
        raise ProjectError(
            f"project {folder} was saved by a newer version (schema {schema}); this version reads up to "
            f"schema {SCHEMA_VERSION}: update the application"
        )
    return manifest


def _read_checked(folder: Path, name: str, manifest: dict) -> bytes:
    path = folder / name
    if not path.is_file():
        raise ProjectError(f"{name} is missing from {folder}: the model cannot be used; refit it")
    data = path.read_bytes()
    expected = manifest.get("files", {}).get(name)
    if expected is None:
        raise ProjectError(f"manifest of {folder} has no checksum for {name}: refit the model")
    if sha256_bytes(data) != expected:
        raise ProjectError(f"{name} in {folder} is corrupt or truncated (checksum mismatch): refit the model")
    return data


def read_model_file(folder: Path, name: str, manifest: dict) -> bytes:
    """A model file beyond embeddings and coreset (e.g. the alignment reference), checked against the manifest."""
    return _read_checked(Path(folder), name, manifest)


def load_model(folder: Path) -> StoredModel:
    folder = Path(folder)
    manifest = read_manifest(folder)
    emb_bytes = _read_checked(folder, EMBEDDINGS, manifest)
    coreset = _read_checked(folder, CORESET, manifest)
    try:
        embeddings = np.load(io.BytesIO(emb_bytes), allow_pickle=False)
    except ValueError as exc:
        raise ProjectError(f"{EMBEDDINGS} in {folder} cannot be read ({exc}): refit the model") from None
    calibration, note = load_calibration(folder, manifest.get("model_id"))
    return StoredModel(folder, manifest, embeddings, coreset, calibration, note)


def load_calibration(folder: Path, model_id: Optional[str]) -> tuple[Optional[Calibration], str]:
    """The calibration, or None with the reason it cannot be used for this model."""
    path = Path(folder) / CALIBRATION
    if not path.is_file():
        return None, "not calibrated"
    try:
        cal = Calibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise ProjectError(f"{path} cannot be read ({exc}): calibrate again") from None
    if model_id is not None and cal.model_id != model_id:
        return None, "calibration belongs to an earlier fit: calibrate again"
    return cal, ""
