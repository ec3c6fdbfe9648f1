"""A live camera for the tests and benchmarks, as V4L2 shows one through OpenCV (no camera is attached to a test
machine): a frame exposed every FRAME_S whether or not anyone reads, BUFFERS of them held oldest first (new ones
dropped while they are full), grab() handing over the oldest; the scene in front of it changes when a part
arrives. Put in place of cv2.VideoCapture (monkeypatch), with BufferingCamera.scene set."""

from __future__ import annotations

import hashlib
import time
from collections import deque

import cv2
import numpy as np

from line_helpers import part

FRAME_S = 0.02  # the camera's frame time (50 frames a second)
BUFFERS = 4  # the driver's buffers (OpenCV's V4L2 backend asks for four)


class Scene:
    """What is in front of the lens: the part before (OK) until `arrives`, then the new part."""

    def __init__(self, before=None):
        """`before`: the part in view at the start (default: one of line_helpers' 64 px discs)."""
        before = part(1500) if before is None else before
        self.before, self.after, self.arrives = before, before, float("inf")
        self.exposed: dict[str, float] = {}  # sha256 of each frame handed over -> when it was exposed

    def part_arrives(self, image: np.ndarray, at: float) -> None:
        self.before, self.after, self.arrives = (self.after if at >= self.arrives else self.before), image, at

    def at(self, t: float, seq: int) -> np.ndarray:
        rgb = (self.after if t >= self.arrives else self.before).copy()
        rgb[0, 0, 0] = seq % 251  # every exposure differs from the one before (a frozen camera is an ERROR)
        self.exposed[hashlib.sha256(rgb.tobytes()).hexdigest()] = t
        return rgb


class BufferingCamera:
    """camera:N as V4L2 shows it through OpenCV: a frame exposed every FRAME_S whether or not anyone reads, BUFFERS
    of them held oldest first (new ones dropped while they are full); grab() hands over the oldest."""

    scene: Scene
    SIZES = ((640, 480), (1280, 720))  # the sizes it offers; a larger one asked gives the largest
    settings_log: list = []  # (property, value) of each set(), in order, every opening's
    backend = "FAKE"  # "V4L2": with MJPG and CONVERT_RGB off it hands over each frame's JPEG bytes as one row
    raw_frames = "jpeg"  # what it hands over raw: "jpeg", "bgr" (a backend that ignores CONVERT_RGB) or "garbled"

    def __init__(self, index):
        self._next, self._seq, self._queue, self._t = time.monotonic(), 0, deque(), None
        self._props = {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 50.0,
                       cv2.CAP_PROP_FOURCC: float(cv2.VideoWriter_fourcc(*"YUYV")), cv2.CAP_PROP_EXPOSURE: 156.0,
                       cv2.CAP_PROP_AUTO_EXPOSURE: 3.0, cv2.CAP_PROP_CONVERT_RGB: 1.0}  # no gain, focus, autofocus

    def set(self, prop, value):
        """As a UVC driver takes a setting: a size it does not offer is clamped to one it does, a control it does not
        have is refused."""
        BufferingCamera.settings_log.append((prop, value))
        if prop not in self._props:
            return False
        if prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
            axis = 0 if prop == cv2.CAP_PROP_FRAME_WIDTH else 1
            value = max((size[axis] for size in self.SIZES if size[axis] <= value), default=self.SIZES[0][axis])
        self._props[prop] = float(value)
        return True

    def get(self, prop):
        return self._props.get(prop, 0.0)

    def getBackendName(self):
        return BufferingCamera.backend

    def isOpened(self):
        return True

    def _expose_until(self, now: float) -> None:
        while self._next <= now:
            if len(self._queue) < BUFFERS:
                self._queue.append((self._next, self._seq))
            self._next += FRAME_S
            self._seq += 1

    def grab(self):
        self._expose_until(time.monotonic())
        if not self._queue:
            time.sleep(max(0.0, self._next - time.monotonic()))
            self._expose_until(time.monotonic())
        self._t = self._queue.popleft()
        return True

    def retrieve(self):
        bgr = np.ascontiguousarray(BufferingCamera.scene.at(*self._t)[..., ::-1])
        raw = self._props[cv2.CAP_PROP_CONVERT_RGB] == 0 and BufferingCamera.backend == "V4L2" and \
            self._props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
        if not raw or BufferingCamera.raw_frames == "bgr":
            return True, bgr
        jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].reshape(1, -1)
        if BufferingCamera.raw_frames == "garbled":  # its start marker, then noise on the cable
            jpeg = np.concatenate([jpeg[:, :2], np.full((1, 600), 0x5A, np.uint8)], axis=1)
        return True, jpeg

    def release(self):
        pass
