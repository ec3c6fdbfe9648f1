"""OpenCV's area resize (INTER_AREA) of a large crop, run in bands side by side with the same bytes as one call.

OpenCV's general area path (a scale that is no whole number: 512 -> 224, a 5 MP frame -> 224) runs on one core
when the output is smaller than 448 x 448. An output row whose top edge falls on a whole input row gets, in a
band cut there, the very weights it gets in the whole image; such a cut comes every size / gcd(side, size)
output rows. Bands cut there give the same bytes as one call (tests/test_area_resize.py checks hundreds of
sizes), so the crop's features do not change, and the bands run on the idle cores: the network is not running
while a crop is prepared. Rows are cut where they can be, else columns; a side with no cut inside is resized
whole. Measured in docs/benchmarks.md (issue 21, fifteenth session): 0.81 -> 0.53 ms for a 512 px image to
224 px, 9.0 -> 4.8 ms for a 5 MP frame, on 2 cores.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import cv2
import numpy as np

# Bands at most: one per core up to four (past that the call's own overhead eats the gain).
MAX_BANDS = 4
# Below this many source pixels per output pixel the whole call is cheap: one call, no bands.
MIN_SOURCE_PER_OUTPUT = 2.0
# OpenCV splits an area resize over its own threads from two stripes of 65,536 output pixels on (448 x 448 and
# up). Bands on top of that compete with its threads: a 5 MP frame to 448 px took 8.2 ms in bands against 7.3 ms
# in one call (bench/bench_area_resize.py). So bands only below that output size (224, 252, 336 px).
MAX_BANDED_OUTPUT = 2 * 65536

_pool: Optional[tuple[int, ThreadPoolExecutor]] = None
_pool_lock = threading.Lock()


def bands() -> int:
    return max(1, min(MAX_BANDS, os.cpu_count() or 1))


def _executor() -> ThreadPoolExecutor:
    """The band threads of this process (a forked child gets its own: its parent's threads are not in it); the
    caller does one band itself."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(MAX_BANDS - 1, thread_name_prefix="area-resize"))
        return _pool[1]


def cuts(side: int, size: int, n: int) -> list[int]:
    """Output positions 0 < c < size, near size * i / n, where a band of `side` source pixels resized to `size`
    may be cut without changing a byte (an output edge on a whole input pixel); with 0 and size around them."""
    step = size // math.gcd(side, size)
    inside = {round(size * i / n / step) * step for i in range(1, n)} - {0, size}
    return [0, *sorted(c for c in inside if 0 < c < size), size]


def band_plan(h: int, w: int, size: int) -> Optional[tuple[bool, list[int]]]:
    """How an h x w source is resized to size x size: (along rows, the output edges of its bands), or None for one
    call (one core, an output OpenCV splits itself, a small source, no cut inside either side)."""
    n = bands()
    if n == 1 or size * size >= MAX_BANDED_OUTPUT or h * w < MIN_SOURCE_PER_OUTPUT * size * size:
        return None
    rows = cuts(h, size, n)
    if len(rows) > 2:
        return True, rows
    cols = cuts(w, size, n)
    return (False, cols) if len(cols) > 2 else None


def area_resize(pixels: np.ndarray, size: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """cv2.resize(pixels, (size, size), interpolation=INTER_AREA), byte for byte, into `out` when given
    (a C-contiguous size x size x channels uint8 array)."""
    h, w = pixels.shape[:2]
    if out is None:
        out = np.empty((size, size) + pixels.shape[2:], pixels.dtype)
    plan = band_plan(h, w, size)
    if plan is None:
        return _into(out, cv2.resize(pixels, (size, size), dst=out, interpolation=cv2.INTER_AREA))
    along_rows, edges = plan
    side = h if along_rows else w

    def band(i: int) -> None:
        a, b = edges[i], edges[i + 1]
        first, end = a * side // size, b * side // size  # whole input pixels: the cuts are where they are whole
        src = pixels[first:end] if along_rows else pixels[:, first:end]
        dst = out[a:b] if along_rows else out[:, a:b]
        _into(dst, cv2.resize(src, (size, b - a) if along_rows else (b - a, size),
                              dst=dst if along_rows else None, interpolation=cv2.INTER_AREA))

    others = []
    for i in range(1, len(edges) - 1):
        try:
            others.append(_executor().submit(band, i))
        except RuntimeError:  # the interpreter is shutting down and starts no thread: the band is done here
            band(i)
    band(0)
    for job in others:
        job.result()
    return out


def _into(target: np.ndarray, result: np.ndarray) -> np.ndarray:
    """OpenCV writes into `dst` when it can use it and returns a new array when not: the bytes end in `target`."""
    if not np.shares_memory(target, result):
        target[...] = result
    return target
