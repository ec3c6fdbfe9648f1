"""One inference thread: requests that arrive together share a backbone batch.

Request threads decode their uploads and wait on a future; this thread takes
whatever is queued when it is free, up to `max_images` (no waiting for more,
so a lone request pays no batching delay), groups it by model, and scores each
group with one `score_many` call. A request is never split: one with many
images is scored as the engine batches it. If a shared batch fails, its requests are scored one by one
so that one bad request cannot fail the others. Keeping the backbone on one
thread also keeps torch from oversubscribing the CPU when many clients call.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from inference import Engine, InferenceResult, Model


@dataclass
class _Request:
    model: Model
    images: list[np.ndarray]
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)
    started: float = 0.0


class InferenceBatcher:
    def __init__(self, engine: Engine, max_images: int = 32):
        self.engine = engine
        self.max_images = max(1, int(max_images))
        self._queue: "queue.Queue[_Request | None]" = queue.Queue()
        self._busy_since: Optional[float] = None  # monotonic time the batch being scored started
        self._thread = threading.Thread(target=self._run, name="inspector-inference", daemon=True)
        self._thread.start()

    def score(self, model: Model, images: list[np.ndarray]) -> tuple[list[InferenceResult], float]:
        """(results in order, seconds spent waiting in the queue). Raises what scoring raised."""
        request = _Request(model, images)
        self._queue.put(request)
        results = request.future.result()
        return results, request.started - request.queued

    def waiting(self) -> int:
        """Images queued for the backbone, not yet started."""
        with self._queue.mutex:
            return sum(len(r.images) for r in self._queue.queue if r is not None)

    def healthy(self, stuck_s: float) -> bool:
        """The inference thread runs and has not been scoring one batch for longer than `stuck_s` (a hung call:
        every request would wait on it for ever). The service's watchdog pings only while this holds."""
        started = self._busy_since
        return self._thread.is_alive() and (started is None or time.monotonic() - started < stuck_s)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            count = len(first.images)
            while count < self.max_images:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
                count += len(nxt.images)
            groups: dict[int, list[_Request]] = {}
            for request in batch:
                groups.setdefault(id(request.model), []).append(request)
            for group in groups.values():
                self._score_group(group)

    def _score_group(self, group: list[_Request]) -> None:
        now = time.perf_counter()
        for request in group:
            request.started = now
        self._busy_since = time.monotonic()
        try:
            results = self.engine.score_many(group[0].model, [im for r in group for im in r.images])
        except BaseException as exc:  # not an image's fault (cancelled, a bug): every request is told
            for request in group:
                request.future.set_exception(exc)
            return
        finally:
            self._busy_since = None
        start = 0
        for request in group:
            request.future.set_result(results[start:start + len(request.images)])
            start += len(request.images)
