"""Python's garbage collection in the window's process runs on the GUI thread only, from a timer.

Python collects in whichever thread allocates when a generation's threshold is reached. A collection set off by
a worker's allocations deleted closed dialogs' Qt objects on the worker thread, which can deadlock with a paint.
Until this module, each job (jobs.py) made a full collection on the GUI thread before its worker started: in a
process holding torch, OpenVINO and a model a full collection walks some 470,000 objects, 0.25-0.3 s of a frozen
window before every inspection of one image (whose own work takes about 20 ms with EfficientNet-Lite0).

Now automatic collection is off and pyqtgraph's GarbageCollector collects on a GUI-thread timer, generation by
generation at Python's count thresholds: the young objects at most once a second, the whole heap after ten
middle-generation collections, so at most every 100 s in a window in use (pyqtgraph does not apply Python's further
rule that waits for a quarter of the heap to be new; such a collection holds the window about 0.25 s). No worker
thread ever runs a collection, the Run view's line thread included.

    stop = collect_on_gui_thread()   # with a QApplication, before the first worker starts
    stop()                           # automatic collection again (the tests, between windows)
"""

from __future__ import annotations

import gc
from typing import Callable

INTERVAL_S = 1.0


_collector = None  # held here: a collector dropped by its caller would leave collection off for good


def collect_on_gui_thread(interval_s: float = INTERVAL_S) -> Callable[[], None]:
    """Collect on this (the GUI) thread's timer from now on; returns the function that gives collection back to
    Python. Called again, it keeps the collector it started."""
    global _collector
    from pyqtgraph.util.garbage_collector import GarbageCollector

    if _collector is None:
        _collector = GarbageCollector(interval=interval_s)
    return stop


def stop() -> None:
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
    gc.enable()


__all__ = ["collect_on_gui_thread", "stop"]
