"""What the live camera's reading thread costs the CPU (inspector_line/camera_grabber.py), with a camera sending MJPG:
each frame decoded as it comes (OpenCV's V4L2 backend with CONVERT_RGB on, what the grabber did before) against the
frames held as the JPEG bytes the camera sent and decoded only when the run takes one (CONVERT_RGB off).

No camera is attached to a bench machine: a capture stands in for OpenCV's V4L2 one, handing over a frame every
1/FPS s, the same JPEG each time (encoded once, before the clock starts) as bytes or decoded with cv2.imdecode, as
the backend does. The process's CPU time while the main thread sleeps is the reading thread's. OpenCV on one thread.

Prints figures; never passes or fails on them.
    python bench/bench_grabber_cpu.py [--size 1920x1080] [--fps 30] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector_line import camera_grabber  # noqa: E402
from inspector_line.camera_grabber import FrameGrabber  # noqa: E402


class Mjpg:
    """A V4L2 camera sending MJPG at `fps`: its driver buffer as one row of bytes with CONVERT_RGB off, else
    decoded."""

    jpeg: np.ndarray
    fps: float

    def __init__(self, index):
        self.convert, self.next = 1, time.monotonic()

    def isOpened(self):
        return True

    def getBackendName(self):
        return "V4L2"

    def get(self, prop):
        return float(cv2.VideoWriter_fourcc(*"MJPG")) if prop == cv2.CAP_PROP_FOURCC else 0.0

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_CONVERT_RGB:
            self.convert = int(value)
            return True
        return False

    def grab(self):
        time.sleep(max(0.0, self.next - time.monotonic()))
        self.next += 1.0 / Mjpg.fps
        return True

    def retrieve(self):
        if self.convert:
            return True, cv2.imdecode(Mjpg.jpeg, cv2.IMREAD_COLOR)
        return True, Mjpg.jpeg.copy()  # the backend's memcpy of the driver's buffer

    def release(self):
        pass


def _measure(seconds: float, held_as_sent: bool) -> tuple[float, int, float]:
    """(CPU % of one core, frames read, ms for the run's rgb() of the frame it takes)."""
    if not held_as_sent:  # a backend that does not hand its bytes over: the grabber reads decoded frames
        original, camera_grabber._hands_over_jpeg = camera_grabber._hands_over_jpeg, lambda cap: False
    try:
        grabber = FrameGrabber(0, "camera:0")
        grabber.start()
        first = grabber.newer_than(-1, timeout=5)
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        last = grabber.newer_than(first.seq, timeout=5)
        grabber.stop()
    finally:
        if not held_as_sent:
            camera_grabber._hands_over_jpeg = original
    t = time.perf_counter()
    for _ in range(20):
        last.rgb()
    return 100 * cpu / wall, last.seq - first.seq, 1000 * (time.perf_counter() - t) / 20


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]  # smooth shading and noise: JPEG works as hard as on a camera's frame
    base = (128 + 60 * np.sin(xx / 97.0) * np.cos(yy / 71.0)).astype(np.float32)
    bgr = np.clip(np.stack([base, base * 0.9, base * 1.1], -1) + rng.normal(0, 6, (height, width, 3)), 0, 255) \
        .astype(np.uint8)
    Mjpg.jpeg, Mjpg.fps = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].reshape(1, -1), args.fps
    cv2.VideoCapture = Mjpg
    print(f"load before: {os.getloadavg()[0]:.2f}; {width} x {height} MJPG ({Mjpg.jpeg.size / 1024:.0f} KiB a "
          f"frame), {args.fps:g} frames a second, {args.seconds:g} s each")
    for name, held in (("decoded as they come (before)", False), ("held as sent, decoded when taken", True)):
        cpu, frames, taken_ms = _measure(args.seconds, held)
        print(f"{name}: reading thread {cpu:.1f} % of one core over {frames} frames; the run's rgb() of the "
              f"frame it takes {taken_ms:.2f} ms")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
