"""No garbage collection runs on a worker thread (app/garbage.py): a dialog closed while a job runs is deleted on
the GUI thread, not by a collection that the worker's allocations set off."""

import gc
import threading
import weakref

from app.jobs import JobRunner


class Cycle:
    """Garbage only a collection frees, as a closed dialog's Python wrapper and its connections are."""

    def __init__(self):
        self.me = self


def test_garbage_made_while_a_job_allocates_is_collected_on_the_gui_thread(qtbot):
    assert not gc.isenabled()  # the GUI tests' process collects as the window's does (conftest)
    freed_on, allocating, stop = [], threading.Event(), threading.Event()

    def work(progress, cancel):
        allocating.set()
        made = 0
        while not stop.is_set():  # containers, as a fit's features and results are: the counts a collection runs at
            junk = [[] for _ in range(1000)]
            made += len(junk)
        return made

    runner = JobRunner()
    results = []
    runner.start("allocating", work, results.append, lambda exc: results.append(exc))
    assert allocating.wait(10)
    garbage = Cycle()
    weakref.finalize(garbage, lambda: freed_on.append(threading.current_thread()))
    del garbage
    qtbot.waitUntil(lambda: bool(freed_on), timeout=5000)  # the GUI thread's timer collected it, within a second
    stop.set()
    qtbot.waitUntil(lambda: bool(results), timeout=10000)
    assert freed_on == [threading.main_thread()]
    assert results[0] > 100_000  # the worker allocated far past Python's thresholds meanwhile


def test_young_garbage_is_collected_once_it_is_stale_though_the_count_stays_low(qtbot):
    """A worker that frees about as much as it allocates keeps the young count low at every instant the timer looks:
    garbage left meanwhile is collected once STALE_S has passed, not only when the count tops the threshold."""
    import time

    from app.garbage import GuiThreadCollector

    collector = GuiThreadCollector(interval_s=3600)  # checked by hand here; the session's collector runs beside it
    try:
        freed = []
        gc.collect(0)  # the young count from 0: far below the threshold
        garbage = Cycle()
        weakref.finalize(garbage, lambda: freed.append(threading.current_thread()))
        del garbage
        assert 0 < gc.get_count()[0] < collector.threshold[0]
        collector._collected = time.monotonic()
        collector.check()
        assert freed == []  # below the threshold and not stale: left for the next look
        collector._collected -= collector.stale_s
        collector.check()
        assert freed == [threading.main_thread()]
    finally:
        collector.timer.stop()
        gc.disable()  # as the session's collector keeps it
