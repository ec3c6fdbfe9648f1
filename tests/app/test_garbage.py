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
