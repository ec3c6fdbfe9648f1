"""What a rescan of the watched folder costs the run, by the number of files the folder keeps.

In copy mode (no --move) a watched folder keeps every part: 86,000 a day at one part a second. The run's folder
source rescans it every few seconds, in the run's own thread, to find what no event told (a network share sends
none), so the part waiting meanwhile waits for the scan. This makes N files (1 byte each), hands them all out
as a run would, and times rescans (the median of 5), in this process alone.

    python bench/bench_folder_scan.py [--files 1000,20000,86000]

Recorded in docs/benchmarks.md with the machine, date and load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from inspector_line.sources import FolderSource


def rescan_seconds(n: int) -> tuple[float, float]:
    """(the first scan, the median rescan) of a folder of n files all handed out already."""
    folder = Path(tempfile.mkdtemp(prefix="bench_scan_"))
    try:
        for i in range(n):
            (folder / f"part_{i:07d}.png").write_bytes(b"x")
        source = FolderSource(folder, settle_s=0.0)
        t = time.perf_counter()
        source._scan(initial=True)
        first = time.perf_counter() - t
        source._poll()
        source._poll()  # unchanged since the first look: complete (and, before the twenty-third session, handed out)
        if hasattr(source, "_hand_out"):
            source._hand_out(n)  # handed out: since the twenty-third session, hashed as they go
        times = []
        for _ in range(5):
            t = time.perf_counter()
            source._scan()
            times.append(time.perf_counter() - t)
        return first, statistics.median(times)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", default="1000,20000,86000")
    args = ap.parse_args()
    print(f"load (uptime): {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    for n in (int(x) for x in args.files.split(",")):
        first, rescan = rescan_seconds(n)
        print(f"{n:7d} files: first scan {first * 1000:8.1f} ms, rescan median {rescan * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
