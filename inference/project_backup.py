"""A project as one backup file, and back: the backup half of the project writer (project.py).

A backup is a zip file: the project's files under a folder of the project's name, and `inspector-backup.json`
beside it (where it came from, when, who, the active version, and every file's size and sha256). It is taken
under the project lock, so no save is half in it (a backup waits out a fit for up to `wait_s`), written to a
temp file, read back and checked, then renamed into place: a file with a backup's name is a whole backup.

A restore writes a new folder beside the target, checks every file against the backup's sha256 and every
version against its manifest, then renames the folder into place: the project appears whole or not at all,
and an existing project is never written over. A restore that was cut leaves its temp folder, which the next
restore into the same place removes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable, Mapping, Optional

from .errors import InspectorError, ProjectError, plain_os_error
from .project import FILE_MODE, _fsync_dir, os_user, writing
from .project_blobs import linkable
from .project_files import LOCK, PENDING, VERSIONS
from .project_reader import active_version, list_versions, load_model, version_folder
from .weights import sha256_file

BACKUP_FORMAT = "inspector-backup"
BACKUP_FORMAT_VERSION = 1
BACKUP_META = "inspector-backup.json"
_CHUNK = 1 << 20
# Float arrays and networks hardly compress (a few %) and would cost most of the backup's time (and of the time
# the project lock is held): stored as they are. Text and the history compress well (the history about 7x).
_STORED = frozenset({".npy", ".npz", ".faiss", ".bin", ".png"})


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds: `files` maps each path inside the project to its size and sha256."""

    path: Path
    project: str  # the project folder's name
    source: str  # where it was taken from (absolute, on that machine)
    created: str
    who: str
    app_version: str
    active_version: Optional[str]
    versions: tuple[str, ...]
    files: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # the station's additions (the history's row count)

    @property
    def bytes(self) -> int:
        return sum(int(f["bytes"]) for f in self.files.values())

    def to_dict(self) -> dict:
        return {"format": BACKUP_FORMAT, "format_version": BACKUP_FORMAT_VERSION, "project": self.project,
                "source": self.source, "created": self.created, "who": self.who, "app_version": self.app_version,
                "active_version": self.active_version, "versions": list(self.versions), "files": self.files,
                "notes": self.notes}


def _left_out(rel: str, leave_out: frozenset) -> bool:
    """The lock, an unfinished save's staging and temp files are no part of a project; `leave_out` names the
    files the caller adds its own way (the history, as a consistent snapshot)."""
    parts = PurePosixPath(rel).parts
    return (rel in leave_out or parts[0] in (LOCK, PENDING) or any(p.endswith(".tmp") for p in parts))


def _project_files(folder: Path, leave_out: frozenset) -> list[str]:
    rels = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return sorted(r for r in rels if not _left_out(r, leave_out))


class _Writer:
    """Adds files to the backup, each content once: a calibration's version holds the same embeddings and coreset
    as the version it calibrated, and the top level the active version's, so a file equal to one already in the
    backup is recorded as `same_as` it instead of stored again (a file of a size not seen yet is read once)."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str):
        self.archive, self.prefix = archive, prefix
        self.files: dict[str, dict] = {}
        self._by_digest: dict[str, str] = {}
        self._sizes: set[int] = set()

    def add(self, rel: str, source: Path) -> None:
        size = source.stat().st_size
        if size in self._sizes:
            digest = sha256_file(source)
            if digest in self._by_digest:
                self.files[rel] = {"bytes": size, "sha256": digest, "same_as": self._by_digest[digest]}
                return
        digest, size = hashlib.sha256(), 0
        entry = f"{self.prefix}/{rel}"  # compressed as the archive says
        if source.suffix in _STORED:
            entry = zipfile.ZipInfo.from_file(source, entry)
            entry.compress_type = zipfile.ZIP_STORED
        with open(source, "rb") as src, self.archive.open(entry, "w", force_zip64=True) as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        self.files[rel] = {"bytes": size, "sha256": digest.hexdigest()}
        self._by_digest.setdefault(digest.hexdigest(), rel)
        self._sizes.add(size)


def write_backup(folder: str | Path, dest: str | Path, *, extra: Mapping[str, Path] = {},
                 leave_out: frozenset = frozenset(), notes: Optional[dict] = None, wait_s: float = 0.0,
                 app_version: str = "") -> BackupInfo:
    """Back up the project `folder` into the zip file `dest` (replaced when it exists). `extra` maps a path
    inside the project to a file that stands for it (a snapshot), `leave_out` names project paths not copied."""
    folder, dest = Path(folder), Path(dest)
    if not folder.is_dir():
        raise ProjectError(f"project folder not found: {folder}")
    if dest.resolve().is_relative_to(folder.resolve()):
        raise InspectorError(f"{dest} is inside the project {folder}: write the backup outside it")
    tmp = dest.with_name(f".{dest.name}.tmp")
    leave_out = frozenset(leave_out) | frozenset(extra)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            writer = _Writer(archive, folder.name)
            with writing(folder, wait_s=wait_s):  # no save is half in the backup
                versions = tuple(v.version for v in list_versions(folder))
                if not versions:
                    raise ProjectError(f"{folder} holds no model: there is nothing to back up")
                active = active_version(folder)
                for rel in _project_files(folder, leave_out):
                    writer.add(rel, folder / rel)
            for rel, source in extra.items():
                writer.add(rel, Path(source))
            info = BackupInfo(dest, folder.name, str(folder.resolve()),
                              datetime.now(timezone.utc).isoformat(timespec="seconds"), os_user(), app_version,
                              active, versions, writer.files, dict(notes or {}))
            archive.writestr(BACKUP_META, json.dumps(info.to_dict(), indent=1) + "\n")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        check_backup(tmp)  # read back from the disk it landed on, before it carries a backup's name
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise plain_os_error(exc, dest, "write the backup") from None
        raise
    return info


def read_backup_info(path: str | Path) -> BackupInfo:
    """The backup's own description, checked for form; InspectorError naming the file when it is not one."""
    path = Path(path)
    not_one = f"{path} is not an Inspector backup (made by inspector backup)"
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read(BACKUP_META).decode("utf-8"))
    except FileNotFoundError:
        raise InspectorError(f"backup file not found: {path}") from None
    except IsADirectoryError:
        raise InspectorError(f"{path} is a folder: name a backup file (.zip)") from None
    except OSError as exc:
        raise plain_os_error(exc, path, "read the backup") from None
    except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError):
        raise InspectorError(not_one) from None
    if not isinstance(data, dict) or data.get("format") != BACKUP_FORMAT:
        raise InspectorError(not_one)
    if data.get("format_version") != BACKUP_FORMAT_VERSION:
        raise InspectorError(f"{path} was written by a newer version of Inspector (backup format "
                             f"{data.get('format_version')}): restore it with that version")
    try:
        files = {str(rel): {"bytes": int(f["bytes"]), "sha256": str(f["sha256"]),
                            **({"same_as": str(f["same_as"])} if "same_as" in f else {})}
                 for rel, f in data["files"].items()}
        info = BackupInfo(path, str(data["project"]), str(data["source"]), str(data["created"]), str(data["who"]),
                          str(data["app_version"]), data["active_version"], tuple(data["versions"]), files,
                          dict(data.get("notes") or {}))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InspectorError(f"{path} is a damaged Inspector backup: its {BACKUP_META} is incomplete") from None
    for rel, f in files.items():
        pure = PurePosixPath(rel)
        if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel or Path(info.project).name != info.project:
            raise InspectorError(f"{path} is a damaged Inspector backup: it names the path {rel!r}")
        stored = files.get(f.get("same_as", rel), {})
        if "same_as" in stored or stored.get("sha256") != f["sha256"]:
            raise InspectorError(f"{path} is a damaged Inspector backup: {rel} is the same as a file it does not hold")
    return info


def _entries(path: Path, info: BackupInfo, each: Callable[[str, object], None]) -> None:
    """Open every file the backup stores in turn (`each(rel, chunks)`), then check it was the one backed up. A file
    recorded as the same as another is not read: read_backup_info checked that it names a stored file of the same
    sha256, which this checks."""
    try:
        with zipfile.ZipFile(path) as archive:
            for rel, want in info.files.items():
                if "same_as" in want:
                    continue
                digest, size = hashlib.sha256(), 0
                try:
                    with archive.open(f"{info.project}/{rel}") as stream:
                        def hashed(stream=stream):
                            nonlocal size
                            while chunk := stream.read(_CHUNK):
                                digest.update(chunk)
                                size += len(chunk)
                                yield chunk
                        each(rel, hashed())
                except KeyError:
                    raise InspectorError(f"{path} is a damaged backup: {rel} is missing from it") from None
                except zipfile.BadZipFile:
                    raise InspectorError(f"{path} is a damaged backup: {rel} does not read back (bad CRC)") from None
                if size != want["bytes"] or digest.hexdigest() != want["sha256"]:
                    raise InspectorError(f"{path} is a damaged backup: {rel} does not match its checksum")
    except zipfile.BadZipFile:
        raise InspectorError(f"{path} is a damaged backup: the zip file does not read") from None
    except OSError as exc:
        raise plain_os_error(exc, path, "read the backup") from None


def check_backup(path: str | Path) -> BackupInfo:
    """Read every file of the backup and check it against its sha256; InspectorError naming the first that
    differs. Changes nothing."""
    info = read_backup_info(path)
    _entries(Path(path), info, lambda rel, chunks: all(True for _ in chunks))
    return info


def _hard_linked(source: Path, path: Path) -> bool:
    """`path` made a hard link to `source`; False where the file system makes none (then it is copied)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, path)
        return True
    except OSError:
        return False


def restore_backup(path: str | Path, target: str | Path, check: Optional[Callable[[Path], None]] = None) -> BackupInfo:
    """Restore the backup `path` as the new project folder `target` (absent, or an empty folder). `check(folder)`
    may refuse the restored folder before it takes the target's name (the station checks the history)."""
    path, target = Path(path), Path(os.path.abspath(target))
    info = read_backup_info(path)
    if target == Path.cwd():  # it is replaced by a new folder: a shell in it would go on seeing the old, empty one
        raise InspectorError(f"cannot restore into the folder you are in ({target}): name a new folder, e.g. "
                             f"../{target.name}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InspectorError(f"{target} exists and is not empty: restore into a new folder (a project is never "
                             "written over; move it aside first to replace it)")
    tmp = target.parent / f".{target.name}.restore.tmp"
    try:
        if tmp.exists():  # a restore that was cut
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)

        def extract(rel: str, chunks) -> None:
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())

        _entries(path, info, extract)
        for rel, want in info.files.items():  # a content stored once: its copies, from the file checked above
            if "same_as" in want:
                if linkable(tmp / rel) and _hard_linked(tmp / want["same_as"], tmp / rel):
                    continue  # stored once on the disk too, as the project was (project_blobs)
                with open(tmp / want["same_as"], "rb") as src:
                    extract(rel, iter(lambda src=src: src.read(_CHUNK), b""))
        for version in info.versions:  # each version whole, as its manifest says (a project saved before
            if (tmp / VERSIONS / version).is_dir():  # versions existed lists its model as v1, at the top level)
                load_model(version_folder(tmp, version), with_embeddings=False)
        if info.active_version is not None:
            load_model(tmp)
        if check is not None:
            check(tmp)
        for folder in sorted({p for p in tmp.rglob("*") if p.is_dir()} | {tmp}, reverse=True):
            _fsync_dir(folder)
        if target.exists():
            target.rmdir()
        os.rename(tmp, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, ProjectError):
            raise InspectorError(f"{path} does not restore: {exc}") from None
        if isinstance(exc, OSError):
            raise plain_os_error(exc, target, "restore the project into") from None
        raise
    return info
