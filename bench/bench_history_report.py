"""The history of a line that ran for months: how long the end-of-shift report and a run's start take.

    PYTHONPATH=. python bench/bench_history_report.py [--rows 1000000] [--days 30]

Builds a history of N production rows spread evenly over D days (a part every D*86400/N s: 1,000,000 over 30
days is one every 2.6 s), with a master part's check every 8 hours, a reviewer's mark every 10,000 rows and 100
images still owed to the archive, written straight into SQLite in one transaction (History.record commits each
row with an fsync: days for a million). Then prints, each the median of 3:
- opening it with History, the first time (it makes its partial indexes, as an earlier version's history
  gains them) and again;
- `periods` by hour, day and shift over all of it, and by shift over the last day (`inspector history --by`);
- the counts over all of it (`inspector history`'s summary);
- what a run's start reads: the master watch's state (`master_rows`), the images owed to the archive
  (`archive_owed`) and the marked rows' archived images (`marked_archive_paths`).
Recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Verdict  # noqa: E402
from station.history import History, SCHEMA_VERSION  # noqa: E402
from station.history_periods import periods  # noqa: E402
from station.history_rows import SCHEMA  # noqa: E402
from station.masters import Masters, MasterWatch  # noqa: E402

VERDICTS = ["OK"] * 96 + ["NG"] * 3 + ["ERROR"]


def build(path: Path, rows: int, days: float) -> float:
    """A history of `rows` parts over `days` days up to now; returns the time of its first row."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    end = time.time()
    start = end - days * 86400
    step = days * 86400 / rows
    batch = []
    for i in range(rows):
        when = start + i * step
        verdict = VERDICTS[i % len(VERDICTS)]
        label = "false_reject" if verdict == "NG" and i % 10000 < 100 else None
        archive = "" if i >= rows - 100 else f"/archive/{i}.png"
        batch.append((when, "/line/inbox", f"p{i}.png", f"{i:064x}", "m", 1.0, 2.0, verdict, "", "[]", 0.01,
                      None, None, None, label, f"/line/inbox/p{i}.png#{i:064x}", "v3", f"SN{i}", archive, "line",
                      None))
        if len(batch) == 50000:
            _insert(db, batch)
            batch = []
    _insert(db, batch)
    master = []
    t = start
    while t < end:
        for part_id in ("RR-1", "GOLD-1"):
            master.append((t, "/line/inbox", "m.png", None, "m", 1.0, 2.0, "NG" if part_id == "RR-1" else "OK", "",
                           "[]", 0.01, None, None, None, None, None, "v3", part_id, None, "master",
                           "NG" if part_id == "RR-1" else "OK"))
        t += 8 * 3600
    _insert(db, master)
    db.commit()
    db.close()
    return start


def _insert(db, batch) -> None:
    db.executemany("INSERT INTO inspections (time, source, file_name, sha256, model_id, score, threshold, verdict, "
                   "reason, regions, latency, heatmap, heatmap_path, error, label, key, model_version, part_id, "
                   "archive_path, purpose, expected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                   "?, ?, ?)", batch)


def median_s(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--days", type=float, default=30.0)
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rows} rows over {args.days:g} days")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        t0 = time.perf_counter()
        build(path, args.rows, args.days)
        print(f"built in {time.perf_counter() - t0:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
        opened, history = median_s(lambda: History(path), repeat=1)
        history.close()
        again, history = median_s(lambda: History(path), repeat=1)
        print(f"open: {1000 * opened:.1f} ms the first time (its partial indexes made), {1000 * again:.1f} ms after")
        masters = Masters({"RR-1": Verdict.NG, "GOLD-1": Verdict.OK})
        for name, fn in (
                ("periods by hour, all", lambda: periods(history, "hour")),
                ("periods by day, all", lambda: periods(history, "day")),
                ("periods by shift, all", lambda: periods(history, "shift")),
                ("periods by shift, last 24 h", lambda: periods(history, "shift", since=time.time() - 86400)),
                ("counts, all", lambda: history.counts()),
                ("master watch at a start", lambda: MasterWatch(masters, 8 * 3600, history)),
                ("archive_owed", lambda: history.archive_owed()),
                ("marked_archive_paths", lambda: history.marked_archive_paths())):
            seconds, out = median_s(fn)
            size = len(out) if isinstance(out, list) else ""
            print(f"{name:30} {1000 * seconds:9.1f} ms  {size}")
        history.close()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
