"""A camera (camera:N) or a video file as the run's source, read with OpenCV VideoCapture.

A video file is read frame by frame: every `every`-th frame is inspected, or, with a trigger file, the next frame
after the file appears (the file is then removed). A live camera is read on a thread of its own
(camera_grabber.py), so that the run never judges a frame that waited in the driver's buffers: free-running, it
inspects the newest frame (at least `every` frames after the one before); triggered, the first frame that began
after the trigger: the trigger file seen, or the PLC's Trigger / the photo-eye's edge the runner hands over
(`frame_after`). A trigger whose frame cannot be had gives an item without an image that says why (an ERROR
part, never another part's picture). A camera that stops delivering frames is opened again every REOPEN_S seconds;
meanwhile its `problem` says why no part comes (the runner's `source` alarm), and the run goes on.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable, Optional, Union


from inference import ImageError

from .camera_grabber import REOPEN_S, FrameGone, FrameGrabber
from .camera_settings import parse_camera
from .source_items import Item, SourceError

TRIGGER_FILE_POLL_S = 0.005  # how often a live camera's trigger file is looked for


class VideoSource:
    """A camera (camera:N) or a video file, read with OpenCV."""

    kind = "video"

    def __init__(self, spec: str, every: int = 1, trigger: Optional[Union[str, Path]] = None):
        if every < 1:
            raise SourceError(f"--every must be at least 1, got {every}")
        self.camera = spec.startswith("camera:")
        # A live camera's frames are new captures (one identical to the one before: frozen,
        # station/repeated_images.py); a video file's still scenes decode to identical frames.
        self.fresh_captures = self.camera
        self.every = every
        self.trigger = Path(trigger) if trigger else None
        self.on_message: Optional[Callable[[str], None]] = None
        self._frame = -1
        self._exhausted = False
        self._said_problem: Optional[str] = None
        self._said_refused: list[str] = []
        self._frame_after: Optional[float] = None  # triggered: the frame wanted began after this (monotonic)
        self._grabber: Optional[FrameGrabber] = None
        if self.camera:
            index, settings = parse_camera(spec)
            self.label = f"camera:{index}"  # the history's source: the same camera whatever its settings
            self._grabber = FrameGrabber(index, self.label, settings)
            self._stem = f"camera{index}"
            return
        import cv2

        path = Path(spec)
        if not path.is_file():
            raise SourceError(f"video file not found: {path}")
        self.label = str(path.absolute())
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SourceError(f"cannot open {self.label}: no such camera, or not a video OpenCV can read")
        # Frames of a video file get keys, so a restarted run goes on where it stopped.
        st = path.stat()
        self._video_id = f"{path.resolve()}#{st.st_size}-{st.st_mtime_ns}"
        self._stem = path.stem

    @property
    def problem(self) -> Optional[str]:
        """Why no part can come now (the runner's `source` alarm): a camera that stopped delivering frames."""
        return self._grabber.problem if self._grabber is not None else None

    def start(self) -> None:
        if self._grabber is not None:
            self._grabber.start()

    def stop(self) -> None:
        if self._grabber is not None:
            self._grabber.stop()
        else:
            self._cap.release()

    def requeue(self, item: Item, unreadable: bool = True) -> None:
        pass  # a frame is complete when grabbed

    def frame_after(self, t: float) -> None:
        """A trigger (the PLC's Trigger, a photo-eye's edge) at monotonic `t`: the next item is the first frame a
        live camera began after it. A video file goes on with its next frame."""
        if self._grabber is not None:
            self._frame_after = t

    def _trigger_seen(self) -> bool:
        if self.trigger is not None and self.trigger.exists():
            try:
                self.trigger.unlink()
            except OSError:
                pass
            return True
        return False

    def _say(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)

    def next_batch(self, max_items: int, timeout: float) -> list[Item]:
        import cv2

        if self._grabber is not None:
            return self._next_live(timeout)
        batch: list[Item] = []
        while len(batch) < max_items and not self._exhausted:
            # grab() without decoding for frames that are skipped: cheap for every-N sampling.
            if not self._cap.grab():
                self._exhausted = True
                break
            self._frame += 1
            if not (self._trigger_seen() if self.trigger is not None else self._frame % self.every == 0):
                continue
            ok, bgr = self._cap.retrieve()
            if not ok or bgr is None:
                raise ImageError(f"cannot decode frame {self._frame} of {self.label}")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            batch.append(Item(f"{self._stem}_frame{self._frame:06d}", rgb, f"{self._video_id}#frame{self._frame}",
                              hashlib.sha256(rgb.tobytes()).hexdigest(), time.time(), extra={"frame": self._frame}))
        return batch

    # -- a live camera ---------------------------------------------------------------------------------------
    def _next_live(self, timeout: float) -> list[Item]:
        """One frame of a live camera, or none within `timeout`: the newest one free-running, the trigger's one
        when triggered (an item without an image when it cannot be had)."""
        deadline = time.monotonic() + timeout
        self._say_problem()
        if self._frame_after is None and self.trigger is not None:
            while not self._trigger_seen():
                if time.monotonic() >= deadline:
                    return []
                time.sleep(TRIGGER_FILE_POLL_S)
            self._frame_after = time.monotonic()
        try:
            if self._frame_after is None:
                frame = self._grabber.newer_than(self._frame + self.every - 1, max(0.0, deadline - time.monotonic()))
            else:
                frame = self._grabber.began_after(self._frame_after, max(0.0, deadline - time.monotonic()))
        except FrameGone as gone:
            self._frame_after = None
            return [Item(f"{self._stem}_missed", None, None, None, time.time(), extra={"error": str(gone)})]
        if frame is None:
            return []
        self._frame, self._frame_after = frame.seq, None
        try:
            rgb = frame.rgb()
        except ImageError as exc:  # a JPEG the camera garbled: this part's ERROR, never another frame's verdict
            return [Item(f"{self._stem}_frame{frame.seq:06d}", None, None, None, frame.arrived,
                         extra={"frame": frame.seq, "error": str(exc), "cause": "image_invalid"})]
        return [Item(f"{self._stem}_frame{frame.seq:06d}", rgb, None, hashlib.sha256(rgb.tobytes()).hexdigest(),
                     frame.arrived, extra={"frame": frame.seq})]

    def _say_problem(self) -> None:
        """The camera's trouble and its end, and settings it did not take, said once each from the run's thread."""
        refused = self._grabber.refused
        if refused and refused != self._said_refused:
            self._say(f"WARNING: {self.label} did not take {', '.join(refused)}: its pictures may not be like "
                      "the taught ones")
        self._said_refused = refused
        problem = self._grabber.problem
        if problem != self._said_problem:
            if problem is not None:
                self._say(f"WARNING: {problem}")
            elif self._said_problem is not None:
                self._say(f"{self.label} is delivering frames again")
            self._said_problem = problem

    @property
    def exhausted(self) -> bool:
        return self._exhausted


__all__ = ["REOPEN_S", "VideoSource"]
