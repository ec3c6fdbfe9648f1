"""A camera (camera:N) or a video file as the run's source, read with OpenCV VideoCapture: every `every`-th frame
is inspected, or, with a trigger file, the next frame after the file appears (the file is then removed). A camera
that stops delivering frames (unplugged, a cable, its driver) is opened again every REOPEN_S seconds; meanwhile
its `problem` says why no part comes (the runner's `source` alarm), and the run goes on.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from inference import ImageError

from .source_items import Item, SourceError

REOPEN_S = 2.0  # a camera that stopped delivering frames is opened again this often


class VideoSource:
    """A camera (camera:N) or a video file, read with OpenCV."""

    kind = "video"

    def __init__(self, spec: str, every: int = 1, trigger: Optional[Union[str, Path]] = None):
        import cv2

        if every < 1:
            raise SourceError(f"--every must be at least 1, got {every}")
        self.camera = spec.startswith("camera:")
        # A live camera's frames are new captures (one identical to the one before: frozen,
        # station/repeated_images.py); a video file's still scenes decode to identical frames.
        self.fresh_captures = self.camera
        if self.camera:
            try:
                index = int(spec.split(":", 1)[1])
            except ValueError:
                raise SourceError(f"camera source must be camera:N with N a number, got {spec!r}") from None
            self.label = spec
            self._cap = cv2.VideoCapture(index)
            video_id = None
        else:
            path = Path(spec)
            if not path.is_file():
                raise SourceError(f"video file not found: {path}")
            self.label = str(path.absolute())
            self._cap = cv2.VideoCapture(str(path))
            # Frames of a video file get keys, so a restarted run goes on where it stopped.
            st = path.stat()
            video_id = f"{path.resolve()}#{st.st_size}-{st.st_mtime_ns}"
        if not self._cap.isOpened():
            raise SourceError(f"cannot open {self.label}: no such camera, or not a video OpenCV can read")
        self.every = every
        self.trigger = Path(trigger) if trigger else None
        self.problem: Optional[str] = None  # a camera that stopped delivering frames (the runner's `source` alarm)
        self.on_message: Optional[Callable[[str], None]] = None
        self._index = index if self.camera else None
        self._reopen_at = 0.0
        self._video_id = video_id
        self._frame = -1
        self._exhausted = False
        self._stem = "camera" + spec.split(":", 1)[1] if self.camera else Path(spec).stem

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self._cap.release()

    def requeue(self, item: Item) -> None:
        pass  # a frame is complete when grabbed

    def _wanted(self) -> bool:
        if self.trigger is not None:
            if self.trigger.exists():
                try:
                    self.trigger.unlink()
                except OSError:
                    pass
                return True
            return False
        return self._frame % self.every == 0

    def _say(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)

    def _lost(self) -> None:
        """The camera stopped delivering frames (unplugged, a cable, its driver): said once, then it is opened
        again every REOPEN_S seconds; the run goes on and its `source` alarm stays up meanwhile."""
        self._cap.release()
        self.problem = f"{self.label} stopped delivering frames: opened again every {REOPEN_S:g} s"
        self._say(f"WARNING: {self.problem}")
        self._reopen_at = time.monotonic()

    def _reopen(self, deadline: float) -> bool:
        import cv2

        now = time.monotonic()
        if now < self._reopen_at:
            time.sleep(max(0.0, min(self._reopen_at, deadline) - now))
            return False
        self._reopen_at = now + REOPEN_S
        self._cap = cv2.VideoCapture(self._index)
        if not self._cap.isOpened():
            return False
        self.problem = None
        self._say(f"{self.label} is delivering frames again")
        return True

    def next_batch(self, max_items: int, timeout: float) -> list[Item]:
        batch: list[Item] = []
        deadline = time.monotonic() + timeout
        if self.problem is not None and not self._reopen(deadline):
            return batch
        while len(batch) < max_items and not self._exhausted:
            # grab() without decoding for frames that are skipped: cheap for every-N sampling.
            if not self._cap.grab():
                if self.camera:
                    self._lost()
                    break
                self._exhausted = True
                break
            self._frame += 1
            if not self._wanted():
                if self.camera and time.monotonic() >= deadline:
                    break
                continue
            ok, bgr = self._cap.retrieve()
            if not ok or bgr is None:
                raise ImageError(f"cannot decode frame {self._frame} of {self.label}")
            rgb = np.ascontiguousarray(bgr[..., ::-1])
            sha = hashlib.sha256(rgb.tobytes()).hexdigest()
            key = f"{self._video_id}#frame{self._frame}" if self._video_id else None
            batch.append(Item(f"{self._stem}_frame{self._frame:06d}", rgb, key, sha, time.time(),
                              extra={"frame": self._frame}))
            if self.camera:
                break  # a live camera: inspect now, do not wait for a batch to fill
        return batch

    @property
    def exhausted(self) -> bool:
        return self._exhausted


__all__ = ["REOPEN_S", "VideoSource"]
