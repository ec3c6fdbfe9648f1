"""Progress reporting and cooperative cancellation for long engine loops."""

from __future__ import annotations

import threading
from typing import Callable, Optional

from .errors import Cancelled

# progress(stage, done, total): stage is a short label ("embedding", "coreset", ...).
ProgressFn = Callable[[str, int, int], None]


class CancelToken:
    """Set from any thread; engine loops call check() between steps and stop with Cancelled."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user; the saved model is unchanged")


def report(progress: Optional[ProgressFn], stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def check(cancel: Optional[CancelToken]) -> None:
    if cancel is not None:
        cancel.check()
