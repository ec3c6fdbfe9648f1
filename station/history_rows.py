"""The history's rows as Python objects (Inspection), its tables and columns, and its errors in plain words."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from inference import Verdict, sha256_file


@dataclass
class Inspection:
    """One history row."""

    id: int
    time: float  # seconds since 1970 UTC
    source: str
    file_name: str
    sha256: Optional[str]
    model_id: Optional[str]
    score: Optional[float]
    threshold: Optional[float]
    verdict: Verdict  # NO_VERDICT is never to be read as OK
    reason: str
    regions: list = field(default_factory=list)
    latency: Optional[float] = None
    heatmap_png: Optional[bytes] = None
    heatmap_path: Optional[str] = None
    error: Optional[str] = None
    label: Optional[str] = None
    key: Optional[str] = None
    model_version: Optional[str] = None
    part_id: Optional[str] = None
    archive_path: Optional[str] = None  # '' while owed: handed to the archive's thread, not archived yet
    purpose: str = "line"
    expected: Optional[Verdict] = None  # a master part's (purpose "master"): the verdict it must get
    error_code: Optional[int] = None  # an ERROR's cause (station.ErrorCode); None for another verdict or a row
    # written before the history kept it (schema 4)
    marked_by: Optional[str] = None  # who set (or cleared) the row's label last, and when (the marks log)
    marked_at: Optional[float] = None

    @property
    def master_passed(self) -> Optional[bool]:
        """A master part's check: whether it got its expected verdict; None for any other part."""
        return None if self.expected is None else self.verdict is self.expected

    @property
    def purpose_note(self) -> str:
        """What a listing adds for a row that is no production part: "master, expected NG: passed", "bench"; ""."""
        if self.expected is not None:
            return f"master, expected {self.expected.value}: {'passed' if self.master_passed else 'FAILED'}"
        return "bench" if self.purpose == "bench" else ""

    @property
    def time_iso(self) -> str:
        return datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds")

    @property
    def verdict_text(self) -> str:
        return self.verdict.value

    def image_path(self) -> Optional[Path]:
        """Where this part's image is now: its archived copy, else the file it was inspected from while that
        still holds the same bytes (a camera that names every part image.png has overwritten it since: its
        sha256 tells); None when neither is left, or for a camera frame never archived."""
        if self.archive_path and Path(self.archive_path).is_file():
            return Path(self.archive_path)
        origin = Path(self.source) / self.file_name
        try:
            if origin.is_file() and (self.sha256 is None or sha256_file(origin) == self.sha256):
                return origin
        except OSError:
            pass
        return None

    def to_dict(self, with_heatmap: bool = False) -> dict:
        out = asdict(self)
        out["time"] = self.time_iso
        if self.marked_at is not None:
            out["marked_at"] = datetime.fromtimestamp(self.marked_at, timezone.utc).isoformat(timespec="seconds")
        out["verdict"] = self.verdict.value
        out["archive_path"] = self.archive_path or None  # '' (owed to the archive, not there yet): not archived
        out["expected"] = None if self.expected is None else self.expected.value
        out.pop("heatmap_png")
        if with_heatmap and self.heatmap_png is not None:
            import base64

            out["heatmap_png_base64"] = base64.b64encode(self.heatmap_png).decode("ascii")
        return out


def plain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the inspection history {path} is locked by another program; close it and retry"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"the inspection history {path} is damaged ({text}); move it aside to start a new one "
                "(the model is not affected)")
    if "readonly" in text or "read-only" in text:
        return f"the inspection history {path} is read-only; make the folder writable"
    if "disk" in text and "full" in text:
        return f"the disk holding the inspection history {path} is full; free some space"
    if "unable to open" in text:
        return f"cannot open the inspection history {path}: the folder is missing or not writable"
    return f"inspection history {path}: {text}"


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inspections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,            -- seconds since 1970 UTC
    source TEXT NOT NULL,          -- folder path, camera:N, video file, "gui", ...
    file_name TEXT NOT NULL,       -- file name, or frame name for cameras/videos
    sha256 TEXT,                   -- of the file's bytes (of the RGB pixels for frames)
    model_id TEXT,
    score REAL,
    threshold REAL,
    verdict TEXT,                  -- OK / NG / ERROR / other word; NULL = no verdict
    reason TEXT NOT NULL DEFAULT '',
    regions TEXT NOT NULL DEFAULT '[]',  -- JSON list of the regions that count
    latency REAL,                  -- seconds from the image complete to this row
    heatmap BLOB,                  -- small PNG thumbnail
    heatmap_path TEXT,             -- or where a full one was written
    error TEXT,
    label TEXT,                    -- false_reject / false_accept / NULL (a reviewer's mark)
    key TEXT,                      -- exactly-once key (see done)
    model_version TEXT,            -- the project's model version that judged it (v3)
    part_id TEXT,                  -- the part's id or serial number, when one was given
    archive_path TEXT,             -- where the image was archived ('': handed to the archive, not there yet)
    purpose TEXT NOT NULL DEFAULT 'line',  -- line / bench (a check, e.g. the window's Inspect tab) / master
    expected TEXT,                 -- a master part's: the verdict it must get (station.masters)
    error_code INTEGER             -- an ERROR's cause (station.ErrorCode, as the PLC got it); NULL for other verdicts
);
CREATE INDEX IF NOT EXISTS inspections_time ON inspections(time);
CREATE INDEX IF NOT EXISTS inspections_verdict ON inspections(verdict, time);
CREATE TABLE IF NOT EXISTS done (key TEXT PRIMARY KEY, row_id INTEGER, time REAL NOT NULL);
-- the file version (size, mtime, inode) each file's latest key was recorded for: a restart skips what it knows
-- without reading it (inspector_line.sources.file_identity)
CREATE TABLE IF NOT EXISTS done_files (path TEXT PRIMARY KEY, version TEXT NOT NULL, key TEXT NOT NULL);
"""
# Every reviewer's mark, set or cleared: who and when (the inspections' label is the latest). A table of its own,
# made at the first open or mark where it is missing, so that an earlier version still opens the history.
MARKS = """
CREATE TABLE IF NOT EXISTS marks (id INTEGER PRIMARY KEY AUTOINCREMENT, row_id INTEGER NOT NULL, time REAL NOT NULL,
                                  label TEXT, who TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS marks_row ON marks(row_id);
"""
# Partial indexes of the few rows some readers need out of millions (History._make_missing).
INDEXES = {"inspections_marked": "CREATE INDEX IF NOT EXISTS inspections_marked ON inspections(label) "
                                 "WHERE label IS NOT NULL",
           "inspections_master": "CREATE INDEX IF NOT EXISTS inspections_master ON inspections(time) "
                                 "WHERE purpose = 'master'",
           "inspections_owed": "CREATE INDEX IF NOT EXISTS inspections_owed ON inspections(id) "
                               "WHERE archive_path = ''"}


COLUMNS = ("id, time, source, file_name, sha256, model_id, score, threshold, verdict, reason, regions, latency, "
            "heatmap, heatmap_path, error, label, key, model_version, part_id, archive_path, purpose, expected, "
            "error_code")
# Columns added since schema 1 (a history of an earlier version gains them on open).
ADDEDCOLUMNS = (("model_version", "TEXT"), ("part_id", "TEXT"), ("archive_path", "TEXT"),
                  ("purpose", "TEXT NOT NULL DEFAULT 'line'"), ("expected", "TEXT"), ("error_code", "INTEGER"))


def inspection(row: tuple) -> Inspection:
    (rid, when, source, name, sha, model_id, score, thr, verdict, reason, regions, latency, heatmap, hpath, error,
     label, key, model_version, part_id, archive_path, purpose, expected, error_code) = row
    try:
        parsed = json.loads(regions) if regions else []
    except ValueError:
        parsed = []
    verdict = stored_verdict(verdict)
    return Inspection(rid, when, source, name, sha, model_id, score, thr, verdict, reason or "", parsed, latency,
                      bytes(heatmap) if heatmap is not None else None, hpath, error, label, key, model_version,
                      part_id, archive_path, purpose or "line", None if expected is None else Verdict.parse(expected),
                      None if error_code is None else int(error_code))


def stored_verdict(text: Optional[str]) -> Verdict:
    """A verdict as the history stores it (NULL: NO_VERDICT)."""
    try:
        return Verdict.parse(text)
    except ValueError:  # a word an earlier version let a source store
        return Verdict.ERROR


def num(value) -> Optional[float]:
    return None if value is None else float(value)


def jsonable(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
