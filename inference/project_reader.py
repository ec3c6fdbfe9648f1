"""Reading a project folder, which never deletes, moves or rewrites anything (project.py is the writer).

A reader that finds a COMMIT marker reads the staged files, so a save that was
committed but not finished (the writer was killed, or is moving files right
now) reads as the new model, also from a read-only copy. A reader that sees the
manifest change while it reads starts again. A calibration that is missing,
stale, edited by hand or invalid is returned as None with the reason.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np

from .calibration import Calibration, area_unit
from .errors import InspectorError, ProjectBusyError, ProjectError, plain_os_error
from .model_record import ModelRecord
from .project_files import (ACTIVE, AUDIT, CALIBRATION, COMMIT_MARKER, CORESET, EMBEDDINGS, MANIFEST, PENDING,
                            SETTINGS, VERSION_META, VERSIONS, sha256_bytes, version_number)


def _current(folder: Path, name: str) -> Path:
    """Where `name` is now: staged in a committed but unfinished save, else in the folder."""
    staged = folder / PENDING / name
    if (folder / PENDING / COMMIT_MARKER).is_file() and staged.is_file():
        return staged
    return folder / name


def _read(folder: Path, name: str) -> Optional[bytes]:
    """The current bytes of `name`, or None when absent; one retry if a writer moves it meanwhile."""
    for _ in range(2):
        path = _current(folder, name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            continue
        except IsADirectoryError:
            raise ProjectError(f"{path} is a folder where a file belongs: the project is damaged; refit it") from None
        except OSError as exc:
            raise plain_os_error(exc, path, "read") from None
    return None


def load_settings(folder: Path) -> dict:
    data = _read(Path(folder), SETTINGS)
    if data is None:
        return {}
    try:
        settings = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProjectError(f"{Path(folder) / SETTINGS} is not valid JSON ({exc})") from None
    if not isinstance(settings, dict):
        raise ProjectError(f"{Path(folder) / SETTINGS} is not a settings object")
    return settings


def has_model(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / MANIFEST).is_file() or (folder / PENDING / COMMIT_MARKER).is_file()


def file_stamp(path: Path) -> Optional[tuple]:
    """(mtime, size, inode) of a file, None where it is absent: what changes when the file is written or replaced."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def model_stamp(folder: Path) -> tuple:
    """What changes whenever the folder's model or calibration does (a new version activated, a calibration, a
    folder exported again in place): its manifest's, calibration's and active version's file stamps. A client
    holding a loaded model compares stamps to know when to load again."""
    return tuple(file_stamp(Path(folder) / name) for name in (MANIFEST, CALIBRATION, ACTIVE))


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise ProjectError(f"project folder not found: {folder}")
    if not folder.is_dir():
        raise ProjectError(f"{folder} is a file, not a project folder")


def _parse_manifest(folder: Path, data: Optional[bytes]) -> ModelRecord:
    path = folder / MANIFEST
    if data is None:
        raise ProjectError(f"{folder} holds no fitted model ({MANIFEST} missing): run fit first")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProjectError(f"{path} is not valid JSON ({exc}): refit the model") from None
    return ModelRecord.from_dict(manifest, path)


def read_record(folder: Path, version: Optional[str] = None) -> ModelRecord:
    """The project's model record (manifest.json), checked field by field: the active model's, or `version`'s."""
    folder = Path(folder) if version is None else version_folder(folder, version)
    _check_folder(folder)
    return _parse_manifest(folder, _read(folder, MANIFEST))


def read_manifest(folder: Path) -> dict:
    """manifest.json as a JSON object (e.g. for `inspector info --json`), checked as read_record checks it."""
    return read_record(folder).to_dict()


@dataclass
class StoredModel:
    """A project's model as read from disk, checked against its manifest."""

    folder: Path
    record: ModelRecord
    embeddings: np.ndarray
    coreset_bytes: bytes
    calibration: Optional[Calibration]
    calibration_note: str = ""


def _checked(folder: Path, name: str, record: ModelRecord, data: Optional[bytes]) -> bytes:
    checked_digest(folder, name, record, None if data is None else sha256_bytes(data))
    return data


def checked_digest(folder: Path, name: str, record: ModelRecord, digest: Optional[str]) -> str:
    """`digest` (the sha256 of `name` as read from `folder`; None: the file is absent) checked against the
    manifest's; the manifest's, or a ProjectError naming what is wrong."""
    if digest is None:
        raise ProjectError(f"{name} is missing from {folder}: the model cannot be used; refit it")
    expected = record.files.get(name)
    if expected is None:
        raise ProjectError(f"manifest of {folder} has no checksum for {name}: refit the model")
    if digest != expected:
        raise ProjectError(f"{name} in {folder} is corrupt or truncated (checksum mismatch): refit the model")
    return expected


def read_model_file(folder: Path, name: str, record: ModelRecord) -> bytes:
    """A model file beyond embeddings and coreset (e.g. the alignment reference), checked against the manifest."""
    return _checked(Path(folder), name, record, _read(Path(folder), name))


def load_model(folder: Path, with_embeddings: bool = True) -> StoredModel:
    """The model, every file checked against the manifest; a save seen half-way is read again."""
    folder = Path(folder)
    _check_folder(folder)
    for _ in range(3):
        before = _read(folder, MANIFEST)
        record = _parse_manifest(folder, before)
        error: Optional[InspectorError] = None
        try:
            emb_bytes = _checked(folder, EMBEDDINGS, record, _read(folder, EMBEDDINGS)) if with_embeddings else None
            coreset = _checked(folder, CORESET, record, _read(folder, CORESET))
            calibration, note = _calibration(folder, record, _read(folder, CALIBRATION))
        except ProjectError as exc:
            error = exc
        if _read(folder, MANIFEST) == before:  # nothing was committed while we read: this is one model
            if error is not None:
                raise error
            break
    else:
        raise ProjectBusyError(f"the project {folder} kept changing while being read: try again")
    embeddings = np.zeros((0, 0), np.float32)
    if emb_bytes is not None:
        try:
            embeddings = np.load(io.BytesIO(emb_bytes), allow_pickle=False)
        except ValueError as exc:
            raise ProjectError(f"{EMBEDDINGS} in {folder} cannot be read ({exc}): refit the model") from None
        width, dim = (embeddings.shape[1] if embeddings.ndim == 2 else None), record.backbone.feature_dim
        if width != dim:
            raise ProjectError(f"{EMBEDDINGS} in {folder} holds features {width} wide (shape {embeddings.shape}) but "
                               f"the model's backbone ({record.backbone.name}) gives {dim}: the file is not this "
                               "model's; refit the model")
    return StoredModel(folder, record, embeddings, coreset, calibration, note)


def load_calibration(folder: Path, record: Optional[ModelRecord] = None) -> tuple[Optional[Calibration], str]:
    """The calibration, or None with the reason it cannot give verdicts for this model."""
    folder = Path(folder)
    record = record if record is not None else read_record(folder)
    return _calibration(folder, record, _read(folder, CALIBRATION))


def _calibration(folder: Path, record: ModelRecord, data: Optional[bytes]) -> tuple[Optional[Calibration], str]:
    sealed = record.files.get(CALIBRATION)
    if data is None:
        if sealed:
            return None, f"{CALIBRATION} is missing though the model was calibrated: calibrate again"
        return None, "not calibrated: run calibrate"
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"{CALIBRATION} is not valid JSON ({exc}): calibrate again"
    if isinstance(raw, dict) and raw.get("model_id") != record.model_id:
        theirs = str(raw.get("model_id"))[:12]
        if sealed:  # this model was calibrated, and this file is not that calibration
            return None, (f"{CALIBRATION} in {folder} is another model's (model_id {theirs}, this project's is "
                          f"{record.model_id[:12]}): copied from another project or written by another program; "
                          "calibrate again")
        return None, (f"{CALIBRATION} in {folder} is for model {theirs}, not this project's model "
                      f"{record.model_id[:12]}: it belongs to an earlier fit or was copied from another project; "
                      "calibrate again")
    if record.schema_version >= 2:  # schema 1 models predate sealing: their calibration is only validated
        if sealed is None:
            return None, (f"{CALIBRATION} is not the one saved with this model (copied in or written by another "
                          "program): calibrate again")
        if sha256_bytes(data) != sealed:
            return None, f"{CALIBRATION} was changed outside the application (checksum mismatch): calibrate again"
    try:
        cal = Calibration.from_dict(raw)
    except InspectorError as exc:
        return None, f"{CALIBRATION} is invalid ({exc}): calibrate again"
    unit = area_unit(record.mm_per_px)
    if cal.min_area_unit not in ("", unit):
        return None, (f"{CALIBRATION} gives its minimum area in {cal.min_area_unit}, this model measures regions "
                      f"in {unit}: calibrate again")
    return replace(cal, min_area_unit=unit), ""  # files of earlier versions lack the unit: the model's


# -- versions and the audit trail (read-only) ----------------------------------------------------------------------
def version_folder(folder: Path, version_id: str) -> Path:
    """Where version `version_id` of the project lies (a complete model folder); ProjectError if absent."""
    folder = Path(folder)
    try:
        version_number(version_id)
    except ValueError as exc:
        raise ProjectError(f"{exc}; `inspector versions {folder}` lists them") from None
    path = folder / VERSIONS / version_id
    if not (path / MANIFEST).is_file():
        if version_id == "v1" and not (folder / VERSIONS).is_dir() and has_model(folder):
            return folder  # a project of an earlier version: its one model is v1
        raise ProjectError(f"{folder} has no version {version_id}; `inspector versions {folder}` lists them")
    return path


def active_version(folder: Path) -> Optional[str]:
    """The active version's name ("v3"); "v1" for a project saved before versions existed; None: no model."""
    folder = Path(folder)
    data = _read(folder, ACTIVE)
    if data is not None:
        try:
            vid = json.loads(data.decode("utf-8"))["version"]
            version_number(vid)
            return vid
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise ProjectError(f"{folder / ACTIVE} is damaged: activate a version again "
                               f"(`inspector versions {folder}` lists them)") from None
    return "v1" if has_model(folder) else None


@dataclass(frozen=True)
class VersionInfo:
    """One model version as `inspector versions` lists it."""

    version: str
    created: str
    action: str  # fit | add | calibrate | import (a project saved before versions existed)
    based_on: Optional[str]
    who: str
    note: str
    model_id: str
    n_images: int
    calibration: Optional[dict]  # threshold, min_area, min_area_unit, method, far, frr, margin, warning
    active: bool

    @property
    def number(self) -> int:
        return version_number(self.version)

    def to_dict(self) -> dict:
        return {"version": self.version, "created": self.created, "action": self.action, "based_on": self.based_on,
                "who": self.who, "note": self.note, "model_id": self.model_id, "n_images": self.n_images,
                "calibration": self.calibration, "active": self.active}


def calibration_summary(cal: Optional[Calibration]) -> Optional[dict]:
    if cal is None:
        return None
    return {"threshold": cal.threshold, "min_area": cal.min_area, "min_area_unit": cal.min_area_unit,
            "method": cal.method, "score_percentile": cal.score_percentile, "n_ok": cal.n_ok, "n_ng": cal.n_ng,
            "far": cal.far, "frr": cal.frr,
            "margin": cal.margin, "warning": cal.warning, "zones": cal.zones, "min_length": cal.min_length}


def list_versions(folder: Path) -> list[VersionInfo]:
    """Every kept version, oldest first; a project saved before versions existed lists its model as v1."""
    folder = Path(folder)
    _check_folder(folder)
    active = active_version(folder)
    found = []
    root = folder / VERSIONS
    names = sorted((p.name for p in root.iterdir() if _is_version_name(p.name)), key=version_number) \
        if root.is_dir() else []
    for name in names:
        meta = _version_meta(root / name)
        if meta is not None:
            found.append(replace(meta, active=name == active))
    if not found and has_model(folder):
        record = read_record(folder)
        cal, _ = load_calibration(folder, record)
        found.append(VersionInfo("v1", record.updated, "import", None, "", "saved before model versions existed",
                                 record.model_id, record.n_images, calibration_summary(cal), True))
    return found


def _is_version_name(name: str) -> bool:
    try:
        version_number(name)
        return True
    except ValueError:
        return False


def _version_meta(path: Path) -> Optional[VersionInfo]:
    try:
        meta = json.loads((path / VERSION_META).read_text(encoding="utf-8"))
        return VersionInfo(meta["version"], meta.get("created", ""), meta.get("action", ""), meta.get("based_on"),
                           meta.get("who", ""), meta.get("note", ""), meta.get("model_id", ""),
                           int(meta.get("n_images", 0)), meta.get("calibration"), False)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{path / VERSION_META} is damaged ({exc})") from None


def read_audit(folder: Path) -> list[dict]:
    """The audit trail, oldest first. A last line torn by a power cut is left out (it was never complete)."""
    path = Path(folder) / AUDIT
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise plain_os_error(exc, path, "read") from None
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            if i != len(lines) - 1:
                raise ProjectError(f"{path} line {i + 1} is damaged: the audit trail was edited by hand") from None
    return rows
