"""What the project writer writes a file from, besides bytes: a model array streamed to its file, or a model file
that is stored already (project.py and project_versions.py write through write_blob, under the project lock).

Every fit, add and calibration is a version, and each version holds its model files; the top level holds the
active one's too. A calibration changes no model file, so as bytes each calibration stored the bank again and the
top level a third time: 400 MB a version for 200 images at 448 px, 6 GB with part_symmetry turns, and the
writer read a version's files into memory whole to activate it. A file stored already is written as a hard link
to it instead (one copy on the disk, nothing read into memory but its checksum), or, where the file system has
no hard links (FAT, some network shares), copied a block at a time; JSON files are always copied. Files are
never changed in place (each write is a new file renamed over the old), so a link never sees another version's
write. A file damaged in place on
the disk is damaged in each version that shares it, and every read's sha256 check names it there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from . import project as _p
from .errors import plain_os_error
from .model_record import ModelRecord
from .project_files import sha256_bytes
from .project_reader import checked_digest
from .weights import sha256_file


@dataclass(frozen=True)
class FileBlob:
    """A model file stored already, checked against its manifest (stored_file)."""

    path: Path
    sha256: str


class ArrayBlob:
    """A float32 array written as .npy straight to its file; its sha256 is the file's, worked out by streaming the
    same bytes through the hash (never held as bytes beside the array)."""

    def __init__(self, array: np.ndarray):
        self.array = np.ascontiguousarray(array, dtype=np.float32)
        sink = _HashSink()
        np.save(sink, self.array, allow_pickle=False)
        self.sha256 = sink.hash.hexdigest()


class _HashSink:
    """A write-only file object that only hashes: what np.save writes to it, in numpy's own chunks."""

    def __init__(self):
        self.hash = hashlib.sha256()

    def write(self, data) -> int:
        self.hash.update(data)
        return len(data)


Blob = Union[bytes, FileBlob, ArrayBlob]


def blob_sha256(blob: Blob) -> str:
    return sha256_bytes(blob) if isinstance(blob, (bytes, bytearray)) else blob.sha256


def stored_file(folder: Path, name: str, record: ModelRecord) -> FileBlob:
    """`name` in `folder` (a version's or the top level's, under the project lock), its sha256 checked against
    `record` by reading it a block at a time, with a read's checks and errors (project_reader.checked_digest)."""
    path = Path(folder) / name
    try:
        digest = sha256_file(path)
    except FileNotFoundError:
        digest = None
    except OSError as exc:
        raise plain_os_error(exc, path, "read") from None
    return FileBlob(path, checked_digest(folder, name, record, digest))


def linkable(path: Path) -> bool:
    """Whether a file stored once may be shared by hard links. Not JSON files (a calibration, a manifest): small,
    and the ones a technician might edit in place by hand, which would change every version linked to the file."""
    return Path(path).suffix != ".json"


def already_at(blob: Blob, path: Path) -> bool:
    """Whether `path` is the very file `blob` stands for (a hard link to it): nothing to write."""
    if not isinstance(blob, FileBlob) or not linkable(path):
        return False
    try:
        return os.path.samefile(blob.path, path)
    except OSError:  # absent, or unreadable: written as any other
        return False


def write_blob(path: Path, blob: Blob) -> None:
    """`blob` at `path`, atomically (readers see the old file or the new one): bytes and arrays through
    project.atomic_writer, a stored file by a hard link (or a copy) renamed into place."""
    if isinstance(blob, (bytes, bytearray)):
        _p.atomic_write(path, bytes(blob))
    elif isinstance(blob, ArrayBlob):
        with _p.atomic_writer(path, binary=True) as fh:
            np.save(fh, blob.array, allow_pickle=False)
    elif isinstance(blob, FileBlob):
        if not (linkable(path) and _linked(blob.path, path)):
            with _p.atomic_writer(path, binary=True) as fh, open(blob.path, "rb") as source:
                shutil.copyfileobj(source, fh, 1 << 20)
    else:
        raise TypeError(f"cannot write a {type(blob).__name__} as a project file")


def _linked(source: Path, path: Path) -> bool:
    """A hard link to `source` renamed to `path`; False where the file system makes none (then nothing is left)."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.link(source, tmp)
    except OSError:
        return False  # no hard links here (FAT, some shares, another disk): copied instead
    _p.rename_into_place(tmp, path)
    return True
