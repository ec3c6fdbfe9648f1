"""Hand freed memory back to the OS between batches, so a long inspection's RSS stays flat.

glibc keeps freed blocks in its arenas (one per thread that allocated, up to 8 x cores) and returns the
top of the heap only; the many medium-sized, short-lived buffers of a batch (decoded images, anomaly maps,
heatmap overlays, torch's CPU tensors) leave holes that it keeps. `malloc_trim(0)` releases every free page.
It costs well under a millisecond to a few ms per call, made once per batch. Elsewhere than glibc it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


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


def release_free_memory() -> None:
    """Return the C heap's free pages to the OS (glibc); a no-op where that is not available."""
    trim = _trim()
    if trim is not None:
        trim(0)
