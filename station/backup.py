"""Backing a project up and restoring it, for every client (`inspector backup | restore`, the service's
`GET /projects/NAME/backup`, the window's Project menu).

The engine writes and checks the backup file (inference/project_backup.py: the model files, every version, the
audit trail, under the project lock). This module adds the inspection history as SQLite's own online backup
(consistent while a run writes to it, which a file copy of a WAL database is not), names backups by project and
time in a backup folder and keeps the newest N there, and writes the restore into the audit trail.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Optional

from inference import (BackupInfo, InspectorError, __version__, append_audit, plain_os_error, restore_backup,
                       write_backup)

from .history import HISTORY_FILE, BUSY_TIMEOUT_S, default_path
from .history_filters import HistoryError

# SQLite's companions of the history file: never copied as files (the snapshot stands for all of them).
HISTORY_FILES = frozenset(HISTORY_FILE + suffix for suffix in ("", "-wal", "-shm", "-journal"))
SUFFIX = ".zip"
_STAMP = "%Y%m%d-%H%M%S"


def backup_path(project: str | Path, dest: str | Path, now: Optional[datetime] = None) -> Path:
    """Where a backup of `project` goes: `dest` itself when it names a .zip file, else a file in the folder `dest`
    named after the project and the local time (PROJECT-20261206-143000.zip), so a folder collects them."""
    dest = Path(dest)
    if dest.suffix.lower() == SUFFIX and not dest.is_dir():
        return dest
    stamp = (now or datetime.now()).strftime(_STAMP)
    return dest / f"{Path(project).resolve().name}-{stamp}{SUFFIX}"


def _snapshot_history(history: Path, out: Path) -> int:
    """SQLite's online backup of the history into `out`; its number of inspections."""
    try:
        source = sqlite3.connect(history, timeout=BUSY_TIMEOUT_S)
        try:
            target = sqlite3.connect(out)
            try:
                source.backup(target)
                return int(target.execute("SELECT COUNT(*) FROM inspections").fetchone()[0])
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"the history {history} cannot be backed up ({exc}); back up without it "
                           "(--no-history) or repair it first") from None


def back_up(project: str | Path, dest: str | Path, *, history: bool = True, keep: Optional[int] = None,
            wait_s: float = 0.0) -> BackupInfo:
    """Back up `project` to `dest` (a .zip file, or a folder that collects them: see backup_path), with its
    inspection history unless `history` is False. `keep`: in a backup folder, remove this project's oldest
    backups beyond the newest `keep`. A fit or calibration being saved is waited out for up to `wait_s`."""
    project = Path(project)
    if keep is not None and keep < 1:
        raise InspectorError(f"keep must be 1 or more backups, got {keep}")
    out = backup_path(project, dest)
    if keep is not None and out == Path(dest):
        raise InspectorError(f"keeping the newest {keep} backups needs a backup folder that collects them, not the "
                             f"one file {dest}")
    if not out.parent.is_dir():
        raise InspectorError(f"the backup folder {out.parent} does not exist: create it or choose another")
    log = default_path(project)
    try:
        with tempfile.TemporaryDirectory(prefix=".inspector-backup-", dir=out.parent) as scratch:
            extra, notes = {}, {"history_rows": None}
            if history and log.is_file():
                extra[HISTORY_FILE] = Path(scratch) / HISTORY_FILE
                notes["history_rows"] = _snapshot_history(log, extra[HISTORY_FILE])
            info = write_backup(project, out, extra=extra, leave_out=HISTORY_FILES, notes=notes, wait_s=wait_s,
                                app_version=__version__)
    except OSError as exc:  # the scratch folder beside the backup: the same disk, the same faults
        raise plain_os_error(exc, out.parent, "write the backup in") from None
    if keep is not None:
        prune_backups(out.parent, project.resolve().name, keep)
    return info


def backup_taken(path: str | Path) -> Optional[datetime]:
    """The local time a backup in a backup folder was taken, from its name (backup_path); None for another name."""
    m = re.search(r"-(\d{8}-\d{6})" + re.escape(SUFFIX) + "$", Path(path).name)
    try:
        return datetime.strptime(m.group(1), _STAMP) if m else None
    except ValueError:  # 20261399-...: no time
        return None


def backups_of(folder: str | Path, project_name: str) -> list[Path]:
    """The backups of `project_name` that a backup folder collected, oldest first."""
    pattern = re.compile(re.escape(project_name) + r"-\d{8}-\d{6}" + re.escape(SUFFIX))
    return sorted(p for p in Path(folder).glob(f"{project_name}-*{SUFFIX}") if pattern.fullmatch(p.name))


def prune_backups(folder: str | Path, project_name: str, keep: int) -> list[Path]:
    """Remove the oldest backups of `project_name` in `folder` beyond the newest `keep`; the ones removed."""
    removed = backups_of(folder, project_name)[:-keep]
    for path in removed:
        try:
            path.unlink()
        except OSError as exc:
            raise plain_os_error(exc, path, "remove the old backup") from None
    return removed


def _check_history(folder: Path) -> None:
    log = default_path(folder)
    if not log.is_file():
        return
    try:
        connection = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise HistoryError(f"the backup's history does not read ({verdict})")


def restore(backup: str | Path, target: str | Path, *, who: Optional[str] = None, note: str = "") -> BackupInfo:
    """Restore `backup` as the new project folder `target` (absent or empty; a project is never written over),
    every file checked, and record it in the restored project's audit trail."""
    info = restore_backup(backup, target, check=_check_history)
    row = {"action": "restore", "version": info.active_version,
           "new": {"backup": str(Path(backup).resolve()), "taken": info.created, "from": info.source},
           "note": note}
    append_audit(Path(target), {**row, **({"who": who} if who else {})})
    return info
