"""The audit trail as a hash chain: a row edited, removed or put in between by hand after it was written is found.

Each row appended (project.append_audit) records `hash`, the sha256 of its own content (the row without `hash`, as
JSON with sorted keys), and `prev`, the `hash` of the row before it (of the line's bytes for a row written before
the chain; "" for the first row). `verify` walks the file: a row whose content no longer gives its hash was edited;
a row whose `prev` is not the row before it follows a removal or an insertion; an unchained row after chained ones
was put in by hand. Rows from before the chain (earlier versions) are accepted as they are.

What it does not catch: the newest rows removed from the end, or a forger who recomputes every hash (the algorithm
is no secret). Keep backups off the PC (`inspector backup`) for those.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

TAIL = 1 << 16  # an audit row is far shorter: the last row is within the file's last 64 KB


def _digest(row: dict) -> str:
    content = {k: v for k, v in row.items() if k != "hash"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False,
                                     default=str).encode("utf-8")).hexdigest()


def _link(line: Optional[bytes]) -> str:
    """What the next row's `prev` names: the row's own hash, else (an unchained or damaged row) its bytes'."""
    if not line:
        return ""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        row = None
    if isinstance(row, dict) and isinstance(row.get("hash"), str):
        return row["hash"]
    return hashlib.sha256(line.strip()).hexdigest()


def last_line(path: Path) -> tuple[Optional[bytes], int, int]:
    """(the file's last complete line or None, the size up to the end of that line, the file's size). The first
    size short of the second is a row torn by a power cut while it was appended: never complete, cut off before
    the next row."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            start = max(0, size - TAIL)
            fh.seek(start)
            tail = fh.read()
    except FileNotFoundError:
        return None, 0, 0
    complete = tail[: tail.rfind(b"\n") + 1]
    lines = [line for line in complete.splitlines() if line.strip()]
    return (lines[-1] if lines else None), start + len(complete), size


def sealed(row: dict, previous: Optional[bytes]) -> bytes:
    """`row` as the line to append after the line `previous`: with its `prev` and `hash`."""
    row = {**{k: v for k, v in row.items() if k not in ("prev", "hash")}, "prev": _link(previous)}
    row["hash"] = _digest(row)
    return (json.dumps(row, allow_nan=False, default=str) + "\n").encode("utf-8")


def verify(data: bytes) -> list[str]:
    """What is wrong with the chain of the audit file's bytes, in words naming each row; [] when intact. A last row
    torn by a power cut (no line end) is left out: it was never complete."""
    lines = data[: data.rfind(b"\n") + 1].splitlines()
    problems = []
    chained = False
    previous: Optional[bytes] = None
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            row = None
        if not isinstance(row, dict):
            problems.append(f"row {number} is not a JSON object: it was edited by hand")
        elif "hash" not in row:
            if chained:
                problems.append(f"row {number} ({_what(row)}) has no place in the chain: it was put in by hand")
        else:
            chained = True
            if row.get("hash") != _digest(row):
                problems.append(f"row {number} ({_what(row)}) was changed after it was written")
            if row.get("prev") != _link(previous):
                problems.append(f"row {number} ({_what(row)}) does not follow the row before it: a row was removed "
                                "or put in between there")
        previous = line
    return problems


def _what(row: dict) -> str:
    return " ".join(str(row.get(k, "")) for k in ("time", "action", "version", "who") if row.get(k))


def verify_audit(folder) -> list[str]:
    """What is wrong with the project's audit trail (see verify); [] when intact or absent."""
    from .errors import plain_os_error
    from .project_files import AUDIT

    path = Path(folder) / AUDIT
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise plain_os_error(exc, path, "read") from None
    return [f"{path}: {problem}" for problem in verify(data)]
