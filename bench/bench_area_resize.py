"""The area resize of a crop to the network's size: one OpenCV call against the bands side by side.

    python bench/bench_area_resize.py [--n 50]

For each source size (a 512 px data-set image, 900 px, 1280 x 1024, a 5 MP camera frame, and an odd ROI crop
whose rows cannot be cut) and each input size (224, 448): the median ms of cv2.resize(INTER_AREA) and of
inference.area_resize (one process, the two alternated, so the machine's load weighs on both alike), how many
bands it used, and whether the bytes are the same. Prints figures and the load; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import area_resize as ar  # noqa: E402

SOURCES = ((512, 512), (900, 900), (1280, 1024), (2448, 2048), (901, 733))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{os.cpu_count()} cores, up to {ar.bands()} bands, OpenCV {cv2.__version__}, "
          f"load {os.getloadavg()[0]:.2f}")
    for w, h in SOURCES:
        # A smooth image with texture, like a part: blurred noise.
        pixels = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)
        for size in (224, 448):
            whole, banded = [], []
            for _ in range(args.n):
                t = time.perf_counter()
                a = cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA)
                whole.append(time.perf_counter() - t)
                t = time.perf_counter()
                b = ar.area_resize(pixels, size)
                banded.append(time.perf_counter() - t)
            plan = ar.band_plan(h, w, size)
            n_bands = len(plan[1]) - 1 if plan else 1
            print(f"  {w} x {h} -> {size}: one call {1e3 * statistics.median(whole):.2f} ms, "
                  f"{n_bands} band(s) {1e3 * statistics.median(banded):.2f} ms, same bytes: {np.array_equal(a, b)}")
    print(f"load after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
