"""Fit jobs: queued, run one at a time on a worker thread, beside inference; cancellable."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from inference import Cancelled, CancelToken, Engine, FitResult, InspectorError, Model, Roi

from .errors import status_for

log = logging.getLogger("inspector.service")
STATES = ("queued", "running", "done", "failed", "cancelled")
KEEP_FINISHED = 200  # finished jobs remembered for GET /jobs/{id}


@dataclass
class FitJob:
    project: str
    folder: Path
    images: list[np.ndarray]
    add: bool
    roi: Optional[Roi]
    mm_per_px: Optional[float]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"
    stage: str = ""
    done: int = 0
    total: int = 0
    result: Optional[dict] = None
    error: Optional[str] = None
    error_status: Optional[int] = None
    created: float = field(default_factory=time.time)
    started: Optional[float] = None
    finished: Optional[float] = None
    cancel: CancelToken = field(default_factory=CancelToken)
    n_uploaded: int = 0
    n_marked: int = 0  # of the images, those a reviewer marked false reject (fit_ok false_rejects=true), at the end
    note: str = ""
    who: Optional[str] = None  # who asked for it (the request's token name), for the versions and the audit trail

    def __post_init__(self) -> None:
        self.n_uploaded = len(self.images) - self.n_marked

    def to_dict(self) -> dict:
        return {
            "job_id": self.id, "project": self.project, "kind": "add" if self.add else "fit", "state": self.state,
            "stage": self.stage, "progress": {"done": self.done, "total": self.total},
            "n_uploaded": self.n_uploaded, "n_marked": self.n_marked,
            "result": self.result, "error": self.error, "error_status": self.error_status,
            "created": self.created, "started": self.started, "finished": self.finished,
        }


class FitQueue:
    """One fit at a time (the engine allows one); `on_saved(project, model)` runs after a successful save, with
    the model the fit returned (ready to inspect)."""

    def __init__(self, engine: Engine, on_saved: Callable[[str, Model], None], stations: Callable):
        self.engine = engine
        self.on_saved = on_saved
        self.stations = stations  # project name -> its Station (the use cases)
        self._jobs: dict[str, FitJob] = {}
        self._lock = threading.Lock()
        self._queue: "queue.Queue[FitJob | None]" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="inspector-fit", daemon=True)
        self._thread.start()

    def submit(self, job: FitJob) -> FitJob:
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Optional[FitJob]:
        with self._lock:
            return self._jobs.get(job_id)

    def active(self) -> list[dict]:
        with self._lock:
            return [j.to_dict() for j in self._jobs.values() if j.state in ("queued", "running")]

    def cancel(self, job: FitJob) -> None:
        """A queued job is dropped at once; a running one stops at the engine's next check."""
        job.cancel.cancel()
        with self._lock:
            if job.state == "queued":
                self._finish(job, "cancelled", error="cancelled before it started; the saved model is unchanged")

    def close(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancel.cancel()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if job.state != "queued":
                    continue
                job.state, job.started = "running", time.time()
            try:
                result = self._fit(job)
            except Cancelled as exc:
                self._end(job, "cancelled", error=str(exc))
            except InspectorError as exc:
                self._end(job, "failed", error=str(exc), status=status_for(exc))
            except Exception as exc:  # a bug: the job fails with one line, the worker goes on
                log.exception("fit job %s failed", job.id)
                self._end(job, "failed", error=f"internal error ({type(exc).__name__}: {exc})", status=500)
            else:
                try:
                    if result.active:  # a staged version does not inspect until it is calibrated
                        self.on_saved(job.project, result.model)
                except Exception as exc:  # saved all the same; the next request loads it from disk
                    log.warning("fit job %s: saved, but the new model could not be put in use: %s", job.id, exc)
                self._end(job, "done", result={
                    "n_images": result.n_images, "n_embeddings": result.n_embeddings,
                    "coreset_size": result.coreset_size, "model_id": result.record.model_id,
                    "seconds": round(result.seconds, 3),
                    "timings": {k: round(v, 3) for k, v in result.timings.items()},
                    "weights": dict(result.record.backbone.weights),
                    "precision_check": dict(result.record.precision_check),
                    "version": result.version, "active": result.active,
                    "symmetry_note": result.symmetry_note,
                })

    def _fit(self, job: FitJob) -> FitResult:
        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        station = self.stations(job.project)
        if job.add:
            return station.add(job.images, progress=progress, cancel=job.cancel, note=job.note, who=job.who)
        return station.teach(job.images, roi=job.roi, mm_per_px=job.mm_per_px, progress=progress, cancel=job.cancel,
                             note=job.note, who=job.who)

    def _end(self, job: FitJob, state: str, **kw) -> None:
        with self._lock:
            self._finish(job, state, **kw)

    def _finish(self, job: FitJob, state: str, result=None, error=None, status=None) -> None:
        job.state, job.result, job.error, job.error_status = state, result, error, status
        job.finished = time.time()
        job.images = []  # the uploads are no longer needed

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state not in ("queued", "running")]
        for job in sorted(finished, key=lambda j: j.finished or 0)[:-KEEP_FINISHED or None]:
            del self._jobs[job.id]
