"""What a live camera's frames cost the run's CPU (inspector_line/camera_grabber.py reads every frame as it comes):
OpenCV's decode of one frame as a camera delivers it (MJPEG, or YUYV converted), which the grabber's thread pays for
every frame, and the RGB conversion and hash, which the run pays only for the frames it judges; the RGB conversion
by numpy's reversed copy (what the grabber did first) beside cv2.cvtColor. One thread, as the grabber's is.

Prints figures; never passes or fails on them.
    python bench/bench_frame_costs.py [--size 1920x1080] [--fps 30]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import cv2
import numpy as np


def _ms(fn, n: int = 50) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return 1000 * (time.perf_counter() - t) / n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--fps", type=float, default=30.0)
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cv2.setNumThreads(1)
    print(f"load before: {os.getloadavg()[0]:.2f}; {width} x {height}, {args.fps:g} frames a second, one thread")
    rng = np.random.default_rng(0)
    # A picture with a camera's texture (smooth shading and noise), so that JPEG works as hard as on a real frame.
    yy, xx = np.mgrid[0:height, 0:width]
    base = (128 + 60 * np.sin(xx / 97.0) * np.cos(yy / 71.0)).astype(np.float32)
    bgr = np.clip(np.stack([base, base * 0.9, base * 1.1], -1) + rng.normal(0, 6, (height, width, 3)), 0, 255) \
        .astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    yuyv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_YUYV) if hasattr(cv2, "COLOR_BGR2YUV_YUYV") else \
        rng.integers(0, 255, (height, width, 2), dtype=np.uint8)
    every_frame = {"MJPEG decode": _ms(lambda: cv2.imdecode(jpg, cv2.IMREAD_COLOR)),
                   "YUYV to BGR": _ms(lambda: cv2.cvtColor(yuyv, cv2.COLOR_YUV2BGR_YUYV))}
    judged = {"BGR to RGB, cv2.cvtColor": _ms(lambda: cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)),
              "BGR to RGB, numpy reversed copy": _ms(lambda: np.ascontiguousarray(bgr[..., ::-1])),
              "sha256 of the pixels": _ms(lambda: hashlib.sha256(bgr.tobytes()).hexdigest())}
    for name, ms in every_frame.items():
        print(f"every frame, {name}: {ms:.2f} ms = {ms * args.fps / 10:.0f} % of one core at {args.fps:g} fps")
    for name, ms in judged.items():
        print(f"each judged frame, {name}: {ms:.2f} ms")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
