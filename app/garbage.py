"""Python's garbage collection in the window's process runs on the GUI thread only, from a timer.

Python collects in whichever thread allocates when a generation's threshold is reached. A collection set off by
a worker's allocations deleted closed dialogs' Qt objects on the worker thread, which can deadlock with a paint.
Until this module, each job (jobs.py) made a full collection on the GUI thread before its worker started: in a
process holding torch, OpenVINO and a model a full collection walks some 470,000 objects, 0.25-0.3 s of a frozen
window before every inspection of one image (whose own work takes about 20 ms with EfficientNet-Lite0).

Now automatic collection is off and a GUI-thread timer collects, generation by generation at Python's count
thresholds: the young objects at most once a second, the whole heap after ten middle-generation collections, so at
most every 100 s in a window in use (Python's further rule that waits for a quarter of the heap to be new is not
applied; such a collection holds the window about 0.25 s). No worker thread ever runs a collection, the Run view's
line thread included.

Python's young-generation count is allocations less deallocations, read at one instant: a worker that frees about as
much as it allocates (a fit's batches) keeps it near zero at most instants, so a timer that collects only above the
threshold (pyqtgraph's GarbageCollector, used here before) could leave a closed dialog's garbage uncollected for
tens of seconds. So the young generation is also collected once STALE_S has passed with anything in it.

    stop = collect_on_gui_thread()   # with a QApplication, before the first worker starts
    stop()                           # automatic collection again (the tests, between windows)
"""

from __future__ import annotations

import gc
import time
from typing import Callable

INTERVAL_S = 1.0
STALE_S = 2.0  # the longest young garbage waits while allocations and deallocations balance

_collector = None  # held here: a collector dropped by its caller would leave collection off for good


class GuiThreadCollector:
    """Collects from a QTimer of the thread that makes it (the GUI thread), automatic collection off meanwhile."""

    def __init__(self, interval_s: float = INTERVAL_S, stale_s: float = STALE_S):
        from PySide6.QtCore import QTimer

        self.threshold, self.stale_s = gc.get_threshold(), stale_s
        self._collected = time.monotonic()
        gc.disable()
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval_s * 1000))

    def check(self) -> None:
        young, middle, old = gc.get_count()
        now = time.monotonic()
        if young > self.threshold[0] or (young and now - self._collected >= self.stale_s):
            self._collected = now
            gc.collect(0)
            if middle > self.threshold[1]:
                gc.collect(1)
                if old > self.threshold[2]:
                    gc.collect(2)


def collect_on_gui_thread(interval_s: float = INTERVAL_S) -> Callable[[], None]:
    """Collect on this (the GUI) thread's timer from now on; returns the function that gives collection back to
    Python. Called again, it keeps the collector it started."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(interval_s)
    return stop


def stop() -> None:
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
    gc.enable()


__all__ = ["GuiThreadCollector", "collect_on_gui_thread", "stop"]
