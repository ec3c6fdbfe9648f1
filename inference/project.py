"""The only module that writes project folders.

A project folder holds manifest.json, embeddings.npy, coreset.faiss,
calibration.json and the GUI's settings.json.

Writers. Every write happens under the project lock (an OS file lock on
`.lock`, plus an in-process lock so two jobs of one process exclude each other
too); a second writer gets ProjectBusyError at once. Single files are written
atomically (temp file, fsync, chmod to the user's umask, os.replace). A change
of several files (a new model; a calibration with the manifest that seals it)
is one commit: the files are staged in .pending/, a COMMIT marker is written,
then they are moved in with manifest.json last. Only a writer, under the lock,
finishes (COMMIT present) or discards (absent) an interrupted commit, and
removes temp files a killed write left behind.

Readers (project_reader.py, re-exported here) never delete, move or rewrite
anything. A reader that finds a COMMIT marker reads the staged files, so a save that was committed but not finished
(the writer was killed, or is moving files right now) reads as the new model,
also from a read-only copy. A reader that sees the files change under it
retries. Either way a reader sees the complete old or the complete new model.

The calibration is sealed into the model: manifest.json records its sha256 and
calibration.json records the model_id. A calibration that is missing, stale,
edited by hand or invalid gives no verdict, with the reason.

Versions. Every fit, add and calibration is a new immutable version,
versions/vN/ (its model files, manifest.json, version.json), written into a
temp folder and renamed into place whole. The top level holds the active
version's files and active_version.json names it; activating a version puts
its files at the top level as one commit (hard links to the version's model files where the file system has
them, project_blobs.py) (files the version lacks, e.g. a
calibration, are removed by the same commit), so a reader sees the old active
version or the new one. A project saved before versions existed becomes v1 at
its first write. The oldest versions beyond `keep` are removed (never the
active one). The audit trail (audit.jsonl) is appended to, one JSON line per
change, under the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Iterator, Optional

import numpy as np
from filelock import FileLock, Timeout

from .calibration import Calibration
from .errors import ProjectBusyError, ProjectError, StorageError, plain_os_error
from .manifest import SCHEMA_VERSION
from .model_record import ModelRecord
from .project_files import (ACTIVE, AUDIT, CALIBRATION, COMMIT_MARKER, CORESET, EMBEDDINGS, LOCK, MANIFEST,
                            MODEL_FILES, PENDING, SETTINGS, VERSION_META, VERSIONS, sha256_bytes)
# The readers, re-exported: callers use project.load_model etc. as before.
from .project_reader import (  # noqa: F401
    StoredModel,
    VersionInfo,
    active_version,
    calibration_summary,
    has_model,
    list_versions,
    read_audit,
    version_folder,
    load_calibration,
    load_model,
    load_settings,
    model_stamp,
    read_manifest,
    read_model_file,
    read_record,
)

# Test hook for the fault suite (tests/test_faults.py, bench/bench_faults.py): a comma-separated list of
# commit steps at which the process kills itself with SIGKILL, as a power cut or `kill -9` would, or, for
# a step written "int@STEP", gets a Ctrl+C there.
CRASH_AT_ENV = "INSPECTOR_TEST_CRASH_AT"


def _read_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, once, at import
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_read_umask()


def _checkpoint(step: str) -> None:
    """A named step of the commit path where the fault suite may cut the power."""
    targets = os.environ.get(CRASH_AT_ENV)
    if not targets:
        return
    targets = targets.split(",")
    if step in targets:
        os.kill(os.getpid(), signal.SIGKILL)
    if f"int@{step}" in targets:
        raise KeyboardInterrupt


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix.

    Permission, read-only and disk-full faults become a StorageError naming the path.
    """
    with atomic_writer(path, binary=True) as fh:
        fh.write(data)


@contextmanager
def atomic_writer(path: Path, binary: bool = False) -> Iterator[IO]:
    """A file written piece by piece (text, or bytes with `binary`) that appears at `path` whole, or not at all:
    a temp file beside it, fsynced, given the umask's mode, then os.replace'd (e.g. a JSON report of thousands
    of results, streamed instead of held in memory)."""
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"cannot write {path}: it is a folder; give a file name")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 while it is partial; the umask's mode once it is whole (below).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fh = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")
    except OSError as exc:
        raise plain_os_error(exc, path) from None
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)  # shared projects: other accounts read what the umask allows
    except BaseException as exc:
        _drop(tmp)
        if isinstance(exc, OSError):
            raise plain_os_error(exc, path) from None
        raise
    rename_into_place(tmp, path)


def rename_into_place(tmp: Path, path: Path) -> None:
    """Every atomic write's last step: `tmp` (whole) renamed to `path` at the fault suite's cut point and the folder
    fsynced; on failure `tmp` is removed and an OSError named in plain words."""
    try:
        _checkpoint(f"replace:{path.name}")
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        _drop(tmp)
        if isinstance(exc, OSError):
            raise plain_os_error(exc, path) from None
        raise


def _drop(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return  # directories cannot be opened for fsync on Windows; os.replace is still atomic there
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n").encode("utf-8")


# -- the writer lock ---------------------------------------------------------------------------------------------
@dataclass
class _Holder:
    thread_lock: threading.Lock
    file_lock: FileLock


_HOLDERS: dict[str, _Holder] = {}  # one per project folder in this process: a process-wide resource
_HOLDERS_GUARD = threading.Lock()
_HELD = threading.local()  # folders this thread holds, for re-entry (a fit's save inside the fit's lock)


def _holder(folder: Path) -> _Holder:
    key = str(folder.resolve())
    with _HOLDERS_GUARD:
        if key not in _HOLDERS:
            _HOLDERS[key] = _Holder(threading.Lock(), FileLock(str(folder / LOCK), timeout=0, thread_local=False,
                                                              mode=FILE_MODE))
        return _HOLDERS[key]


@contextmanager
def writing(folder: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the project lock (creating the folder); finish or discard an interrupted save first.

    Re-entrant within one thread. A second writer, in this process or another, gets ProjectBusyError, at once or
    after waiting up to `wait_s` seconds for the lock (a backup waits out a fit).
    """
    folder = Path(folder)
    held = getattr(_HELD, "folders", None)
    if held is None:
        held = _HELD.folders = set()
    key = str(folder.resolve())
    if key in held:
        yield
        return
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file, not a project folder: choose a folder")
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise plain_os_error(exc, folder, "create the project folder") from None
    try:
        with _locked(folder, wait_s):
            yield
    except BaseException:
        if created:  # a job that failed on a new folder leaves no trace of it
            _remove_if_only_lock(folder)
        raise


def _remove_if_only_lock(folder: Path) -> None:
    try:
        if [p.name for p in folder.iterdir()] in ([LOCK], []):
            (folder / LOCK).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass


@contextmanager
def _locked(folder: Path, wait_s: float = 0.0) -> Iterator[None]:
    held = _HELD.folders
    key = str(folder.resolve())
    holder = _holder(folder)
    busy = ProjectBusyError(f"the project {folder} is being saved by another process; wait for it and try again")
    wait_s = max(wait_s, 0.0)  # 0: one try, as both locks read a timeout of 0
    if not holder.thread_lock.acquire(timeout=wait_s):
        raise busy
    try:
        try:
            holder.file_lock.acquire(timeout=wait_s)
        except Timeout:
            raise busy from None
        except OSError as exc:
            raise plain_os_error(exc, folder / LOCK, "lock the project (write to)") from None
        try:
            held.add(key)
            try:
                _recover(folder)
                yield
            finally:
                held.discard(key)
        finally:
            holder.file_lock.release()
    finally:
        holder.thread_lock.release()


def _recover(folder: Path) -> None:
    """Under the lock: finish a committed save, discard an uncommitted one, remove stray temp files."""
    pending = folder / PENDING
    try:
        if pending.is_dir():
            if (pending / COMMIT_MARKER).is_file():
                _move_in(folder)
            _remove_tree(pending)
        for stray in folder.glob(".*.tmp"):
            stray.unlink()
        for stray in (folder / VERSIONS).glob(".v*.tmp") if (folder / VERSIONS).is_dir() else ():
            shutil.rmtree(stray)  # a version killed while written: never renamed into place, never seen
    except OSError as exc:
        raise plain_os_error(exc, folder, "finish an interrupted save in") from None


def _move_in(folder: Path) -> None:
    pending = folder / PENDING
    staged = sorted(p.name for p in pending.iterdir() if p.name not in (COMMIT_MARKER, MANIFEST))
    for name in [*staged, MANIFEST]:  # manifest last: it names the files that belong together
        if (pending / name).is_file():
            _checkpoint(f"move:{name}")
            os.replace(pending / name, folder / name)
    for name in _marker_removals(pending / COMMIT_MARKER):  # files the new model does not have
        (folder / name).unlink(missing_ok=True)
    _fsync_dir(folder)


def _marker_removals(marker: Path) -> list[str]:
    """The files a commit removes, written in its COMMIT marker (earlier markers, "ok", remove none)."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    names = data.get("remove", []) if isinstance(data, dict) else []
    return [n for n in names if isinstance(n, str) and Path(n).name == n and not n.startswith(".")]


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def _commit(folder: Path, blobs: dict, remove: tuple = ()) -> None:
    """Write several files as one unit (see the module docstring), removing `remove` with them; `blobs`: name ->
    bytes or a project_blobs blob (an array, a stored file). The caller holds the lock."""
    pending = folder / PENDING
    try:
        if pending.exists():
            _remove_tree(pending)
        pending.mkdir()
    except OSError as exc:
        raise plain_os_error(exc, pending) from None
    try:
        for name, data in blobs.items():
            _checkpoint(f"stage:{name}")
            _blobs.write_blob(pending / name, data)
        _checkpoint("commit")
        atomic_write(pending / COMMIT_MARKER, json_bytes({"remove": sorted(set(remove) - set(blobs))}))
    except Exception as exc:
        # Not committed: the old files stand; leave no staging behind (a killed process leaves it to the
        # next writer instead).
        try:
            _remove_tree(pending)
        except OSError:
            pass
        os_error = exc if isinstance(exc, OSError) else getattr(exc, "os_error", None)
        if os_error is not None:
            raise plain_os_error(os_error, folder, "save into the project folder") from None
        raise
    _checkpoint("committed")
    try:
        _move_in(folder)
        _checkpoint("cleanup")
        _remove_tree(pending)
    except OSError as exc:
        # Committed: the new files are what readers see; the next writer finishes the move.
        raise plain_os_error(exc, folder, "finish saving") from None


from . import project_blobs as _blobs  # noqa: E402 (files written from arrays or stored files; it calls back here)
from .project_audit import append_audit  # noqa: E402,F401 (the audit half of this writer; it calls back here)
from . import project_versions as _versions  # noqa: E402 (the version half of this writer; it calls back here)


# -- writers -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedVersion:
    """What a save made: the record as saved, the version's name and whether it is now the active one."""

    record: ModelRecord
    version: str
    active: bool


def save_model(folder: Path, record: ModelRecord, embeddings: np.ndarray, coreset: bytes,
               calibration: Optional[bytes] = None, extra_files: Optional[dict[str, bytes]] = None,
               activate: Optional[bool] = True, origin: Optional[dict] = None, keep: int = 10) -> SavedVersion:
    """Write a new model as a new version and return it (the record with file hashes).

    `activate`: True makes it the active version, False keeps it staged, None ("auto") activates it unless
    the active version gives verdicts (a calibrated line keeps inspecting until the new one is calibrated).
    `calibration` (calibration.json bytes for this model_id) travels with the model, e.g. for Save As.
    `extra_files` (name -> bytes, e.g. the alignment reference image) belong to the model: checksummed in
    the manifest and committed with it. `origin`: action, who, note, based_on for version.json.
    """
    folder = Path(folder)
    blobs = {EMBEDDINGS: _blobs.ArrayBlob(embeddings), CORESET: coreset}
    for name, data in (extra_files or {}).items():
        if name in _RESERVED or Path(name).name != name or name.startswith("."):
            raise ProjectError(f"{name!r} cannot be stored as a model file")
        blobs[name] = data
    if calibration is not None:
        blobs[CALIBRATION] = calibration
    record = replace(record, schema_version=SCHEMA_VERSION,
                     files={name: _blobs.blob_sha256(data) for name, data in blobs.items()})
    manifest = record.to_dict()
    ModelRecord.from_dict(manifest, folder / MANIFEST)  # what is written is checked as a read checks it
    with writing(folder):
        _versions.migrate(folder)
        if activate is None:
            activate = not _versions.active_gives_verdicts(folder)
        version = _versions.new_version(folder, {**blobs, MANIFEST: json_bytes(manifest)}, record,
                               {"action": "fit", **(origin or {})}, calibration_from_bytes(calibration))
        if activate:
            _versions.activate_files(folder, version)
        _versions.prune(folder, keep)
    return SavedVersion(record, version, bool(activate))


_RESERVED = (MANIFEST, COMMIT_MARKER, CALIBRATION, SETTINGS, LOCK, ACTIVE, AUDIT, VERSION_META, VERSIONS, *MODEL_FILES)


def calibration_from_bytes(data: Optional[bytes]) -> Optional[Calibration]:
    if data is None:
        return None
    return Calibration.from_dict(json.loads(data.decode("utf-8")))


def copy_model(source: Path, target: Path, note: Optional[str] = None) -> None:
    """Copy a project's active model (checked on read) and its valid calibration to another folder, e.g. Save
    As. The copy keeps model_id, so the calibration stays valid for it; it starts its own versions at v1, whose
    `note` (default "copied from SOURCE") says where it came from."""
    stored = load_model(Path(source))
    cal = json_bytes(stored.calibration.to_dict()) if stored.calibration is not None else None
    extra = {name: read_model_file(Path(source), name, stored.record)
             for name in stored.record.files if name not in (*MODEL_FILES, CALIBRATION)}
    save_model(Path(target), stored.record, stored.embeddings, stored.coreset_bytes, cal, extra,
               origin={"action": "fit", "note": note or f"copied from {Path(source)}"})


def save_calibration(folder: Path, calibration: Calibration, version: Optional[str] = None,
                     activate: bool = True, origin: Optional[dict] = None, keep: int = 10) -> SavedVersion:
    """A new version: `version` (default: the active one) with `calibration` sealed into its manifest.
    `activate` makes it the active version (the default: what was calibrated is what inspects)."""
    folder = Path(folder)
    with writing(folder):
        _versions.migrate(folder)
        base = version or active_version(folder)
        if base is None:
            raise ProjectError(f"{folder} holds no fitted model: run fit first")
        source = version_folder(folder, version) if version else folder  # the active model is the top level
        record = read_record(source)
        if calibration.model_id != record.model_id:
            raise ProjectError(f"this calibration belongs to model {calibration.model_id}, version {base} of {folder} "
                               f"holds {record.model_id}: calibrate again")
        # Re-validate what is written, whoever built it.
        data = json_bytes(Calibration.from_dict(calibration.to_dict()).to_dict())
        blobs = _versions.version_blobs(source, record, without=(CALIBRATION,))
        record = replace(record, files={**{n: record.files[n] for n in blobs}, CALIBRATION: sha256_bytes(data)},
                         schema_version=SCHEMA_VERSION)
        blobs[CALIBRATION] = data
        blobs[MANIFEST] = json_bytes(record.to_dict())
        vid = _versions.new_version(folder, blobs, record, {"action": "calibrate", "based_on": base, **(origin or {})},
                           calibration)
        if activate:
            _versions.activate_files(folder, vid)
        _versions.prune(folder, keep)
    return SavedVersion(record, vid, activate)


def activate(folder: Path, version: str, keep: int = 10) -> str:
    """Make `version` the active one (a rollback, or a staged version going live); returns the one it
    replaced. The version's files are checked against its manifest before they go live."""
    folder = Path(folder)
    with writing(folder):
        _versions.migrate(folder)
        before = active_version(folder)
        load_model(version_folder(folder, version), with_embeddings=False)  # damaged: refused, nothing changes
        if version != before:
            _versions.activate_files(folder, version)
        _versions.prune(folder, keep)
    return before


def os_user() -> str:
    return _versions.os_user()


def save_settings(folder: Path, settings: dict) -> None:
    """GUI-side project settings (ROI being edited, config for the next fit); not part of the model."""
    folder = Path(folder)
    with writing(folder):
        atomic_write(folder / SETTINGS, json_bytes(settings))
