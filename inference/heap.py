"""Hand freed memory back to the OS between batches, so a long inspection's RSS stays flat.

glibc keeps freed blocks in its arenas (one per thread that allocated, up to 8 x cores) and returns the
top of the heap only; the many medium-sized, short-lived buffers of a batch (decoded images, anomaly maps,
heatmap overlays, torch's CPU tensors) leave holes that it keeps. `malloc_trim(0)` releases every free page.
Elsewhere than glibc it does nothing.

Its price is more than the call: the pages it returns are faulted in again by the next batch's buffers. At
batch 1 (the service, the run mode, the eval) a trim after every image cost about 1 ms of a 10-11 ms
inspection (EfficientNet-Lite0 at 224 px, docs/benchmarks.md, issue 21, fifteenth session), so a trim waits
until TRIM_INTERVAL_S has passed since the last one: RSS then holds at most that long's freed buffers more.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
import time

# At most one trim per this many seconds: over a minutes-long run the same flat RSS, at batch 1 a cost
# spread over every image inspected in that second.
TRIM_INTERVAL_S = 1.0

_last_trim = float("-inf")


@functools.lru_cache(maxsize=1)
def _trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory(now: float | None = None) -> bool:
    """Return the C heap's free pages to the OS (glibc) unless that was done under TRIM_INTERVAL_S ago; a
    no-op where that is not available. Whether it trimmed. `now`: a time.monotonic() reading (tests)."""
    now = time.monotonic() if now is None else now
    if _trim() is None or now - _last_trim < TRIM_INTERVAL_S:
        return False
    trim_now(now)
    return True


def trim_now(now: float | None = None) -> None:
    """Return the C heap's free pages to the OS at once (glibc; else nothing): after a large buffer's parts were
    freed, e.g. the memory bank's chunks as they are joined into one array."""
    global _last_trim
    trim = _trim()
    if trim is not None:
        _last_trim = time.monotonic() if now is None else now
        trim(0)
