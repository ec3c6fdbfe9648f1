"""Runs one engine call at a time on a QThread and reports back through signals.

A job is a function `work(progress, cancel)` that makes ONE engine call on an
immutable snapshot of what it needs (paths as tuples, frozen ROI and config).
Its result, exception or cancellation comes back as a queued signal, so the
GUI thread never shares mutable state with the worker.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

import inference

log = logging.getLogger(__name__)

Work = Callable[[inference.ProgressFn, inference.CancelToken], Any]

# Progress signals are throttled to this interval: a fast loop must not flood the event queue.
PROGRESS_INTERVAL_S = 0.05


class EtaClock:
    """Remaining time of a stage from its progress so far (restarts when the stage changes)."""

    def __init__(self) -> None:
        self.stage: Optional[str] = None
        self.started = 0.0

    def eta(self, stage: str, done: int, total: int, now: float) -> float:
        """Seconds left, or -1 while unknown."""
        if stage != self.stage:
            self.stage, self.started = stage, now
            return -1.0
        if done <= 0 or total <= 0 or done >= total:
            return -1.0 if done < total else 0.0
        return (now - self.started) / done * (total - done)


class Job(QThread):
    progressed = Signal(str, int, int, float)  # stage, done, total, eta seconds (-1: unknown)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()

    def __init__(self, name: str, work: Work, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.work = work
        self.token = inference.CancelToken()
        self._clock = EtaClock()
        self._last_emit = 0.0

    def cancel(self) -> None:
        self.token.cancel()

    def _progress(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        eta = self._clock.eta(stage, done, total, now)
        if done >= total or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.progressed.emit(stage, int(done), int(total), float(eta))

    def run(self) -> None:
        try:
            result = self.work(self._progress, self.token)
        except inference.Cancelled:
            log.info("job %s cancelled", self.name)
            self.cancelled.emit()
        except inference.InspectorError as exc:
            log.info("job %s failed: %s", self.name, exc)
            self.failed.emit(exc)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the user as a dialog, not kill the thread
            log.exception("job %s crashed", self.name)
            self.failed.emit(exc)
        else:
            if self.token.cancelled:
                # Cancel arrived after the engine's last check: the work is done and kept, say so honestly.
                log.info("job %s finished before the cancel took effect", self.name)
            self.succeeded.emit(result)


class JobRunner(QObject):
    """Holds at most one running job and relays its signals; the engine allows one job at a time."""

    started = Signal(str)  # job name: words the user reads ("fitting the model")
    progressed = Signal(str, int, int, float)
    finished = Signal(str, str)  # job name, outcome: "ok", "failed", "cancelled"
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.job: Optional[Job] = None
        self._callbacks: dict = {}

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(
        self,
        name: str,
        work: Work,
        on_success: Callable[[Any], None],
        on_failure: Callable[[BaseException], None],
        on_cancel: Optional[Callable[[], None]] = None,
    ) -> Optional[Job]:
        if self.job is not None:
            on_failure(inference.InspectorError(
                f"{self.job.name} is still running: wait for it or cancel it (Esc)"))
            return None
        # No garbage collection here: the process collects on the GUI thread's timer only (garbage.py), so the
        # worker never deletes a closed dialog's Qt objects.
        job = Job(name, work, self)
        # Bound slots of this GUI-thread object: Qt queues the worker's signals onto the GUI thread.
        job.progressed.connect(self.progressed)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self.job = job
        self._callbacks = {"ok": on_success, "failed": on_failure, "cancelled": on_cancel}
        self.started.emit(name)
        self.busyChanged.emit(True)
        job.start()
        return job

    def _on_succeeded(self, result: Any) -> None:
        self._done("ok", result)

    def _on_failed(self, exc: BaseException) -> None:
        self._done("failed", exc)

    def _on_cancelled(self) -> None:
        self._done("cancelled")

    def _done(self, outcome: str, *args) -> None:
        job, callback = self.job, self._callbacks.get(outcome)
        if job is None:
            return
        job.wait()
        self.job = None
        self._callbacks = {}
        job.deleteLater()
        self.finished.emit(job.name, outcome)
        self.busyChanged.emit(False)
        if callback is not None:
            callback(*args)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def cancel_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Cancel the running job and block until its thread ends; True when nothing is left running."""
        job = self.job
        if job is None:
            return True
        job.cancel()
        if not job.wait(timeout_ms):
            return False
        # Deliver the job's queued outcome now: the event loop may not run again (the app is closing).
        QCoreApplication.sendPostedEvents(self)
        return self.job is None
