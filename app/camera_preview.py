"""The Camera… preview's worker: the run's own source (inspector_line.sources, a live camera read on its grabber's
thread with its settings) on a QThread, the newest frame and what it says of the setup (frame_quality.py) back as
queued signals, at most PREVIEW_FPS a second, until stopped."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread, Signal

import inference
from inspector_line.frame_quality import frame_quality
from inspector_line.sources import open_source

PREVIEW_FPS = 10.0  # frames shown a second: enough to turn a lens by, little of the window's time


class CameraPreviewWorker(QThread):
    frame = Signal(object, object)  # RGB pixels, FrameQuality
    message = Signal(str)  # the camera's trouble, a setting it did not take
    failed = Signal(object)  # the exception (the camera cannot be opened)

    def __init__(self, spec: str, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.stop_event = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        try:
            source = open_source(self.spec)
        except inference.InspectorError as exc:
            self.failed.emit(exc)
            return
        source.on_message = self.message.emit
        source.start()
        try:
            shown = 0.0
            while not self.stop_event.is_set() and not source.exhausted:
                batch = source.next_batch(1, timeout=0.2)
                if not batch or batch[0].image is None or time.monotonic() - shown < 1 / PREVIEW_FPS:
                    continue
                shown = time.monotonic()
                self.frame.emit(batch[0].image, frame_quality(batch[0].image))
        finally:
            source.stop()


__all__ = ["CameraPreviewWorker", "PREVIEW_FPS"]
