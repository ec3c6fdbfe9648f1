"""The alarm history: every line alarm raised and cleared, with its time and words, in the inspection history's
database (table `alarm_events`), so that a shift's alarms can be looked at the next morning (`inspector history
PROJECT --alarms`, `GET /projects/{name}/history/alarms`) and go into its backups with the parts they were about.

Before, an alarm lived on the PLC's Alarm bit, the retained MQTT topic and the metrics while it was active, and
in the run's terminal lines: nothing said afterwards when the NG streak began or how long the disk was short.

The publisher (publisher.py) records each change as it happens, after the PLC, MQTT and the metrics have heard of
it. A database that cannot be written (a full disk, a damaged file) costs no part: the alarm still reaches them and
the log, and the failure is said once; a locked one is waited for, as the history's own rows are.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from ..history import BUSY_TIMEOUT_S
from ..history_filters import HistoryError, TimeLike, time_clauses

# Events kept (newest); alarms come and go a few times a shift, so this is years of them, and a flapping alarm
# cannot grow the database without end.
KEEP = 100_000
PRUNE_EVERY = 1000  # events recorded between two prunes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    raised INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_events_time ON alarm_events(time);
"""

# What a still-active alarm's end says when the run or the service stops: the history shows where it ended.
STOPPED = "the line stopped while it was active"


@dataclass(frozen=True)
class AlarmEvent:
    id: int
    time: float
    project: str
    name: str  # ng_streak, yield, drift, disk, source, ... (alarms.ALARM_NAMES)
    raised: bool  # False: cleared (or ended by a stop)
    message: str

    def to_dict(self) -> dict:
        out = asdict(self)
        out["time"] = datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds")
        return out


class AlarmLog:
    """Where a publisher records its alarm changes (the history database at `path`)."""

    def __init__(self, path: Union[str, Path], on_message: Optional[Callable[[str], None]] = None):
        self.path = Path(path)
        self.on_message = on_message or (lambda text: None)
        self._lock = threading.Lock()
        self._since_prune = 0
        self._failing = False
        self._db: Optional[sqlite3.Connection] = None

    def record(self, project: str, changes: Sequence, when: Optional[float] = None) -> None:
        """One row per alarm change (alarms.AlarmChange: name, raised, message)."""
        if not changes:
            return
        now = time.time() if when is None else when
        rows = [(now, project, c.name, int(c.raised), c.message) for c in changes]

        def insert(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO alarm_events (time, project, name, raised, message) VALUES (?, ?, ?, ?, ?)",
                           rows)
            self._since_prune += len(rows)
            if self._since_prune >= PRUNE_EVERY:
                self._since_prune = 0
                db.execute("DELETE FROM alarm_events WHERE id <= (SELECT id FROM alarm_events ORDER BY id DESC "
                           "LIMIT 1 OFFSET ?)", (KEEP,))

        self._write(insert, "alarms are not kept in the alarm history", "; they still reach the PLC, MQTT and this log")

    def forget_before(self, before: float) -> int:
        """Drop the events older than `before` (seconds since 1970): the history's `--keep-days` holds for its alarms
        too, so a plant that keeps 90 days of parts keeps no older alarms either. Returns how many went; a database
        that cannot be written is said as `record` says it, and costs no part."""
        deleted = self._write(lambda db: db.execute("DELETE FROM alarm_events WHERE time < ?", (before,)).rowcount,
                              "old alarms are not dropped from the alarm history")
        return deleted or 0

    def _write(self, change: Callable[[sqlite3.Connection], object], failure: str, after: str = ""):
        """`change(db)` in one transaction; a database that cannot be written is said once (not at every part of a
        long fault), and that it is written again once it is. Returns what `change` returned, None on failure."""
        with self._lock:
            try:
                db = self._open()
                with db:
                    out = change(db)
            except sqlite3.Error as exc:
                if not self._failing:
                    self._failing = True
                    self.on_message(f"WARNING: {failure} ({self.path}: {exc}){after}")
                return None
            if self._failing:
                self._failing = False
                self.on_message(f"the alarm history in {self.path} is written again")
            return out

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)  # waits as History
            try:
                # No sync to the disk per event (the history's rows keep theirs): an alarm that flaps part by part
                # must not double the line's fsyncs; a power cut may lose the last events, never the database
                # (which holds only in WAL mode, the history's: anything else keeps the full sync).
                if db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                    db.execute("PRAGMA synchronous = NORMAL")
                db.executescript(_SCHEMA)
            except sqlite3.Error:
                db.close()
                raise
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


@dataclass(frozen=True)
class AlarmTotal:
    project: str
    name: str
    raised: int  # times raised in the events given
    seconds: float  # how long it was on in all, within them (one still on: until the last event)
    active: bool  # on at the last event

    def to_dict(self) -> dict:
        return {**asdict(self), "text": total_text(self)}


def total_text(total: "AlarmTotal") -> str:
    """One alarm's total in words: `ng_streak (part1): raised 2x, on 0:03:12, still on`."""
    minutes, seconds = divmod(round(total.seconds), 60)
    return (f"{total.name}{f' ({total.project})' if total.project else ''}: raised {total.raised}x, on "
            f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" + (", still on" if total.active else ""))


def alarm_totals(events: Sequence[AlarmEvent]) -> list[AlarmTotal]:
    """Per alarm (and project), how often it was raised and how long it was on, from events oldest first; most
    time on first. An end without its raise in the events (the window began while it was on) counts from the
    first event."""
    if not events:
        return []
    start, last = events[0].time, events[-1].time
    since: dict = {}
    totals: dict = {}
    for e in events:
        key = (e.project, e.name)
        raised, seconds = totals.get(key, (0, 0.0))
        if e.raised and key not in since:
            since[key] = e.time
            raised += 1
        elif not e.raised:
            seconds += e.time - since.pop(key, start)
        totals[key] = (raised, seconds)
    out = [AlarmTotal(p, n, r, s + (last - since[(p, n)] if (p, n) in since else 0.0), (p, n) in since)
           for (p, n), (r, s) in totals.items()]
    return sorted(out, key=lambda t: (-t.seconds, t.project, t.name))


def alarm_events(path: Union[str, Path], since: TimeLike = None, until: TimeLike = None,
                 project: Optional[str] = None, limit: Optional[int] = None) -> list[AlarmEvent]:
    """The alarm history of the database at `path`, newest first: HistoryError when it cannot be read; [] for a
    history recorded before alarms were kept."""
    where, params = time_clauses(since, until)
    if project is not None:
        where.append("project = ?")
        params.append(project)
    sql = "SELECT id, time, project, name, raised, message FROM alarm_events" + \
        (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY time DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    if not Path(path).is_file():
        raise HistoryError(f"no inspection history at {path}")
    try:
        db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)  # only read: a query never writes
        try:
            if not db.execute("SELECT name FROM sqlite_master WHERE name = 'alarm_events'").fetchone():
                return []
            rows = db.execute(sql, params).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot read the alarm history in {path}: {exc}") from None
    return [AlarmEvent(i, t, p, n, bool(r), m) for i, t, p, n, r, m in rows]


__all__ = ["AlarmEvent", "AlarmLog", "AlarmTotal", "STOPPED", "alarm_events", "alarm_totals", "total_text"]
