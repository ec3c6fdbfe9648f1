"""The audit half of the project writer: one row per change that alters verdicts, appended to audit.jsonl under
the project lock, sealed into the hash chain (audit_chain.py)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from . import audit_chain
from . import project as _p
from .errors import plain_os_error
from .project_files import AUDIT


def append_audit(folder: Path, row: dict) -> dict:
    """One change that alters verdicts, appended to audit.jsonl (time and the OS user filled in when absent)."""
    folder = Path(folder)
    row = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "who": _p.os_user(), **row}
    with _p.writing(folder):
        path = folder / AUDIT
        try:
            previous, complete, size = audit_chain.last_line(path)  # a hash chain: audit_chain.py
            line = audit_chain.sealed(row, previous)
            if size > complete:  # a row torn by a power cut: never complete
                os.truncate(path, complete)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _p.FILE_MODE)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise plain_os_error(exc, path) from None
    return json.loads(line)
