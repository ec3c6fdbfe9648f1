"""The archive's cost per part when the source names every part alike (a camera that writes `image.png` each
time): Archiver.put's time after 0 to N earlier copies of the same name, in one folder on this disk.

    PYTHONPATH=. python bench/bench_archive.py [--parts 20000]

Before the twenty-third session a name already taken was numbered by counting up past every earlier copy
(image_1.png, image_2.png, ...: one stat per earlier copy); now it takes the part's history row id at once. Run it
in a worktree of an earlier commit for the figures before (the row id is passed only where put() takes it).
Recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector_line.sinks import Archiver  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", type=int, default=20000)
    args = ap.parse_args()
    print(f"load (uptime): {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs", flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench_archive_"))
    try:
        source = root / "image.png"
        cv2.imwrite(str(source), np.full((64, 64, 3), 128, np.uint8))
        archiver = Archiver(root / "archive")
        by_row = "row_id" in inspect.signature(archiver.put).parameters
        marks = sorted({m for m in (100, 1000, 5000, 10000, 20000, 50000) if m < args.parts} | {args.parts - 1})
        window: list[float] = []
        when = time.time()
        print(f"put() of a name taken N times before ({'row id' if by_row else 'counting up'}), median of the "
              f"50 parts up to N:")
        for n in range(args.parts):
            t0 = time.perf_counter()
            if by_row:
                archiver.put(source, source.name, "OK", when, row_id=n + 1)
            else:
                archiver.put(source, source.name, "OK", when)
            window = (window + [time.perf_counter() - t0])[-50:]
            if n in marks:
                print(f"  N = {n:>6}: {statistics.median(window) * 1000:8.2f} ms", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
