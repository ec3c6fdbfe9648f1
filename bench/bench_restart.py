"""A restart of a copy-mode line: how long the first new part waits while the folder still holds every part the
history knows.

    PYTHONPATH=. python bench/bench_restart.py [--parts 1000] [--megabytes 3]

Writes N camera-sized PNG images (sensor noise, about M MB each), runs `inspector run`'s Runner over them once
(each recorded), then starts it again on the same folder and history with one new image written just before (the
newest, so the last the folder hands out), and prints the seconds from the start to the new part's history row
and to the run having skipped all the known ones.
The model is tiny (EfficientNet-Lite0 architecture, `weights: none`, 64 px): the figure is the folder's and the
history's work. Run it in a worktree of an earlier commit, with PYTHONPATH pointing there, for the figures
before. Recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_plc import tiny_line_project  # noqa: E402
from inference.synthetic import disc  # noqa: E402
from inspector_line.runner import RunOptions, Runner  # noqa: E402
from inspector_line.sources import FolderSource  # noqa: E402
from station import Station  # noqa: E402
from station.history import History  # noqa: E402


def camera_image(seed: int, megabytes: float) -> np.ndarray:
    side = int((megabytes * 1e6 / 3) ** 0.5)  # noise does not compress: about side * side * 3 bytes as PNG
    rng = np.random.default_rng(seed)
    base = cv2.resize(disc(seed, size=64)[0], (side, side))
    return np.clip(base.astype(np.int16) + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", type=int, default=1000)
    ap.add_argument("--megabytes", type=float, default=3.0)
    args = ap.parse_args()
    import inspector_line

    print(f"code: {Path(inspector_line.__file__).parents[1]}; load (uptime): "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs", flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench_restart_"))
    try:
        project = root / "proj"
        engine = tiny_line_project(project, 64, batch_size=8)
        inbox = root / "inbox"
        inbox.mkdir()
        for i in range(args.parts):
            cv2.imwrite(str(inbox / f"p{i:05d}.png"), camera_image(i, args.megabytes))
        size = sum(p.stat().st_size for p in inbox.iterdir()) / args.parts / 1e6
        print(f"{args.parts} images of {size:.2f} MB in the folder", flush=True)
        history = History(root / "history.sqlite")
        station = Station(project, engine, history=history)
        t0 = time.perf_counter()
        first = Runner(station, FolderSource(inbox, settle_s=0.05), RunOptions(idle_exit_s=2.0)).run()
        print(f"first run: {first.counts.total} parts in {time.perf_counter() - t0:.1f} s", flush=True)

        new_at: list[float] = []
        new_name = "zz_new.png"

        def on_part(part):
            if part.name == new_name:
                new_at.append(time.perf_counter())

        runner = Runner(station, FolderSource(inbox, settle_s=0.05), RunOptions(idle_exit_s=2.0), on_part=on_part)
        cv2.imwrite(str(inbox / new_name), camera_image(10 ** 6, args.megabytes))
        t0 = time.perf_counter()
        summary = runner.run()
        print(f"restart: the new part's row after {new_at[0] - t0:.2f} s; {summary.skipped} known parts skipped "
              f"and the run idle after {time.perf_counter() - t0 - 2.0:.2f} s (less the 2 s idle exit)")
        history.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
