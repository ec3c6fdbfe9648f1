"""The per-machine cache of OpenVINO IRs: one folder per key of everything that shapes an IR.

An IR is written to a temporary folder and renamed into place, so a crash never leaves half of one; key.json,
written last, holds the files' sha256, checked on each use, so a damaged entry (a disk error, a crash before the
file system had written it all, a virus scanner's quarantine) is converted again instead of failing every load.
The cache is bounded (CACHE_LIMIT_BYTES): a new IR removes the least recently used ones past it, never one in
use. A cache that cannot be written is named in plain words (StorageError), with the way out.

Imports no torch, and openvino only where an IR is saved or a key made: the edge install uses it too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from .errors import StorageError, plain_os_error
from .weights import sha256_file

log = logging.getLogger(__name__)

IR_NAME = "features.xml"
# The files of an IR: the graph and its weights (a cache entry's key.json holds their sha256).
IR_FILES = (IR_NAME, "features.bin")
# The IR cache is kept under this size: saving a new IR removes the least recently used ones past it. Without a
# bound it grows as long as the PC runs: a line that refits with precision int8 saves an int8 IR per taught set
# (DINOv2 ViT-S/14: about 25 MB), an OpenVINO upgrade a new IR per model (DINOv2's fp32 one: about 90 MB).
CACHE_LIMIT_BYTES = 2 * 2**30
# An IR used (or a build begun) within this many seconds is never removed: another process may be reading it.
CACHE_IN_USE_S = 3600


def version() -> str:
    """The installed OpenVINO's version: part of every IR's key."""
    import openvino as ov

    return ov.get_version()


def cache_dir() -> Path:
    """Per-machine folder of converted IRs: PATCHCORE_OPENVINO_CACHE, else the user's cache folder."""
    env = os.environ.get("PATCHCORE_OPENVINO_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if os.name == "nt" else str(Path.home() / ".cache")
    )
    return Path(base or Path.home()) / "inspector" / "openvino"


def ir_key(parts: dict) -> str:
    """A short digest of what shapes an IR (`parts`, JSON-able) and the OpenVINO version."""
    text = json.dumps({**parts, "openvino": version()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_ir(key: str, parts: dict, build: Callable[[], object]) -> Path:
    """The IR for `key` in the cache, built with `build()` (an openvino.Model) and saved when it is missing."""
    final = cache_dir() / key
    xml = final / IR_NAME
    if _intact(final):
        _mark_used(final)
        return xml
    if _from_an_earlier_version(final):  # saved before key.json held the files' sha256: nothing is wrong
        log.info("OpenVINO IR %s was saved by an earlier version: converting it again", final)
    elif final.exists():
        log.warning("OpenVINO IR %s is damaged or incomplete: converting it again", final)
    import openvino as ov

    model = build()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    except OSError as exc:
        raise cache_fault(exc, final.parent) from None
    try:
        try:
            ov.save_model(model, str(tmp / IR_NAME), compress_to_fp16=False)
        except RuntimeError as exc:  # OpenVINO's writer names no cause ("iostream error")
            raise _save_fault(tmp, model, exc) from None
        digests = {name: sha256_file(tmp / name) for name in IR_FILES}
        (tmp / "key.json").write_text(json.dumps({**parts, "openvino": version(), "sha256": digests}, indent=1,
                                                 default=str))
        if _intact(final):  # another process saved the same IR meanwhile and may be reading it: keep theirs
            pass
        else:
            if final.exists():  # a damaged or unfinished copy (key.json is written last): replace it
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not xml.is_file():  # not another process that won the race: a real fault
                    raise
    except OSError as exc:
        raise cache_fault(exc, final.parent) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("OpenVINO IR built: %s", final)
    prune_cache(keep=final)
    return xml


def _intact(entry: Path) -> bool:
    """Whether the entry's IR files are whole and the ones saved (their sha256 in key.json, written last). A cache
    is derived data: an entry damaged by a disk error, by a crash before the file system had written it all, or
    by a virus scanner's quarantine is converted again, where OpenVINO would fail every load on it (or, with
    runtime auto, torch would run the backbone at half the speed until someone cleared the cache)."""
    try:
        saved = json.loads((entry / "key.json").read_text())["sha256"]
        return all(sha256_file(entry / name) == saved[name] for name in IR_FILES)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _from_an_earlier_version(entry: Path) -> bool:
    try:
        return "sha256" not in json.loads((entry / "key.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def cache_fault(exc: OSError, folder: Path) -> StorageError:
    """A cache that cannot be written, in plain words (disk full, read-only, permissions), naming the way out."""
    fault = plain_os_error(exc, folder)
    return StorageError(f"{fault}; it is OpenVINO's network cache, and PATCHCORE_OPENVINO_CACHE can name another "
                        "folder")


def _save_fault(folder: Path, model, exc: RuntimeError) -> Exception:
    """Why saving `model` into `folder` failed: writing as many bytes with Python names the storage's fault (disk
    full, read-only, permissions, a quota) as a StorageError; where that succeeds the fault was not the storage's,
    and OpenVINO's own error stands."""
    for partial in folder.iterdir():  # what save_model got written would make the probe's room look smaller
        partial.unlink(missing_ok=True)
    needed = sum(op.get_byte_size() for op in model.get_ops() if op.get_type_name() == "Constant") + 2**20
    chunk = bytes(2**20)
    try:
        with open(folder / "probe", "wb") as fh:
            for _ in range(needed // len(chunk) + 1):
                fh.write(chunk)
    except OSError as os_exc:
        return cache_fault(os_exc, folder.parent)
    return exc


def _mark_used(entry: Path) -> None:
    """key.json's time is the entry's last use (prune_cache removes the oldest first); a read-only cache keeps its
    build time, which only makes the entry look older."""
    try:
        os.utime(entry / "key.json")
    except OSError:
        pass


def prune_cache(keep: Path, limit: Optional[int] = None) -> list[Path]:
    """Remove the least recently used IRs while the cache holds more than `limit` bytes (None: CACHE_LIMIT_BYTES),
    and the temporary folders of builds a crash left behind; never `keep`, nor anything used within
    CACHE_IN_USE_S. Best effort: what cannot be removed stays. Returns the folders removed."""
    limit = CACHE_LIMIT_BYTES if limit is None else limit
    now = time.time()
    entries, removed = [], []
    for folder in _folders(keep.parent):
        if folder.name.startswith("."):  # a build's temporary folder: its own process removes it when done
            if now - _mtime(folder) > CACHE_IN_USE_S and _remove(folder):
                removed.append(folder)
        elif any((folder / name).exists() for name in ("key.json", *IR_FILES)):  # not the precision checks' folder
            entries.append((_mtime(folder / "key.json") or _mtime(folder), _size(folder), folder))
    total = sum(size for _, size, _ in entries)
    for used, size, folder in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if folder != keep and now - used > CACHE_IN_USE_S and _remove(folder):
            total -= size
            removed.append(folder)
    if removed:
        log.info("OpenVINO IR cache over %d MB: removed %d least recently used", limit >> 20, len(removed))
    return removed


def _folders(parent: Path) -> list[Path]:
    try:
        return [p for p in parent.iterdir() if p.is_dir()]
    except OSError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(folder: Path) -> int:
    try:
        return sum(_size(p) if p.is_dir() else p.stat().st_size for p in folder.iterdir() if not p.is_symlink())
    except OSError:  # removed meanwhile by another process's pruning
        return 0


def _remove(folder: Path) -> bool:
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()


def cache_json(target: Path, data: dict, what: str) -> None:
    """Write `data` to `target` in this machine's cache, whole or not at all (a temporary file renamed). Best
    effort: a read-only or full cache only means measuring again next time, so a failure is logged, not raised."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        log.info("%s not cached (%s)", what, exc)
