"""The version half of the project writer (project.py calls these, under the project lock, and they write only
through project.py's atomic_write / _commit / _checkpoint, so the fault suite's cuts reach them too).

A version is versions/vN/: its model files, manifest.json and version.json, written into a temp folder and
renamed into place whole. Activating one commits its files to the project's top level with active_version.json.
"""

from __future__ import annotations

import getpass
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from . import project as _p
from .calibration import Calibration
from .errors import InspectorError, plain_os_error
from .model_record import ModelRecord
from . import project_blobs as _blobs
from .project_files import ACTIVE, CALIBRATION, MANIFEST, VERSION_META, VERSIONS, version_number
from .project_reader import (active_version, calibration_summary, has_model, load_calibration, read_model_file,
                             read_record, version_folder)


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a service account without one)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def version_blobs(source: Path, record: ModelRecord, without: tuple = ()) -> dict:
    """The model files of a version (or the top level), each checked against its manifest, as stored files: the
    version written from them links to them (project_blobs), never reading them into memory."""
    return {name: _blobs.stored_file(source, name, record) for name in record.files if name not in without}


def migrate(folder: Path) -> None:
    """A project saved before versions existed: its model becomes v1, the active version."""
    if (folder / VERSIONS).is_dir() or not has_model(folder):
        return
    record = read_record(folder)
    blobs = version_blobs(folder, record, without=(CALIBRATION,))
    cal, _ = load_calibration(folder, record)
    if CALIBRATION in record.files and cal is not None:
        blobs[CALIBRATION] = read_model_file(folder, CALIBRATION, record)
    blobs[MANIFEST] = _p.json_bytes(record.to_dict())
    write_version(folder, "v1", blobs, version_meta("v1", record, {"action": "import", "note": "saved before model "
                                                             "versions existed"}, cal))
    _p.atomic_write(folder / ACTIVE, _p.json_bytes({"version": "v1"}))


def new_version(folder: Path, blobs: dict, record: ModelRecord, origin: dict, cal: Optional[Calibration]) -> str:
    root = folder / VERSIONS
    numbers = [version_number(p.name) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if root.is_dir() else []
    vid = f"v{max(numbers, default=0) + 1}"
    write_version(folder, vid, blobs, version_meta(vid, record, origin, cal))
    return vid


def version_meta(vid: str, record: ModelRecord, origin: dict, cal: Optional[Calibration]) -> dict:
    return {"version": vid, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "action": origin.get("action", "fit"), "based_on": origin.get("based_on"),
            "who": origin.get("who") or os_user(), "note": origin.get("note", ""), "model_id": record.model_id,
            "n_images": record.n_images, "calibration": calibration_summary(cal)}


def write_version(folder: Path, vid: str, blobs: dict, meta: dict) -> None:
    """The version's files in a temp folder, then renamed into place whole (readers never see half of one)."""
    root = folder / VERSIONS
    tmp = root / f".{vid}.tmp"
    try:
        root.mkdir(exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise plain_os_error(exc, root, "save a model version into") from None
    try:
        for name, data in blobs.items():
            _blobs.write_blob(tmp / name, data)
        _p.atomic_write(tmp / VERSION_META, _p.json_bytes(meta))
        _p._checkpoint("version")
        os.rename(tmp, root / vid)
        _p._fsync_dir(root)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise plain_os_error(exc, root, "save a model version into") from None
        raise


def activate_files(folder: Path, vid: str) -> None:
    source = version_folder(folder, vid)
    record = read_record(source)
    # A file the top level holds already (the same file: a calibration's bank) is left where it is: renaming a
    # hard link over another link to the same file does nothing on POSIX, and need not work elsewhere.
    blobs = {name: blob for name, blob in version_blobs(source, record).items()
             if not _blobs.already_at(blob, folder / name)}
    blobs[MANIFEST] = _p.json_bytes(record.to_dict())
    blobs[ACTIVE] = _p.json_bytes({"version": vid})
    current = read_record(folder).files if (folder / MANIFEST).is_file() else {}
    _p._commit(folder, blobs, remove=tuple(n for n in current if n not in record.files))


def active_gives_verdicts(folder: Path) -> bool:
    if not has_model(folder):
        return False
    try:
        return load_calibration(folder)[0] is not None
    except InspectorError:
        return False


def prune(folder: Path, keep: int) -> None:
    """Remove the oldest versions beyond `keep` (never the active one)."""
    root = folder / VERSIONS
    if keep < 1 or not root.is_dir():
        return
    active = active_version(folder)
    names = sorted((p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=version_number)
    for name in names[:-keep] if len(names) > keep else ():
        if name != active:
            try:
                shutil.rmtree(root / name)
            except OSError as exc:
                raise plain_os_error(exc, root / name, "remove an old model version") from None
