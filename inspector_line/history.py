"""The inspection history: one SQLite row per inspected part, kept across crashes.

Public API (used by the run mode, `inspector history` and the GUI):

    h = History(path)                       # opens or creates; HistoryError if corrupt, locked or unwritable
    row_id = h.record(source=..., file_name=..., verdict="NG", score=..., key=...)
    h.record_result(result, source=..., ...) # the same from an inference.InferenceResult
    h.query(since=None, until=None, verdict=None, min_score=None, max_score=None,
            order="time", descending=True, limit=None) -> list[Inspection]
    h.get(row_id) -> Inspection | None
    h.mark(row_id, "false_reject" | "false_accept" | None)
    h.seen(key) -> bool                      # was the part with this key inspected already?
    h.row_for_key(key) -> Inspection | None
    h.counts(since=None) -> Counts           # total / OK / NG / ERROR / no verdict, yield
    h.drift(reference_ok_scores, threshold, model_id=None, last=200) -> Drift
    inspector_line.export: export_csv(path, rows) / export_json(path, rows); inspector_line.drift: drift_of
    h.apply_retention(days=None, rows=None) -> rows deleted
    h.close()                                # also a context manager

Verdicts are stored as text: "OK", "NG", "ERROR", any other word a source may
need (e.g. "NOT_FOUND"), or NULL for "no verdict" (the model is not
calibrated). NULL is never read as OK; `query(verdict=NO_VERDICT)` selects it.

Exactly once: `record(key=...)` writes the row and the key in one transaction,
so after a crash (even kill -9) a key is either fully recorded or not at all.
The keys live in their own small table and survive retention, so a file still
sitting in a watched folder is never inspected twice.

The database is WAL mode with synchronous=FULL (a committed row survives a
power cut) and a busy timeout, so the GUI can read while a run writes. It is
its own file, by default PROJECT/history.sqlite, and never touches the model
files (inference/project.py alone writes those).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time as _time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from inference import InferenceResult, InspectorError

from .drift import Drift, drift_of

SCHEMA_VERSION = 1
HISTORY_FILE = "history.sqlite"
NO_VERDICT = "no verdict"  # query(verdict=NO_VERDICT) selects rows without a verdict (stored as NULL)
LABELS = ("false_reject", "false_accept")
ORDERS = {"time": "time", "score": "score", "id": "id", "verdict": "verdict", "file_name": "file_name",
          "latency": "latency"}
BUSY_TIMEOUT_S = 10.0

TimeLike = Union[None, float, int, str, datetime]

_SCHEMA = """
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
    archived TEXT                  -- where `inspector run --archive` put this part's file
);
CREATE INDEX IF NOT EXISTS inspections_time ON inspections(time);
CREATE INDEX IF NOT EXISTS inspections_verdict ON inspections(verdict, time);
CREATE TABLE IF NOT EXISTS done (key TEXT PRIMARY KEY, row_id INTEGER, time REAL NOT NULL);
"""



class HistoryError(InspectorError):
    """The history database cannot be opened, read or written (corrupt, locked, read-only, disk full)."""


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
    verdict: Optional[str]  # None = no verdict; never to be read as OK
    reason: str
    regions: list = field(default_factory=list)
    latency: Optional[float] = None
    heatmap_png: Optional[bytes] = None
    heatmap_path: Optional[str] = None
    error: Optional[str] = None
    label: Optional[str] = None
    key: Optional[str] = None
    archived: Optional[str] = None  # the archived file (inspector run --archive), which tells reused names apart

    @property
    def time_iso(self) -> str:
        return datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds")

    @property
    def verdict_text(self) -> str:
        return self.verdict if self.verdict is not None else NO_VERDICT

    def to_dict(self, with_heatmap: bool = False) -> dict:
        out = asdict(self)
        out["time"] = self.time_iso
        out.pop("heatmap_png")
        if with_heatmap and self.heatmap_png is not None:
            import base64

            out["heatmap_png_base64"] = base64.b64encode(self.heatmap_png).decode("ascii")
        return out


@dataclass
class Counts:
    total: int
    ok: int
    ng: int
    error: int
    no_verdict: int
    other: int

    @property
    def yield_pct(self) -> Optional[float]:
        """OK parts / all parts, in %: a part without a verdict or with an error is not a good part."""
        return 100.0 * self.ok / self.total if self.total else None


def default_path(project: Union[str, Path]) -> Path:
    return Path(project) / HISTORY_FILE


def to_epoch(value: TimeLike) -> Optional[float]:
    """None, seconds since 1970, a datetime (naive = local time) or an ISO 8601 string -> seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise HistoryError(f"not a date/time: {value!r} (use e.g. 2026-11-24 or 2026-11-24T08:00)") from None
    raise HistoryError(f"not a date/time: {value!r}")


def _plain(exc: sqlite3.Error, path: Path) -> str:
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


class History:
    """The inspection history in one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: Union[str, Path], busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path)
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise HistoryError(f"the inspection history {self.path} is a folder, not a file")
        try:
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout, check_same_thread=False,
                                       isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(_plain(exc, self.path)) from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise HistoryError(f"the inspection history {self.path} cannot use WAL mode (journal {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(inspections)").fetchall()}
            if "archived" not in columns:  # a history from before the column: added, nothing else changes
                self._db.execute("ALTER TABLE inspections ADD COLUMN archived TEXT")
            row = self._db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise HistoryError(f"the inspection history {self.path} was written by a newer version "
                                   f"(schema {row[0]}); update the application")
        except sqlite3.Error as exc:
            self._db.close()
            raise HistoryError(_plain(exc, self.path)) from None
        except HistoryError:
            self._db.close()
            raise

    # -- plumbing ---------------------------------------------------------------
    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise HistoryError(_plain(exc, self.path)) from None

    # -- writing ----------------------------------------------------------------
    def record(
        self,
        *,
        source: str,
        file_name: str,
        verdict: Optional[str] = None,
        score: Optional[float] = None,
        threshold: Optional[float] = None,
        sha256: Optional[str] = None,
        model_id: Optional[str] = None,
        reason: str = "",
        regions: Optional[Iterable] = None,
        latency: Optional[float] = None,
        heatmap: Union[None, bytes, str, Path] = None,
        error: Optional[str] = None,
        key: Optional[str] = None,
        time: TimeLike = None,
    ) -> int:
        """Add one inspection; returns its row id.

        With a `key` the row and the key are committed together; a key already
        recorded adds nothing and returns the existing row's id (or -1 if that
        row was removed by retention). `heatmap` is PNG bytes or a file path.
        """
        if verdict is not None and not isinstance(verdict, str):
            raise HistoryError(f"verdict must be text or None, got {verdict!r}")
        for name, value in (("score", score), ("threshold", threshold), ("latency", latency)):
            if value is not None and not math.isfinite(float(value)):
                # Stored as given would read back as a number comparing false with everything.
                raise HistoryError(f"{name} must be a finite number, got {value!r}")
        when = to_epoch(time) if time is not None else _time.time()
        blob = bytes(heatmap) if isinstance(heatmap, (bytes, bytearray, memoryview)) else None
        hpath = str(heatmap) if isinstance(heatmap, (str, Path)) else None
        regions_json = json.dumps([_jsonable(r) for r in (regions or [])])
        row = (when, str(source), str(file_name), sha256, model_id, _num(score), _num(threshold), verdict,
               reason or "", regions_json, _num(latency), blob, hpath, error, key)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if key is not None:
                        old = self._db.execute("SELECT row_id FROM done WHERE key = ?", (key,)).fetchone()
                        if old is not None:
                            self._db.execute("ROLLBACK")
                            exists = self._db.execute("SELECT 1 FROM inspections WHERE id = ?", (old[0],)).fetchone()
                            return int(old[0]) if exists else -1
                    cur = self._db.execute(
                        "INSERT INTO inspections (time, source, file_name, sha256, model_id, score, threshold, "
                        "verdict, reason, regions, latency, heatmap, heatmap_path, error, key) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                    row_id = int(cur.lastrowid)
                    if key is not None:
                        self._db.execute("INSERT INTO done VALUES (?, ?, ?)", (key, row_id, when))
                    self._db.execute("COMMIT")
                    return row_id
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise HistoryError(_plain(exc, self.path)) from None

    def record_result(self, result: InferenceResult, *, source: str, file_name: Optional[str] = None,
                      sha256: Optional[str] = None, model_id: Optional[str] = None,
                      latency: Optional[float] = None, heatmap: Union[None, bytes, str, Path] = None,
                      key: Optional[str] = None, time: TimeLike = None) -> int:
        """Record an engine result: its score, threshold, verdict, reason and the regions that count."""
        return self.record(
            source=source, file_name=file_name or result.name, verdict=result.verdict, score=result.score,
            threshold=result.threshold, sha256=sha256, model_id=model_id, reason=result.reason,
            regions=[r.to_dict() for r in result.regions if r.counts], latency=latency, heatmap=heatmap,
            key=key, time=time,
        )

    def set_archived(self, row_id: int, path) -> None:
        """Where the row's file was archived (after the row is committed: the row comes first, exactly once)."""
        self._run("UPDATE inspections SET archived = ? WHERE id = ?", (str(path), int(row_id)))

    def mark(self, row_id: int, label: Optional[str]) -> None:
        """A reviewer's mark: "false_reject" (an NG that was a good part), "false_accept", or None to clear."""
        if label is not None and label not in LABELS:
            raise HistoryError(f"label must be one of {', '.join(LABELS)} or none, got {label!r}")
        with self._lock:
            try:
                cur = self._db.execute("UPDATE inspections SET label = ? WHERE id = ?", (label, int(row_id)))
            except sqlite3.Error as exc:
                raise HistoryError(_plain(exc, self.path)) from None
            if cur.rowcount == 0:
                raise HistoryError(f"no inspection with id {row_id} in {self.path}")

    def apply_retention(self, days: Optional[float] = None, rows: Optional[int] = None) -> int:
        """Delete rows older than `days` and all but the newest `rows`; returns how many were deleted.

        The exactly-once keys are kept (a few dozen bytes each), so a file still
        in a watched folder is not inspected again after its row is gone.
        """
        if days is not None and not (days >= 0):
            raise HistoryError(f"retention days must be >= 0, got {days!r}")
        if rows is not None and not (int(rows) >= 0):
            raise HistoryError(f"retention rows must be >= 0, got {rows!r}")
        deleted = 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if days is not None:
                    cur = self._db.execute("DELETE FROM inspections WHERE time < ?", (_time.time() - days * 86400,))
                    deleted += cur.rowcount
                if rows is not None:
                    cur = self._db.execute(
                        "DELETE FROM inspections WHERE id NOT IN "
                        "(SELECT id FROM inspections ORDER BY time DESC, id DESC LIMIT ?)", (int(rows),))
                    deleted += cur.rowcount
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise HistoryError(_plain(exc, self.path)) from None
        return deleted

    # -- reading ----------------------------------------------------------------
    def seen(self, key: str) -> bool:
        return bool(self._run("SELECT 1 FROM done WHERE key = ?", (key,)))

    def row_for_key(self, key: str) -> Optional[Inspection]:
        """The row recorded with this exactly-once key (None if never recorded or removed by retention)."""
        rows = self._run(f"SELECT {_COLUMNS} FROM inspections WHERE id = (SELECT row_id FROM done WHERE key = ?)",
                         (key,))
        return _inspection(rows[0]) if rows else None

    def get(self, row_id: int) -> Optional[Inspection]:
        rows = self._run(f"SELECT {_COLUMNS} FROM inspections WHERE id = ?", (int(row_id),))
        return _inspection(rows[0]) if rows else None

    def query(
        self,
        since: TimeLike = None,
        until: TimeLike = None,
        verdict: Union[None, str, Sequence[str]] = None,
        min_score: Optional[float] = None,
        max_score: Optional[float] = None,
        order: str = "time",
        descending: bool = True,
        limit: Optional[int] = None,
        label: Optional[str] = None,
        model_id: Optional[str] = None,
        offset: int = 0,
    ) -> list[Inspection]:
        """Rows matching every filter given. `verdict` is one verdict or several; NO_VERDICT means none."""
        if order not in ORDERS:
            raise HistoryError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        where, params = self._where(since, until, verdict, min_score, max_score, label, model_id)
        sql = f"SELECT {_COLUMNS} FROM inspections{where} ORDER BY {ORDERS[order]} {'DESC' if descending else 'ASC'}"
        sql += f", id {'DESC' if descending else 'ASC'}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else int(limit), int(offset)]
        return [_inspection(r) for r in self._run(sql, params)]

    def count(self, **filters) -> int:
        """How many rows match; takes query()'s filters (since, until, verdict, min_score, ...)."""
        where, params = self._where(**filters)
        return int(self._run(f"SELECT COUNT(*) FROM inspections{where}", params)[0][0])

    def counts(self, since: TimeLike = None, until: TimeLike = None) -> Counts:
        where, params = self._where(since, until)
        rows = self._run(f"SELECT verdict, COUNT(*) FROM inspections{where} GROUP BY verdict", params)
        by = {v: n for v, n in rows}
        known = {"OK", "NG", "ERROR", None}
        return Counts(total=sum(by.values()), ok=by.get("OK", 0), ng=by.get("NG", 0), error=by.get("ERROR", 0),
                      no_verdict=by.get(None, 0), other=sum(n for v, n in by.items() if v not in known))

    def counts_by_verdict(self) -> dict:
        """{verdict: rows} over the whole history; None for rows without a verdict."""
        return {v: n for v, n in self._run("SELECT verdict, COUNT(*) FROM inspections GROUP BY verdict", ())}

    def _where(self, since=None, until=None, verdict=None, min_score=None, max_score=None, label=None,
               model_id=None) -> tuple[str, list]:
        clauses, params = [], []
        if since is not None:
            clauses.append("time >= ?")
            params.append(to_epoch(since))
        if until is not None:
            clauses.append("time < ?")
            params.append(to_epoch(until))
        if verdict is not None:
            wanted = [verdict] if isinstance(verdict, str) else list(verdict)
            parts = []
            named = [v for v in wanted if v != NO_VERDICT]
            if named:
                parts.append(f"verdict IN ({', '.join('?' * len(named))})")
                params.extend(named)
            if NO_VERDICT in wanted:
                parts.append("verdict IS NULL")
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "0")
        if min_score is not None:
            clauses.append("score >= ?")
            params.append(float(min_score))
        if max_score is not None:
            clauses.append("score <= ?")
            params.append(float(max_score))
        if label is not None:
            clauses.append("label = ?")
            params.append(label)
        if model_id is not None:
            clauses.append("model_id = ?")
            params.append(model_id)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def recent_ok_scores(self, last: int = 200, model_id: Optional[str] = None) -> list[float]:
        """The scores of the newest `last` OK rows (of `model_id` when given), newest first."""
        where, params = self._where(verdict="OK", model_id=model_id)
        rows = self._run(f"SELECT score FROM inspections{where} AND score IS NOT NULL "
                         "ORDER BY time DESC, id DESC LIMIT ?", params + [int(last)])
        return [float(r[0]) for r in rows]

    def drift(self, reference_ok_scores: Sequence[float], threshold: Optional[float],
              model_id: Optional[str] = None, last: int = 200, warn_at: float = 0.5,
              min_count: int = 20) -> Drift:
        """Rolling median / p99 of the last `last` OK scores against the calibration's OK scores."""
        return drift_of(self.recent_ok_scores(last, model_id), reference_ok_scores, threshold, warn_at, min_count)


# -- rows ------------------------------------------------------------------------
_COLUMNS = ("id, time, source, file_name, sha256, model_id, score, threshold, verdict, reason, regions, latency, "
            "heatmap, heatmap_path, error, label, key, archived")


def _inspection(row: tuple) -> Inspection:
    (rid, when, source, name, sha, model_id, score, thr, verdict, reason, regions, latency, heatmap, hpath, error,
     label, key, archived) = row
    try:
        parsed = json.loads(regions) if regions else []
    except ValueError:
        parsed = []
    return Inspection(rid, when, source, name, sha, model_id, score, thr, verdict, reason or "", parsed, latency,
                      bytes(heatmap) if heatmap is not None else None, hpath, error, label, key, archived)


def _num(value) -> Optional[float]:
    return None if value is None else float(value)


def _jsonable(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
