"""A live camera read on a thread of its own, every frame as it comes, so that no frame waits in a buffer.

OpenCV's VideoCapture hands out the oldest frame its driver holds (V4L2 keeps four and stops capturing while they
are full; a network stream queues them): a run that reads a frame only when a Trigger comes, or once it has
inspected the part before, gets a picture taken before the part was there (the part before it, an empty conveyor)
and gives its verdict to this part. Read here, frames keep coming whether or not the run wants one. Each frame
knows when it began (the frame before it was complete, so its exposure came after that) and when it was complete;
the newest KEEP_FRAMES are held, so that a trigger finds the first frame that began after it even when the run was
busy with the part before.

A camera that sends JPEG (MJPG) through OpenCV's V4L2 backend is read without decoding: its frames are held as the
bytes it sent and decoded only when the run takes one (cv2.imdecode, as the backend itself decodes them): at 1080p
and 30 frames a second this thread then costs 2-6 % of a core, where decoding every frame cost about half of one
(bench/bench_grabber_cpu.py). Any other camera, or one whose raw frames are not JPEG after all, is decoded by OpenCV
as it comes.

    grabber = FrameGrabber(0, "camera:0", {"width": 1920})   # SourceError when it cannot be opened
    grabber.start()
    frame = grabber.newer_than(seq, timeout=0.2)       # free-running: the newest frame after `seq`
    frame = grabber.began_after(t, timeout=0.2)        # a trigger at monotonic t: its frame, or raises FrameGone
    grabber.problem                                    # why no frame comes now (the source alarm), else None
    grabber.stop()

A camera that stops delivering frames (unplugged, a cable, its driver) is released and opened again every REOPEN_S
seconds by the same thread, with its settings again (camera_settings.py); meanwhile `problem` says why no part
comes. `refused`: the settings the camera did not take when it was last opened.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

from inference import ImageError

from .camera_settings import apply_settings
from .source_items import SourceError

KEEP_FRAMES = 8  # decoded frames held: at 30 frames a second, the last quarter second
REOPEN_S = 2.0  # a camera that stopped delivering frames is opened again this often


@dataclass(frozen=True)
class Frame:
    seq: int  # counted from the run's start, across reopens
    began: float  # time.monotonic(): the frame before was complete (or the camera was opened): exposed after this
    done: float  # time.monotonic(): grabbed
    arrived: float  # time.time() when grabbed
    pixels: np.ndarray  # BGR as OpenCV decoded it, or the JPEG bytes the camera sent (`compressed`)
    first_after_open: bool  # no frame before it in this opening of the camera: nothing says when it was exposed
    compressed: bool = False

    def rgb(self) -> np.ndarray:
        """The frame's RGB pixels, made only for the frame the run takes, not for every one; ImageError for JPEG
        bytes that do not decode (a frame the camera garbled)."""
        import cv2

        bgr = self.pixels
        if self.compressed:
            bgr = cv2.imdecode(self.pixels, cv2.IMREAD_COLOR)
            if bgr is None:
                raise ImageError(f"frame {self.seq} of the camera did not decode: its JPEG is damaged")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # a tenth of numpy's reversed copy's time at 1080p


class FrameGone(Exception):
    """A trigger's frame cannot be had: dropped before the run came to it, or the camera was not delivering."""


class FrameGrabber:
    def __init__(self, index: int, label: str, settings: Optional[dict] = None, keep: Optional[int] = None):
        self.index, self.label, self.settings = index, label, dict(settings or {})
        self.refused: list[str] = []  # settings the camera did not take, as "width=1920 (gives 1280)"
        self.problem: Optional[str] = None  # the camera stopped delivering frames (the runner's `source` alarm)
        self._frames: deque[Frame] = deque(maxlen=keep or KEEP_FRAMES)
        self._dropped_began: Optional[float] = None  # `began` of the newest frame no longer held
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._seq = -1
        self.compressed = False  # this opening's frames are held as the JPEG bytes the camera sent
        self._cap = self._open()
        if self._cap is None:
            raise SourceError(f"cannot open {label}: no such camera, or not a video OpenCV can read")

    def _open(self):
        import cv2

        # OpenCV logs each backend it tried for a camera that is not there; the SourceError or the source alarm
        # says it once, in words.
        logging, level = cv2.utils.logging, None
        try:
            level = logging.getLogLevel()
            logging.setLogLevel(logging.LOG_LEVEL_ERROR)
        except AttributeError:  # a build without it: the lines stay
            pass
        try:
            cap = cv2.VideoCapture(self.index)
        finally:
            if level is not None:
                logging.setLogLevel(level)
        if cap.isOpened():
            self.refused = apply_settings(cap, self.settings)
            self.compressed = _hands_over_jpeg(cap)
            return cap
        cap.release()
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._read, name=f"grabber {self.label}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The reading thread releases the camera as it ends; a camera never started is released here. A driver
        hung in grab() is left to the process's end: releasing it from this thread meanwhile could crash it."""
        self._stop.set()
        if self._thread is None:
            if self._cap is not None:
                self._cap.release()
            return
        self._thread.join(timeout=5)

    # -- the run's side --------------------------------------------------------------------------------------
    def newer_than(self, seq: int, timeout: float) -> Optional[Frame]:
        """The newest frame after frame `seq`, waiting up to `timeout` seconds for one; None if none came."""
        with self._changed:
            self._changed.wait_for(lambda: self._frames and self._frames[-1].seq > seq, timeout=timeout)
            return self._frames[-1] if self._frames and self._frames[-1].seq > seq else None

    def began_after(self, t: float, timeout: float) -> Optional[Frame]:
        """The first frame that began at or after monotonic `t` (a trigger: the part is in view from then on),
        waiting up to `timeout` seconds for it; None if it has not come yet. FrameGone when it never will: dropped
        before the run asked (the run is that far behind its triggers), or the camera was not delivering at `t`
        (its first frame after an opening began later: the part may have passed)."""
        with self._changed:
            self._changed.wait_for(lambda: self._first_after(t) is not None, timeout=timeout)
            frame = self._first_after(t)
        if frame is None:
            return None
        if isinstance(frame, str):
            raise FrameGone(frame)
        return frame

    def _first_after(self, t: float):
        if self._dropped_began is not None and self._dropped_began >= t:
            return (f"the run came to this part after its frame was dropped (the {len(self._frames)} newest are "
                    f"held): the station is behind its triggers")
        frame = next((f for f in self._frames if f.began >= t), None)
        if frame is not None and frame.first_after_open and frame.began > t:
            return f"{self.label} was not delivering frames when the part was in view"
        return frame

    # -- the thread ------------------------------------------------------------------------------------------
    def _read(self) -> None:
        try:
            self._read_frames()
        finally:
            if self._cap is not None:
                self._cap.release()

    def _read_frames(self) -> None:
        import cv2

        began, first = time.monotonic(), True
        while not self._stop.is_set():
            if self._cap is None:
                if self._stop.wait(REOPEN_S):
                    return
                self._cap = self._open()
                if self._cap is not None:
                    began, first = time.monotonic(), True
                    self.problem = None
                continue
            if not self._cap.grab():
                self._cap.release()
                self._cap = None
                self.problem = f"{self.label} stopped delivering frames: opened again every {REOPEN_S:g} s"
                continue
            done, arrived = time.monotonic(), time.time()
            ok, pixels = self._cap.retrieve()
            if not ok or pixels is None:  # a frame the driver could not decode: the next one begins after it anyway
                began, first = done, False
                continue
            if self.compressed and not _is_jpeg(pixels):  # raw frames in another form: OpenCV decodes them again
                self.compressed = False
                self._cap.set(cv2.CAP_PROP_CONVERT_RGB, 1)
                began, first = done, False
                continue
            self._seq += 1
            frame = Frame(self._seq, began, done, arrived, pixels, first, self.compressed)
            with self._changed:
                if len(self._frames) == self._frames.maxlen:
                    self._dropped_began = self._frames[0].began
                self._frames.append(frame)
                self._changed.notify_all()
            began, first = done, False


def _hands_over_jpeg(cap) -> bool:
    """Switch a V4L2 camera sending MJPG to handing over its JPEG bytes undecoded (OpenCV's CONVERT_RGB off, which
    V4L2 answers with the driver's buffer as one row of bytes); False, and nothing changed, for any other backend
    or format, whose raw frames differ from one backend to the next."""
    import cv2

    try:
        backend, fourcc = cap.getBackendName(), int(cap.get(cv2.CAP_PROP_FOURCC))
    except (cv2.error, AttributeError, TypeError, ValueError):
        return False
    if backend != "V4L2" or fourcc != cv2.VideoWriter_fourcc(*"MJPG"):
        return False
    return bool(cap.set(cv2.CAP_PROP_CONVERT_RGB, 0))


def _is_jpeg(pixels: np.ndarray) -> bool:
    """One row (or column) of bytes that starts as a JPEG does (its SOI marker)."""
    return pixels.dtype == np.uint8 and pixels.size > 2 and pixels.ndim <= 2 and min(pixels.shape) == 1 \
        and pixels.flat[0] == 0xFF and pixels.flat[1] == 0xD8


__all__ = ["Frame", "FrameGone", "FrameGrabber", "KEEP_FRAMES", "REOPEN_S"]
