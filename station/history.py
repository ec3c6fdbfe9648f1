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
    h.key_for_file(path, version) -> key | None   # the key recorded for this version of a file (no hashing)
    h.row_for_key(key) -> Inspection | None
    h.counts(since=None) -> VerdictCounts    # OK / NG / NOT_FOUND / NO_VERDICT / ERROR, the one yield
    h.hourly_counts(since=None) -> [...]     # per local hour (station.history_periods: hours, days, shifts)
    h.ng_zones(), h.error_causes() -> [...]  # NG parts per zone, ERRORs per cause (station.history_zones)
    h.drift(reference_ok_scores, threshold, model_id=None, last=200) -> Drift
    inspector_line.export: export_csv(path, rows) / export_json(path, rows); station.drift: drift_of
    h.apply_retention(days=None, rows=None) -> rows deleted (a marked row stays until its mark is cleared)
    h.marked_archive_paths() -> list[str]   # the marked rows' archived images, which the archive keeps
    h.master_rows() -> [(part id, expected, verdict, time)]   # master parts' checks (station.masters)
    h.archive_owed() -> [(row id, key, file name, verdict, time)]  # recorded with ARCHIVE_OWED, never archived
    h.close()                                # also a context manager

Verdicts are stored as text: "OK", "NG", "NOT_FOUND", "ERROR", or NULL for
NO_VERDICT (the model is not calibrated); rows read back carry an
inference.Verdict. NULL is never read as OK; `query(verdict=NO_VERDICT)` selects
it. Each row says which model version judged it, the part id when one was
given, where the image was archived, and whether it was a line inspection or a
bench check (`purpose`: "line" / "bench", e.g. the window's Inspect tab), or a master part run to verify the
station ("master", with the verdict it must get: `expected`).

Exactly once: `record(key=...)` writes the row and the key in one transaction,
so after a crash (even kill -9) a key is either fully recorded or not at all.
The keys live in their own small table and survive retention, so a file still
sitting in a watched folder is never inspected twice; `prune_keys` forgets those
whose files left the folder long ago.

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
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

from inference import InferenceResult, Verdict, os_user

from .history_filters import (LABELS, HistoryError, TimeLike, check_label, parse_label, to_epoch, where_clause)
from .history_reports import HistoryReports
from .history_rows import (ADDEDCOLUMNS, COLUMNS, INDEXES, MARKS, SCHEMA, Inspection, inspection, jsonable, num, plain,
                           stored_verdict)

SCHEMA_VERSION = 4  # 3: the expected verdict of master parts; 4: an ERROR's cause
HISTORY_FILE = "history.sqlite"
NO_VERDICT = Verdict.NO_VERDICT.value  # query(verdict=NO_VERDICT) selects rows without a verdict (stored as NULL)
PURPOSES = ("line", "bench", "master")  # master: a master part run to verify the station (station.masters)
ORDERS = {"time": "time", "score": "score", "id": "id", "verdict": "verdict", "file_name": "file_name",
          "latency": "latency"}
BUSY_TIMEOUT_S = 10.0
_PRUNABLE = "label IS NULL AND purpose != 'master'"  # the rows retention may delete
# archive_path of a row whose image is handed to the archive's thread: owed until it says where (or that it will
# not); a restart archives what is still owed (archive_owed). Exports and the API show it as no archive (None).
ARCHIVE_OWED = ""  # the literal '' in archive_owed's query


def default_path(project: Union[str, Path]) -> Path:
    return Path(project) / HISTORY_FILE


class History(HistoryReports):
    """The inspection history in one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: Union[str, Path], busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._keys_checked_to = 0  # prune_keys: the done rows before this rowid were looked at
        if self.path.is_dir():
            raise HistoryError(f"the inspection history {self.path} is a folder, not a file")
        try:
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout, check_same_thread=False,
                                       isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(plain(exc, self.path)) from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise HistoryError(f"the inspection history {self.path} cannot use WAL mode (journal {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise HistoryError(f"the inspection history {self.path} was written by a newer version "
                                   f"(schema {row[0]}); update the application")
            if row is None or int(row[0]) < SCHEMA_VERSION:  # only then: opening must not need a write lock
                self._upgrade()
            self._make_missing()
        except sqlite3.Error as exc:
            self._db.close()
            raise HistoryError(plain(exc, self.path)) from None
        except HistoryError:
            self._db.close()
            raise

    def _upgrade(self) -> None:
        """A history of an earlier version gains the columns it lacks (its rows keep their values), in one
        transaction that holds the write lock from before it looks: the run and the window opening it at once
        after an update add each column once (the second saw none added, and failed on "duplicate column")."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            have = {r[1] for r in self._db.execute("PRAGMA table_info(inspections)").fetchall()}
            for column, kind in ADDEDCOLUMNS:
                if column not in have:
                    self._db.execute(f"ALTER TABLE inspections ADD COLUMN {column} {kind}")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _make_missing(self) -> None:
        """What a history of an earlier version lacks, made once where it can be written now (read-only, another
        writer: not now). The indexes of the few marked rows and master checks, which retention, the archive's
        keeper and the master watch ask for: without them the queries still work, only slower. The marks log:
        without it no row says who marked it, and the first mark makes it."""
        for name, sql in {**INDEXES, "marks": MARKS}.items():
            if not self._has(name):
                try:
                    self._db.executescript(sql)
                except sqlite3.Error:
                    pass
        self._has_marks = self._has("marks")

    def _has(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None

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
                raise HistoryError(plain(exc, self.path)) from None

    # -- writing ----------------------------------------------------------------
    def record(
        self,
        *,
        source: str,
        file_name: str,
        verdict=None,
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
        model_version: Optional[str] = None,
        part_id: Optional[str] = None,
        archive_path: Union[None, str, Path] = None,
        purpose: str = "line",
        also: Optional[Callable[[sqlite3.Connection, int], None]] = None,
        file_version: Optional[tuple[str, str]] = None,
        expected=None,
        error_code: Optional[int] = None,
    ) -> int:
        """Add one inspection; returns its row id. `verdict`: an inference.Verdict or its name (None:
        NO_VERDICT).

        With a `key` the row and the key are committed together; a key already
        recorded adds nothing and returns the existing row's id (or -1 if that
        row was removed by retention). `heatmap` is PNG bytes or a file path. `also(db, row_id)` runs inside
        the row's transaction (the run mode keeps the result owed to its receivers there: one commit for both).
        `file_version`: (file path, its version) the key was made from, for `key_for_file`. `expected`: the
        verdict a master part must get (purpose "master" only). `error_code`: an ERROR's cause (station.ErrorCode;
        ERROR rows only).
        """
        try:
            verdict = Verdict.parse(verdict)
        except (ValueError, TypeError):
            raise HistoryError(f"verdict must be one of {', '.join(v.value for v in Verdict)}, got {verdict!r}") \
                from None
        if purpose not in PURPOSES:
            raise HistoryError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
        if (expected is None) != (purpose != "master"):
            raise HistoryError("a master part's row needs its expected verdict, and only a master part's has one")
        expected = None if expected is None else Verdict.parse(expected).value
        if error_code is not None and verdict is not Verdict.ERROR:
            raise HistoryError(f"only an ERROR has a cause (error_code {error_code}), not {verdict.value}")
        for name, value in (("score", score), ("threshold", threshold), ("latency", latency)):
            if value is not None and not math.isfinite(float(value)):
                # Stored as given would read back as a number comparing false with everything.
                raise HistoryError(f"{name} must be a finite number, got {value!r}")
        when = to_epoch(time) if time is not None else _time.time()
        blob = bytes(heatmap) if isinstance(heatmap, (bytes, bytearray, memoryview)) else None
        hpath = str(heatmap) if isinstance(heatmap, (str, Path)) else None
        regions_json = json.dumps([jsonable(r) for r in (regions or [])])
        stored_verdict = None if verdict is Verdict.NO_VERDICT else verdict.value
        row = (when, str(source), str(file_name), sha256, model_id, num(score), num(threshold), stored_verdict,
               reason or "", regions_json, num(latency), blob, hpath, error, key, model_version, part_id,
               None if archive_path is None else str(archive_path), purpose, expected,
               None if error_code is None else int(error_code))
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
                        "verdict, reason, regions, latency, heatmap, heatmap_path, error, key, model_version, "
                        "part_id, archive_path, purpose, expected, error_code) "
                        f"VALUES ({', '.join('?' * len(row))})",
                        row)
                    row_id = int(cur.lastrowid)
                    if key is not None:
                        self._db.execute("INSERT INTO done VALUES (?, ?, ?)", (key, row_id, when))
                        if file_version is not None:
                            self._db.execute("INSERT OR REPLACE INTO done_files VALUES (?, ?, ?)",
                                             (str(file_version[0]), str(file_version[1]), key))
                    if also is not None:
                        also(self._db, row_id)
                    self._db.execute("COMMIT")
                    return row_id
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise HistoryError(plain(exc, self.path)) from None

    def record_result(self, result: InferenceResult, *, source: str, file_name: Optional[str] = None,
                      sha256: Optional[str] = None, model_id: Optional[str] = None,
                      latency: Optional[float] = None, heatmap: Union[None, bytes, str, Path] = None,
                      key: Optional[str] = None, time: TimeLike = None, **row) -> int:
        """Record an engine result: its score, threshold, verdict, reason and the regions that count (`row`:
        record()'s model_version, part_id, archive_path, purpose)."""
        return self.record(
            source=source, file_name=file_name or result.name, verdict=result.verdict, score=result.score,
            threshold=result.threshold, sha256=sha256, model_id=model_id, reason=result.reason,
            regions=[r.to_dict() for r in result.regions if r.counts], latency=latency, heatmap=heatmap,
            key=key, time=time, error=result.error, **row,
        )

    def set_archive_path(self, row_id: int, path: Union[None, str, Path]) -> None:
        """Where the part's image was archived (known only after its row: the row comes first); None: it will not
        be (the archive had no room, or refused it), so it is no longer owed."""
        self._run("UPDATE inspections SET archive_path = ? WHERE id = ?",
                  (None if path is None else str(path), int(row_id)))

    def archive_owed(self) -> list[tuple[int, Optional[str], str, Verdict, float]]:
        """The rows recorded with archive_path=ARCHIVE_OWED whose image was never archived (a kill, a power cut or
        a stop before the archive's thread got to it): (row id, key, file name, verdict, time), oldest first."""
        # The literal, not a parameter: only then does SQLite use the partial index of the few owed rows.
        rows = self._run("SELECT id, key, file_name, verdict, time FROM inspections WHERE archive_path = '' "
                         "ORDER BY id")
        return [(rid, key, name, stored_verdict(verdict), when) for rid, key, name, verdict, when in rows]

    def archive_not_owed(self, row_ids: Sequence[int]) -> None:
        """These rows' images will never be archived (gone from the folder since): they are owed no more."""
        for start in range(0, len(row_ids), 500):
            chunk = [int(r) for r in row_ids[start:start + 500]]
            self._run(f"UPDATE inspections SET archive_path = NULL WHERE archive_path = ? AND id IN "
                      f"({', '.join('?' * len(chunk))})", [ARCHIVE_OWED, *chunk])

    def mark(self, row_id: int, label: Optional[str], who: str = "") -> None:
        """A reviewer's mark: "false_reject" (an NG that was a good part), "false_accept", or None to clear; the
        marks log keeps who set it and when (default: the OS user), in the same transaction."""
        check_label(label)
        with self._lock:
            try:
                if not self._has_marks:
                    self._db.executescript(MARKS)
                    self._has_marks = True
                self._db.execute("BEGIN IMMEDIATE")
                cur = self._db.execute("UPDATE inspections SET label = ? WHERE id = ?", (label, int(row_id)))
                if cur.rowcount == 0:
                    self._db.execute("ROLLBACK")
                    raise HistoryError(f"no inspection with id {row_id} in {self.path}")
                self._db.execute("INSERT INTO marks (row_id, time, label, who) VALUES (?, ?, ?, ?)",
                                 (int(row_id), _time.time(), label, who or os_user()))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise HistoryError(plain(exc, self.path)) from None

    def marks(self, row_id: int) -> list[dict]:
        """Every mark set on the row, oldest first: time, label (None: cleared), who."""
        if not self._has_marks:
            return []
        return [{"time": t, "label": label, "who": who} for t, label, who in
                self._run("SELECT time, label, who FROM marks WHERE row_id = ? ORDER BY id", (int(row_id),))]

    def _with_marks(self, rows: list[Inspection]) -> list[Inspection]:
        """The rows with who marked each last, and when, from the marks log."""
        if self._has_marks and rows:
            by_id = {r.id: r for r in rows}
            ids = list(by_id)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for row_id, when, who in self._run(f"SELECT row_id, time, who FROM marks WHERE row_id IN "
                                                   f"({', '.join('?' * len(chunk))}) ORDER BY id", chunk):
                    by_id[row_id].marked_at, by_id[row_id].marked_by = when, who
        return rows

    def apply_retention(self, days: Optional[float] = None, rows: Optional[int] = None) -> int:
        """Delete rows older than `days` and all but the newest `rows`; returns how many were deleted.

        A master part's row is kept: it is the record that the station was verified (and the master watch's
        state). A row a reviewer marked (false reject / false accept) is kept until its mark is cleared: it is the
        evidence that teaching and calibration take back (the window's *Teach false rejects*), and its archived
        image is kept with it (`marked_archive_paths`). The exactly-once keys are kept, so a file still in a
        watched folder is not inspected again after its row is gone (`prune_keys` forgets the keys of
        files long gone from it).
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
                    cur = self._db.execute(f"DELETE FROM inspections WHERE time < ? AND {_PRUNABLE}",
                                           (_time.time() - days * 86400,))
                    deleted += cur.rowcount
                if rows is not None:
                    cur = self._db.execute(
                        f"DELETE FROM inspections WHERE {_PRUNABLE} AND id NOT IN "
                        "(SELECT id FROM inspections ORDER BY time DESC, id DESC LIMIT ?)", (int(rows),))
                    deleted += cur.rowcount
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise HistoryError(plain(exc, self.path)) from None
        return deleted

    def prune_keys(self, before: float, gone: Callable[[str], bool], limit: int = 5000) -> int:
        """Forget the exactly-once keys recorded before `before` (seconds since 1970) whose part cannot come back:
        `gone(key)` says so (its file left the watched folder). A run of months would otherwise keep every part's
        key (some 230 bytes each with its index: 7 GB a year at a part a second) for ever, however short the
        retention. Keys are looked at once, from where the last call stopped (insertion order), `limit` at a
        time; returns how many were forgotten."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT rowid, key, time FROM done WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                        (self._keys_checked_to, int(limit))).fetchall()
                dead = []
                for rowid, key, when in rows:
                    if when >= before:
                        break
                    self._keys_checked_to = rowid
                    if gone(key):
                        dead.append((rowid, key))
                for i in range(0, len(dead), 500):
                    rowids, keys = zip(*dead[i:i + 500])
                    marks = ",".join("?" * len(rowids))
                    self._db.execute(f"DELETE FROM done WHERE rowid IN ({marks})", rowids)
                    self._db.execute(f"DELETE FROM done_files WHERE key IN ({marks})", keys)
                if dead:  # SQLite gives a new key the largest rowid left + 1: with the last keys gone, rowids the
                    # pass looked at come again, for keys it has not (a week's stop, then a pass that forgets all)
                    left = self._db.execute("SELECT MAX(rowid) FROM done").fetchone()[0] or 0
                    self._keys_checked_to = min(self._keys_checked_to, left)
                return len(dead)
            except sqlite3.Error as exc:
                raise HistoryError(plain(exc, self.path)) from None

    # -- reading ----------------------------------------------------------------
    def master_rows(self) -> list[tuple[str, str, Verdict, float]]:
        """Every master part's check, oldest first: (part id, expected verdict, verdict, time)."""
        rows = self._run("SELECT part_id, expected, verdict, time FROM inspections WHERE purpose = 'master' "
                         "ORDER BY time, id")
        return [(part_id, expected, stored_verdict(verdict), when) for part_id, expected, verdict, when in rows]

    def marked_archive_paths(self) -> list[str]:
        """Where the images of the marked rows were archived: the archive's keeper leaves them in place."""
        return [r[0] for r in self._run("SELECT archive_path FROM inspections WHERE label IS NOT NULL "
                                        "AND archive_path IS NOT NULL AND archive_path != ?", (ARCHIVE_OWED,))]

    def seen(self, key: str) -> bool:
        return bool(self._run("SELECT 1 FROM done WHERE key = ?", (key,)))

    def key_for_file(self, path: str, version: str) -> Optional[str]:
        """The key recorded for this very version of the file at `path` (`record(file_version=...)`), or None."""
        rows = self._run("SELECT key FROM done_files WHERE path = ? AND version = ?", (str(path), str(version)))
        return rows[0][0] if rows else None

    def row_for_key(self, key: str) -> Optional[Inspection]:
        """The row recorded with this exactly-once key (None if never recorded or removed by retention)."""
        rows = self._run(f"SELECT {COLUMNS} FROM inspections WHERE id = (SELECT row_id FROM done WHERE key = ?)",
                         (key,))
        return inspection(rows[0]) if rows else None

    def get(self, row_id: int) -> Optional[Inspection]:
        rows = self._run(f"SELECT {COLUMNS} FROM inspections WHERE id = ?", (int(row_id),))
        return self._with_marks([inspection(rows[0])])[0] if rows else None

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
        purpose: Optional[str] = None,
        model_version: Optional[str] = None,
        part_id: Optional[str] = None,
        error_code: Optional[int] = None,
    ) -> list[Inspection]:
        """Rows matching every filter given. `verdict` is one verdict or several; NO_VERDICT means none.
        `error_code`: the ERRORs of that cause (station.ErrorCode)."""
        if order not in ORDERS:
            raise HistoryError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        where, params = where_clause(since, until, verdict, min_score, max_score, label, model_id, purpose,
                                    model_version, part_id, error_code)
        sql = f"SELECT {COLUMNS} FROM inspections{where} ORDER BY {ORDERS[order]} {'DESC' if descending else 'ASC'}"
        sql += f", id {'DESC' if descending else 'ASC'}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else int(limit), int(offset)]
        return self._with_marks([inspection(r) for r in self._run(sql, params)])

    def count(self, **filters) -> int:
        """How many rows match; takes query()'s filters (since, until, verdict, min_score, ...)."""
        where, params = where_clause(**filters)
        return int(self._run(f"SELECT COUNT(*) FROM inspections{where}", params)[0][0])


__all__ = ["ARCHIVE_OWED", "HISTORY_FILE", "History", "HistoryError", "Inspection", "LABELS", "NO_VERDICT", "PURPOSES",
           "default_path", "parse_label", "to_epoch"]
